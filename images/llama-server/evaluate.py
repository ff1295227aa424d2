"""Evaluate a GGUF language model with llama.cpp's own llama-perplexity: the perplexity of the
model in $MODEL_DIR on heldout.txt, the text its trainer held out and published beside it.
Writes {"perplexity": ..., "chunks": ...} to $METRICS_PATH (the evaluation Job's termination
message, which the operator reads into status.evaluation and its gates). CONTEXT: the window
llama-perplexity scores in (default 128, the trainer's; the text must hold two of them)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from serve import model_file, threads


def main() -> None:
    folder = Path(os.environ.get("MODEL_DIR", "/mnt/models"))
    text = folder / "heldout.txt"
    if not text.is_file():
        sys.exit(f"evaluate: no heldout.txt beside the model in {folder}")
    out = subprocess.run(
        ["/usr/local/bin/llama-perplexity", "--model", str(model_file(folder)),
         "--file", str(text), "--ctx-size", os.environ.get("CONTEXT", "128"),
         "--threads", str(threads())], capture_output=True, text=True)
    found = re.search(r"Final estimate: PPL = ([0-9.]+)", out.stdout + out.stderr)
    if out.returncode != 0 or not found:
        sys.exit("evaluate: llama-perplexity failed: " + (out.stderr or out.stdout)[-1500:])
    chunks = re.search(r"calculating perplexity over (\d+) chunks", out.stdout + out.stderr)
    metrics = {"perplexity": round(float(found.group(1)), 3)}
    if chunks:
        metrics["chunks"] = int(chunks.group(1))
    print(json.dumps(metrics), flush=True)
    Path(os.environ.get("METRICS_PATH", "/dev/termination-log")).write_text(json.dumps(metrics))


if __name__ == "__main__":
    main()
