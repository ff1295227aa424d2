"""Evaluate the model in $MODEL_DIR on the labelled rows in $DATA_DIR (spec.evaluation.data),
or else on the iris data held out from training (the same split as train.py uses), and write
{"accuracy": ...} to $METRICS_PATH, the evaluation Job's termination message, which the
operator reads into the ModelVersion's status and its gates."""

from __future__ import annotations

import json
import os
from pathlib import Path

import joblib
import numpy as np
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split


def held_out() -> tuple[np.ndarray, np.ndarray]:
    """Every *.csv in $DATA_DIR (spec.evaluation.data, fetched when the run starts: a header,
    four measurements and the species per row); without it, the 30% of scikit-learn's iris
    that training holds out."""
    if data_dir := os.environ.get("DATA_DIR"):
        files = sorted(Path(data_dir).rglob("*.csv"))
        if not files:
            raise SystemExit(f"no *.csv under DATA_DIR={data_dir}")
        rows = np.concatenate([np.loadtxt(f, delimiter=",", skiprows=1, ndmin=2) for f in files])
        return rows[:, :4], rows[:, 4].astype(np.int64)
    x, y = load_iris(return_X_y=True)
    _, x_test, _, y_test = train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)
    return x_test, y_test


def main() -> None:
    model_dir = Path(os.environ.get("MODEL_DIR", "/mnt/models"))
    files = [p for p in model_dir.rglob("*") if p.is_file()]
    if len(files) != 1:
        raise SystemExit(f"expected one model file in {model_dir}, found {files}")
    model = joblib.load(files[0])
    x_test, y_test = held_out()
    metrics = {"accuracy": round(float(model.score(x_test, y_test)), 4),
               "samples": len(y_test)}
    print(json.dumps(metrics), flush=True)
    Path(os.environ.get("METRICS_PATH", "/dev/termination-log")).write_text(json.dumps(metrics))


if __name__ == "__main__":
    main()
