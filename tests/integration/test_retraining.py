"""Retraining on a regression, on the local cluster (kwok runs the training and evaluation
pods): the serving version regresses, traffic goes back, one next version is made from the
template, trains, passes its gates, and autoUpdate rolls it out. The operator is the one users
install (Helm, its image, its pod on the real node): creating a ModelVersion takes only the
chart's RBAC."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from modelops.api.conditions import parse_time
from tests.support.emitter import Emitter
from tests.support.kube import Kube
from tests.support.manifests import model_version, served
from tests.support.prometheus import Prometheus
from tests.support.rollout import ERROR_RATE, Model
from tests.support.shipped import ShippedOperator
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.real_node]
Emit = Callable[..., Emitter]
EVAL = {"image": "ghcr.io/acme/eval:1", "command": ["python", "eval.py"],
        "gates": [{"metric": "accuracy", "min": 0.9}],
        "podAnnotations": {"modelops.io/kwok-termination-message": '{"accuracy": 0.95}'}}


@pytest.fixture
def operator(shipped_operator: ShippedOperator) -> ShippedOperator:
    return shipped_operator


def test_a_regression_retrains_once_and_the_new_version_is_rolled_out(
        kube: Kube, operator: ShippedOperator, prometheus: Prometheus, emitters: Emit,
        namespace: str) -> None:
    m = Model(kube, namespace)
    kube.create(namespace, served("m-v1", "m", "1"))
    emitters("m", "1")
    m.policy(replicas=2, autoUpdate={"enabled": True}, strategy={"canary": {"steps": []}},
             monitoring={"interval": "2s", "failureThreshold": 2, "action": "Rollback",
                         "prometheus": {"address": operator.reach(
                             namespace, "prometheus", prometheus.port)},
                         "metrics": [{"name": "error-rate", "query": ERROR_RATE,
                                      "max": 0.05}]},
             retraining={"template": "m-v2", "minInterval": "1h"})
    m.wait("1 stable", timeout=60, stableVersion="1", phase="Promoted")
    v2 = emitters("m", "2")
    kube.create(namespace, model_version(
        "m-v2", "m", "2", artifact=None, serving={"image": "srv"}, evaluation=EVAL,
        training={"image": "ghcr.io/acme/trainer:1", "command": ["python", "train.py"],
                  "outputURI": "s3://models/m/2/", "nodes": 1, "gpusPerNode": 0}))
    m.wait("2 trained and rolled out by autoUpdate", timeout=120, stableVersion="2",
           phase="Promoted")
    wait_for(lambda: m.status()["monitoring"].get("phase") == "Healthy", timeout=60,
             what="2 healthy")
    v2.set(error_rate=0.5)
    st = m.wait("rolled back", timeout=60, stableVersion="1")
    [run] = st["retraining"]["runs"]
    assert run["reason"] == "Regression" and "2 regressed" in run["message"]
    emitters("m", run["version"])  # its pods' metrics, healthy
    mv = wait_for(lambda: kube.get_mv(namespace, run["name"]), timeout=30,
                  what="the retrained ModelVersion")
    assert mv["spec"]["training"]["outputURI"] == f"s3://models/m/{run['version']}/"
    assert mv["metadata"]["ownerReferences"][0]["kind"] == "UpdatePolicy"
    assert mv["metadata"]["labels"]["modelops.io/retrained-by"] == "m"
    st = m.wait("the retrained version rolled out", timeout=180,
                stableVersion=run["version"], phase="Promoted")
    assert "hold" not in st  # autoUpdate's new target ended the hold on 1
    [run] = st["retraining"]["runs"]
    assert run["outcome"] == "Succeeded", run
    mv = kube.get_mv(namespace, run["name"]) or {}
    assert mv["status"]["evaluation"]["metrics"] == {"accuracy": 0.95}
    events = kube.core.list_namespaced_event(namespace, field_selector="involvedObject.name=m")
    reasons = [e.reason for e in events.items]
    assert reasons.count("RetrainingStarted") == 1 and "RetrainingSucceeded" in reasons


def test_a_schedule_retrains_on_time_once_per_time(
        kube: Kube, operator: ShippedOperator, namespace: str) -> None:
    m = Model(kube, namespace)
    kube.create(namespace, served("m-v1", "m", "1"))
    kube.create(namespace, model_version(
        "m-v2", "m", "2", artifact=None, serving={"image": "srv"},
        training={"image": "ghcr.io/acme/trainer:1", "command": ["python", "train.py"],
                  "outputURI": "s3://models/m/2/", "nodes": 1, "gpusPerNode": 0}))
    m.policy(targetVersion="1", replicas=1,
             retraining={"template": "m-v2", "schedule": "@every 15s", "minInterval": "1s"})
    m.wait("1 stable", timeout=60, stableVersion="1")
    runs = wait_for(lambda: len(r := (m.status().get("retraining") or {}).get("runs") or [])
                    >= 2 and r, timeout=120, what="two scheduled retrainings")
    assert all(r["reason"] == "Schedule" and "@every 15s" in r["message"] for r in runs)
    assert runs[1]["outcome"] == "Succeeded", runs  # trained (kwok) and Ready before the next
    starts = [parse_time(r["startTime"]) for r in runs]
    assert (starts[0] - starts[1]).total_seconds() >= 15
    assert m.status()["stableVersion"] == "1"  # a pinned target: the new versions wait
    for r in runs:  # the newest is made just after its run is in status
        wait_for(lambda: kube.get_mv(namespace, r["name"]), timeout=15,  # noqa: B023
                 what=f"{r['name']} made")
