"""The example model server: the model in $MODEL_DIR behind KServe's model server.

Open Inference Protocol v2 on $PORT (8080): /v2/health/ready, /v2/models/{model}/infer with
4 numbers in and the iris class out. The model is named $MODELOPS_MODEL and answers with
model_version $MODELOPS_VERSION (the operator sets both). /metrics has KServe's own metrics
and http_requests_total{code,handler}; MODELOPS_EXAMPLE_ERROR_RATE (0 to 1) makes that share
of infer requests fail with a 500, so canary analysis has something real to catch;
MODELOPS_EXAMPLE_ERROR_AFTER (seconds) holds the failures back that long after the model
loaded: a version that serves well, then degrades (what monitoring catches);
MODELOPS_EXAMPLE_LATENCY (seconds) makes each answer take that long, for load tests, and
MODELOPS_EXAMPLE_WORK_MS that many milliseconds of CPU (a heavier model's compute);
MODELOPS_EXAMPLE_DISAGREE (0 to 1) answers that share of inputs with another class (which
ones is decided by the input itself, so a version disagrees with the model on the same inputs
every time: what shadow comparison catches); http_requests_in_flight counts the inference
requests being answered (what autoscaling follows).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from fastapi import Request, Response
from kserve import InferOutput, InferRequest, InferResponse, Model, ModelServer
from kserve.errors import InferenceError
from kserve.model_server import app
from prometheus_client import Counter, Gauge

log = logging.getLogger("modelops.example")
REQUESTS = Counter("http_requests", "HTTP requests answered, by status code and handler",
                   ["code", "handler"])
# What an autoscaler follows (spec.autoscaling's requests-in-flight template).
IN_FLIGHT = Gauge("http_requests_in_flight", "Inference requests being answered now")


def handler(path: str) -> str:
    if path.endswith("/infer"):
        return "infer"
    for name in ("ready", "live", "metrics", "healthz"):
        if path.endswith(name):
            return name
    return "other"


@app.middleware("http")
async def count(request: Request, call_next: Any) -> Response:
    if handler(request.url.path) == "infer":
        with IN_FLIGHT.track_inprogress():
            response = await call_next(request)
    else:
        response = await call_next(request)
    REQUESTS.labels(code=str(response.status_code), handler=handler(request.url.path)).inc()
    return response


class Iris(Model):
    def __init__(self, name: str, version: str, model_dir: Path, error_rate: float,
                 error_after: float = 0.0, latency: float = 0.0, work_ms: float = 0.0,
                 disagree: float = 0.0) -> None:
        super().__init__(name)
        self.version = version
        self.model_dir = model_dir
        self.error_rate, self.error_after = error_rate, error_after
        # A heavier model's answer time, for load tests: requests then overlap in a pod as
        # they would on a real model (the wait does not block the others).
        self.latency, self.work_ms = latency, work_ms
        self.disagree = disagree
        self.model: Any = None
        self.loaded = 0.0

    def load(self) -> bool:
        files = sorted(p for p in self.model_dir.rglob("*") if p.is_file()
                       and not p.name.startswith("."))
        if len(files) != 1:
            raise SystemExit(f"expected exactly one model file in {self.model_dir}, found "
                             f"{[str(f) for f in files]}")
        try:
            self.model = joblib.load(files[0])
            self.model.predict(np.zeros((1, 4)))
        except Exception as e:  # any unloadable file: say which and why, then exit non-zero
            raise SystemExit(f"cannot load {files[0]} as a scikit-learn model: {e}") from e
        log.info("loaded %s (version %s) from %s", self.name, self.version, files[0])
        self.ready = True
        self.loaded = time.monotonic()
        return True

    async def predict(self, payload: InferRequest, headers: dict[str, str] | None = None,
                      response_headers: dict[str, str] | None = None) -> InferResponse:
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.work_ms:  # the event loop's own time, as a model's forward pass would take
            until = time.process_time() + self.work_ms / 1000
            while time.process_time() < until:
                pass
        failing = time.monotonic() - self.loaded >= self.error_after
        if failing and random.random() < self.error_rate:
            raise InferenceError("injected failure (MODELOPS_EXAMPLE_ERROR_RATE)")
        x = np.asarray(payload.inputs[0].as_numpy(), dtype=np.float32).reshape(-1, 4)
        classes = self.model.predict(x).astype(np.int64)
        if self.disagree:
            for i, row in enumerate(x):
                if disagrees(row, self.disagree):
                    classes[i] = (classes[i] + 1) % 3
        out = InferOutput(name="output-0", shape=list(classes.shape), datatype="INT64",
                          data=classes.tolist())
        return InferResponse(response_id=payload.id or "", model_name=self.name,
                             model_version=self.version, infer_outputs=[out])


def disagrees(row: Any, share: float) -> bool:
    """Whether this input is one of the `share` the version answers differently."""
    digest = hashlib.sha256(np.asarray(row, dtype=np.float32).tobytes()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


@app.get("/healthz")
async def healthz() -> Response:
    return Response(status_code=200 if model.ready else 503)


model = Iris(os.environ.get("MODELOPS_MODEL") or os.environ.get("MODEL_NAME") or "iris",
             os.environ.get("MODELOPS_VERSION") or os.environ.get("MODEL_VERSION") or "",
             Path(os.environ.get("MODEL_DIR", "/mnt/models")),
             float(os.environ.get("MODELOPS_EXAMPLE_ERROR_RATE") or 0),
             float(os.environ.get("MODELOPS_EXAMPLE_ERROR_AFTER") or 0),
             float(os.environ.get("MODELOPS_EXAMPLE_LATENCY") or 0),
             float(os.environ.get("MODELOPS_EXAMPLE_WORK_MS") or 0),
             float(os.environ.get("MODELOPS_EXAMPLE_DISAGREE") or 0))

if __name__ == "__main__":
    if not 0 <= model.error_rate <= 1:
        sys.exit(f"MODELOPS_EXAMPLE_ERROR_RATE must be within 0 and 1, not {model.error_rate}")
    if not 0 <= model.disagree <= 1:
        sys.exit(f"MODELOPS_EXAMPLE_DISAGREE must be within 0 and 1, not {model.disagree}")
    model.load()
    ModelServer(http_port=int(os.environ.get("PORT", "8080")), enable_grpc=False,
                workers=1).start([model])
