"""Evaluate the model in $MODEL_DIR on the iris data held out from training (the same split as
train.py uses) and write {"accuracy": ...} to $METRICS_PATH, the evaluation Job's termination
message, which the operator reads into the ModelVersion's status and its gates."""

from __future__ import annotations

import json
import os
from pathlib import Path

import joblib
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split


def main() -> None:
    model_dir = Path(os.environ.get("MODEL_DIR", "/mnt/models"))
    files = [p for p in model_dir.rglob("*") if p.is_file()]
    if len(files) != 1:
        raise SystemExit(f"expected one model file in {model_dir}, found {files}")
    model = joblib.load(files[0])
    x, y = load_iris(return_X_y=True)
    _, x_test, _, y_test = train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)
    metrics = {"accuracy": round(float(model.score(x_test, y_test)), 4),
               "samples": len(y_test)}
    print(json.dumps(metrics), flush=True)
    Path(os.environ.get("METRICS_PATH", "/dev/termination-log")).write_text(json.dumps(metrics))


if __name__ == "__main__":
    main()
