"""Train the example model: logistic regression on the iris data that scikit-learn ships.

Usage: train.py OUT_DIR. Writes OUT_DIR/model.joblib (the only file) and prints its accuracy
on a held-out split, so the build log says the model is real.
"""

from __future__ import annotations

import sys
from pathlib import Path

import joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split


def main(out: Path) -> None:
    x, y = load_iris(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=0,
                                                        stratify=y)
    model = LogisticRegression(max_iter=500).fit(x_train, y_train)
    out.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, out / "model.joblib")
    print(f"iris: held-out accuracy {model.score(x_test, y_test):.3f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
