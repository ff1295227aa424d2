"""The closed loop on the real node (tests/integration/test_real_loop.py, bench/loop.py): the
iris model trained by a two-pod gang on labelled data in S3, evaluated on schedule on held-out
data there; the world drifts (examples/iris/data.py), and the loop is left to itself. Here:
the data, the template version, the policy, and the loop's phases read back from status."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from modelops.api.conditions import parse_time
from tests.support import modules, node
from tests.support.kube import Kube
from tests.support.manifests import model_version
from tests.support.rollout import Model

TRAINER = "localhost/modelops/trainer:dev"
FLOOR = 0.85  # the evaluation gate: accuracy on the held-out data


def worlds() -> ModuleType:
    """examples/iris/data.py: labelled rows of the world before the drift and after it."""
    return modules.load("examples/iris/data.py", "iris_data")


def put_world(ns: str, world: str) -> tuple[str, str]:
    """The labelled data of `world` in S3 (training's and evaluation's prefixes): their
    digests as the fetcher computes them (one file: its sha256)."""
    w = worlds()
    train = w.csv(world, 300, 1 if world == "before" else 2)
    held = w.csv(world, 150, 3 if world == "before" else 4)
    node.s3_put("data", f"{ns}/train/iris.csv", train)
    node.s3_put("data", f"{ns}/eval/iris.csv", held)
    return ("sha256:" + hashlib.sha256(train).hexdigest(),
            "sha256:" + hashlib.sha256(held).hexdigest())


def setup(kube: Kube, ns: str) -> tuple[str, str]:
    """Buckets, the world before the drift, and the credentials Secret `s3-creds`."""
    node.s3_bucket("models")
    node.s3_bucket("data")
    digests = put_world(ns, "before")
    kube.kubectl("create", "secret", "generic", "s3-creds", "-n", ns,
                 *[f"--from-literal={k}={v}" for k, v in node.s3_env().items()])
    return digests


def template(ns: str, every: str = "15s") -> dict[str, Any]:
    """Version 1, and the template retraining copies: trained on s3://data/NS/train/,
    evaluated on s3://data/NS/eval/ before it serves and every `every` while it serves."""
    placement = node.on_real_node()
    return model_version(
        "iris-1", "iris", "1", artifact=None,
        training={"image": TRAINER, "command": ["python3", "/opt/modelops/train.py"],
                  "nodes": 2, "gpusPerNode": 0, "backend": "gloo", "maxRestarts": 1,
                  "data": {"uri": f"s3://data/{ns}/train/"},
                  "outputURI": f"s3://models/{ns}/iris/1", "credentialsSecret": "s3-creds",
                  "env": [{"name": "EPOCHS", "value": "40"}],
                  "resources": {"cpu": "250m", "memory": "1Gi"}, **placement},
        evaluation={"image": node.EXAMPLE_IMAGE,
                    "command": ["python3", "/opt/modelops/evaluate.py"],
                    "data": {"uri": f"s3://data/{ns}/eval/"}, "schedule": f"@every {every}",
                    "gates": [{"metric": "accuracy", "min": FLOOR}],
                    "resources": {"cpu": "100m", "memory": "256Mi"}, **placement},
        serving={"image": node.EXAMPLE_IMAGE, "port": 8080, "readinessPath": "/v2/health/ready",
                 "resources": {"memory": "256Mi"}, **placement})


def policy(m: Model, replicas: int, prometheus: str, receiver: str | None) -> None:
    """autoUpdate, a canary judged on the error rate, monitoring that takes a failed scheduled
    evaluation as a regression (and only tells), retraining from iris-1."""
    m.policy(replicas=replicas, autoUpdate={"enabled": True},
             service={"name": "iris", "port": 80},
             strategy={"canary": {"steps": [{"setWeight": 50},
                                            {"pause": {"duration": "10s"}}]}},
             analysis={"interval": "5s", "failureLimit": 0, "inconclusiveLimit": 20,
                       "prometheus": {"address": prometheus},
                       "metrics": [{"name": "errors", "template": "error-rate",
                                    "window": "20s", "max": 0.05}]},
             monitoring={"interval": "5s", "action": "Notify"},
             retraining={"template": "iris-1", "minInterval": "1h"},
             **({"notifications": [{"receiver": receiver}]} if receiver else {}))


def mv_status(kube: Kube, ns: str, name: str) -> dict[str, Any]:
    return dict((kube.get_mv(ns, name) or {}).get("status") or {})


def first_failed(kube: Kube, ns: str) -> dict[str, Any]:
    """The first scheduled run of iris-1 that failed its gate: the one that read the drifted
    data (it fails again at each run after it while it serves)."""
    return min((r for r in mv_status(kube, ns, "iris-1")["evaluation"]["runs"]
                if r.get("passed") is False), key=lambda r: int(r["run"]))


@dataclass(frozen=True)
class Phases:
    """Seconds each phase of the loop took, from the times the resources' status recorded
    (whole seconds) and the drift's own time."""

    evaluation: float  # the drift → the scheduled run that read it ended (waiting for its turn)
    detection: float  # that run ended → retraining started (monitoring's regression)
    training: float  # retraining started → the new version trained (the gang, on new data)
    gate: float  # trained → its evaluation gate passed
    canary: float  # gate passed → promoted (the canary's steps and analysis)

    @property
    def total(self) -> float:
        return self.evaluation + self.detection + self.training + self.gate + self.canary


def _cond_time(mv: dict[str, Any], type_: str) -> float:
    c = next(c for c in mv["status"]["conditions"] if c["type"] == type_)
    return parse_time(c["lastTransitionTime"]).timestamp()


def phases(kube: Kube, ns: str, drift: float, up: dict[str, Any]) -> Phases:
    """From the status of iris-1 (the failed run), of the policy (the retraining run, the
    promotion) and of the new version."""
    run = up["status"]["retraining"]["runs"][0]
    failed = first_failed(kube, ns)
    new = kube.get_mv(ns, run["name"]) or {}
    ended = parse_time(failed["endTime"]).timestamp()
    started = parse_time(run["startTime"]).timestamp()
    trained = parse_time(new["status"]["training"]["completionTime"]).timestamp()
    gated = _cond_time(new, "Evaluated")
    promoted = parse_time(next(h for h in up["status"]["history"]
                               if h["version"] == run["version"])["endTime"]).timestamp()
    return Phases(round(ended - drift, 1), started - ended, trained - started,
                  gated - trained, promoted - gated)
