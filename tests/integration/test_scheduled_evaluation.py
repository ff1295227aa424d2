"""Scheduled evaluation on the local cluster (kwok runs the evaluation pods): a serving
version is evaluated again and again, its history and the operator's gauges (scraped by a
real Prometheus) show every run, and a run that fails its gates makes the policy roll back."""

from __future__ import annotations

import json

import pytest

from tests.support.kube import Kube
from tests.support.manifests import model_version, served
from tests.support.operator import OperatorProcess
from tests.support.prometheus import Prometheus
from tests.support.rollout import Model
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration
OUTPUT = "modelops.io/kwok-termination-message"


def finished(kube: Kube, ns: str, name: str) -> list[dict[str, object]]:
    ev = ((kube.get_mv(ns, name) or {}).get("status") or {}).get("evaluation") or {}
    return [r for r in ev.get("runs") or [] if r.get("endTime")]


def test_a_serving_version_is_evaluated_on_schedule_and_a_failed_run_rolls_it_back(
        kube: Kube, operator: OperatorProcess, prometheus: Prometheus, namespace: str) -> None:
    prometheus.add_target(operator.metrics_port)  # the operator's own gauges
    m = Model(kube, namespace)
    kube.create(namespace, served("m-v1", "m", "1"))
    kube.create(namespace, model_version("m-v2", "m", "2", serving={"image": "srv"}, evaluation={
        "image": "ghcr.io/acme/eval:1", "command": ["python", "eval.py"],
        "schedule": "@every 4s", "gates": [{"metric": "accuracy", "min": 0.9}],
        "podAnnotations": {OUTPUT: '{"accuracy": 0.95}'}}))
    m.policy(targetVersion="1", replicas=2, strategy={"canary": {"steps": []}},
             monitoring={"action": "Rollback"})
    m.wait("1 stable", timeout=60, stableVersion="1")
    m.patch({"targetVersion": "2"})
    m.wait("2 promoted", timeout=60, stableVersion="2", phase="Promoted")
    runs = wait_for(lambda: len(r := finished(kube, namespace, "m-v2")) >= 2 and r,
                    timeout=90, what="two scheduled runs")
    assert [r["run"] for r in runs[:2]] == [runs[0]["run"], runs[0]["run"] - 1]  # type: ignore[operator]
    assert all(r["passed"] is True and r["metrics"] == {"accuracy": 0.95} for r in runs)
    sel = f'namespace="{namespace}",model="m",version="2"'
    wait_for(lambda: (r := prometheus.query(f"max_over_time(modelops_evaluation_run{{{sel}}}"
                                            "[5m])")) and float(r[0]["value"][1]) >= 2,
             timeout=60, what="the gauges scraped after two runs")
    low = prometheus.query(f"min_over_time(modelops_evaluation_run{{{sel}}}[5m])")
    assert float(low[0]["value"][1]) <= 1  # the series holds the runs one after the other
    acc = prometheus.query(f'modelops_evaluation_metric{{{sel},metric="accuracy"}}')
    assert float(acc[0]["value"][1]) == 0.95
    assert m.status()["stableVersion"] == "2"  # passing runs change nothing
    # Fresh data that the model no longer fits: the next run fails its gates.
    patch = {"spec": {"evaluation": {"podAnnotations": {OUTPUT: '{"accuracy": 0.6}'}}}}
    kube.kubectl("patch", "mv", "m-v2", "-n", namespace, "--type", "merge", "-p",
                 json.dumps(patch))
    st = m.wait("rolled back by the failed evaluation", timeout=90, stableVersion="1")
    reg = st["monitoring"]["lastRegression"]
    assert reg["version"] == "2" and "scheduled evaluation failed" in reg["message"]
    assert "accuracy=0.6 is below min 0.9" in reg["message"]
    assert st["hold"]["reason"] == "MonitoringRegression"
    mv = kube.get_mv(namespace, "m-v2") or {}
    assert mv["status"]["phase"] == "Ready"  # a failed run leaves the version itself be
    assert finished(kube, namespace, "m-v2")[0]["passed"] is False
