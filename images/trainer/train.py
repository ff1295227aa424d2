"""Train the iris classifier with PyTorch across a torchrun gang (gloo or nccl).

Every rank trains a linear model on its shard of the iris data scikit-learn ships (or of the
labelled rows in $DATA_DIR, where spec.training.data put them), with
DistributedDataParallel; rank 0 writes a checkpoint to $CHECKPOINT_DIR after each epoch, and
every rank resumes from it at start, so a gang restarted after losing a pod goes on where it
stopped. At the end rank 0 exports the weights as a scikit-learn LogisticRegression (what the
example model server loads) to $OUTPUT_URI (s3://bucket/prefix/model.joblib; credentials and
endpoint from AWS_* variables) or a local folder. EPOCHS (default 30) and EPOCH_SECONDS (a
pause per epoch, default 0) let a test kill a pod mid-run.
"""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import joblib
import numpy as np
import torch
import torch.distributed as dist
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from torch.nn.parallel import DistributedDataParallel


def log(msg: str) -> None:
    print(f"[rank {os.environ.get('RANK', '0')}] {msg}", flush=True)


def export(model: torch.nn.Linear, mean: np.ndarray, std: np.ndarray) -> LogisticRegression:
    """The trained weights as a fitted scikit-learn model on raw (unscaled) inputs."""
    w = model.weight.detach().numpy().astype(np.float64) / std
    b = model.bias.detach().numpy().astype(np.float64) - w @ mean
    clf = LogisticRegression()
    clf.classes_ = np.arange(3)
    clf.coef_, clf.intercept_ = w, b
    clf.n_features_in_, clf.n_iter_ = 4, np.array([0])
    return clf


def upload(data: bytes, uri: str) -> None:
    if uri.startswith("s3://"):
        import boto3

        bucket, _, prefix = uri[5:].partition("/")
        key = prefix.rstrip("/") + "/model.joblib" if prefix else "model.joblib"
        boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL")).put_object(
            Bucket=bucket, Key=key, Body=data)
    else:
        out = Path(uri.removeprefix("file://"))
        out.mkdir(parents=True, exist_ok=True)
        (out / "model.joblib").write_bytes(data)


def labelled() -> tuple[np.ndarray, np.ndarray]:
    """Every *.csv in $DATA_DIR (spec.training.data: a header, four measurements and the
    species per row); without it, the 70% of scikit-learn's iris that the evaluation (the
    example server's evaluate.py) does not hold out."""
    if data_dir := os.environ.get("DATA_DIR"):
        files = sorted(Path(data_dir).rglob("*.csv"))
        if not files:
            raise SystemExit(f"no *.csv under DATA_DIR={data_dir}")
        rows = np.concatenate([np.loadtxt(f, delimiter=",", skiprows=1, ndmin=2) for f in files])
        log(f"training on {len(rows)} rows from {len(files)} file(s) of {os.environ['DATA_URI']}")
        return rows[:, :4], rows[:, 4].astype(np.int64)
    x, y = load_iris(return_X_y=True)
    x, _, y, _ = train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)
    return x, y


def main() -> None:
    dist.init_process_group(os.environ.get("DIST_BACKEND", "gloo"))
    rank, world = dist.get_rank(), dist.get_world_size()
    log(f"joined a gang of {world} through {os.environ.get('MASTER_ADDR')}")
    x, y = labelled()
    mean, std = x.mean(axis=0), x.std(axis=0)
    xs = torch.tensor((x - mean) / std, dtype=torch.float32)[rank::world]
    ys = torch.tensor(y)[rank::world]
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    ddp = DistributedDataParallel(model)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.5)
    ckpt_dir = Path(os.environ.get("CHECKPOINT_DIR", "/tmp/checkpoints"))
    ckpt = ckpt_dir / "iris.pt"
    start = 0
    if ckpt.exists():
        state = torch.load(ckpt)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        start = state["epoch"] + 1
        log(f"resumed from the checkpoint of epoch {state['epoch']}")
    epochs, pause = int(os.environ.get("EPOCHS", "30")), float(os.environ.get("EPOCH_SECONDS", 0))
    for epoch in range(start, epochs):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(ddp(xs), ys)
        loss.backward()
        opt.step()
        if rank == 0:
            ckpt_dir.mkdir(parents=True, exist_ok=True)
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "epoch": epoch},
                       ckpt.with_suffix(".tmp"))
            ckpt.with_suffix(".tmp").replace(ckpt)  # a kill never leaves half a checkpoint
            log(f"epoch {epoch} loss {loss.item():.4f}")
        time.sleep(pause)
    dist.barrier()
    if rank == 0:
        buf = io.BytesIO()
        joblib.dump(export(model, mean, std), buf)
        upload(buf.getvalue(), os.environ["OUTPUT_URI"])
        log(f"trained {epochs} epochs; model written to {os.environ['OUTPUT_URI']}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
