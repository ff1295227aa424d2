"""Entrypoint of the `llamacpp` runtime: llama-server on the one GGUF file under $MODEL_DIR,
with as many threads as the container's CPU limit allows (llama.cpp would start one per host
core, and under a CPU quota those spin and get throttled). Arguments are passed on; a --model or
--threads given there wins."""

from __future__ import annotations

import os
import sys
from pathlib import Path

SERVER = "/usr/local/bin/llama-server"


def threads() -> int:
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            return max(1, int(quota) // int(period))
    except (OSError, ValueError):
        pass
    return max(1, len(os.sched_getaffinity(0)))


def model_file(folder: Path) -> Path:
    files = sorted(p for p in folder.rglob("*.gguf") if p.is_file())
    if len(files) != 1:
        # The last line of a failed container is its termination message (the version's
        # condition says it).
        sys.exit(f"llamacpp: expected one .gguf file under {folder}, found "
                 f"{[str(p) for p in files] or 'none'}")
    return files[0]


def main() -> None:
    args = sys.argv[1:]
    extra: list[str] = []
    if not {"--model", "-m"} & set(args):
        extra += ["--model", str(model_file(Path(os.environ.get("MODEL_DIR", "/mnt/models"))))]
    if not {"--threads", "-t"} & set(args):
        extra += ["--threads", str(threads())]
    os.execv(SERVER, [SERVER, *extra, *args])


if __name__ == "__main__":
    main()
