"""Evaluate a GGUF language model with llama.cpp's own llama-perplexity: the perplexity of the
model in $MODEL_DIR on heldout.txt, the text its trainer held out and published beside it.
Writes {"perplexity": ..., "chunks": ...} to $METRICS_PATH (the evaluation Job's termination
message, which the operator reads into status.evaluation and its gates). CONTEXT: the window
llama-perplexity scores in (default: the context length the model was trained with, from the
GGUF's metadata; the text must hold two windows)."""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any, BinaryIO

sys.path.insert(0, str(Path(__file__).parent))
from serve import model_file, threads

# GGUF value types (ggml's gguf.h): struct formats of the scalars; 8 is a string, 9 an array.
SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
           10: "<Q", 11: "<q", 12: "<d"}


def _value(f: BinaryIO, kind: int) -> Any:
    if kind == 8:
        (n,) = struct.unpack("<Q", f.read(8))
        return f.read(n).decode("utf-8", "replace")
    if kind == 9:
        item, count = struct.unpack("<IQ", f.read(12))
        return [_value(f, item) for _ in range(count)]
    fmt = SCALARS[kind]
    return struct.unpack(fmt, f.read(struct.calcsize(fmt)))[0]


def metadata(path: Path) -> dict[str, Any]:
    """The key-value metadata at the head of a GGUF file."""
    with path.open("rb") as f:
        if f.read(4) != b"GGUF":
            sys.exit(f"evaluate: {path} is not a GGUF file")
        _version, _tensors, count = struct.unpack("<IQQ", f.read(20))
        out = {}
        for _ in range(count):
            key = _value(f, 8)
            (kind,) = struct.unpack("<I", f.read(4))
            out[key] = _value(f, kind)
        return out


def main() -> None:
    folder = Path(os.environ.get("MODEL_DIR", "/mnt/models"))
    text = folder / "heldout.txt"
    if not text.is_file():
        sys.exit(f"evaluate: no heldout.txt beside the model in {folder}")
    model = model_file(folder)
    meta = metadata(model)
    context = os.environ.get("CONTEXT") or str(
        meta.get(f"{meta.get('general.architecture')}.context_length", 512))
    out = subprocess.run(
        ["/usr/local/bin/llama-perplexity", "--model", str(model), "--file", str(text),
         "--ctx-size", context, "--threads", str(threads())], capture_output=True, text=True)
    found = re.search(r"Final estimate: PPL = ([0-9.]+)", out.stdout + out.stderr)
    if out.returncode != 0 or not found:
        # Its per-chunk figures go to stdout, the rest to stderr: the tails of both.
        sys.exit(f"evaluate: llama-perplexity exited {out.returncode} without a final "
                 f"estimate: {out.stderr[-1200:]}\n(stdout) {out.stdout[-300:]}")
    chunks = re.search(r"calculating perplexity over (\d+) chunks", out.stdout + out.stderr)
    metrics = {"perplexity": round(float(found.group(1)), 3)}
    if chunks:
        metrics["chunks"] = int(chunks.group(1))
    print(json.dumps(metrics), flush=True)
    Path(os.environ.get("METRICS_PATH", "/dev/termination-log")).write_text(json.dumps(metrics))


if __name__ == "__main__":
    main()
