"""The operator's /metrics after real work: counters moved and state gauges tell the truth."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.kube import Kube
from tests.support.manifests import model_version
from tests.support.operator import OperatorProcess
from tests.support.rollout import Model
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


def samples(op: OperatorProcess) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(op.metrics()):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(op: OperatorProcess, name: str, **labels: str) -> float:
    return samples(op).get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_follow_rollouts_and_training(kube: Kube, operator: OperatorProcess,
                                              namespace: str) -> None:
    started = value(operator, "modelops_rollouts_total", event="started")
    promoted = value(operator, "modelops_rollouts_total", event="promoted")
    attempts = value(operator, "modelops_training_attempts_total", result="succeeded")
    m = Model(kube, namespace)
    m.version("1")
    m.version("2")
    m.policy(targetVersion="1", replicas=2,
             strategy={"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}})
    m.wait("v1", stableVersion="1")
    m.patch({"targetVersion": "2"})
    m.wait("paused", phase="Paused")
    labels = {"namespace": namespace, "model": "m"}
    wait_for(lambda: value(operator, "modelops_canary_weight", **labels) == 50
             and value(operator, "modelops_canary_weight_actual", **labels) == 50
             and value(operator, "modelops_updatepolicy_phase", **labels, phase="Paused") == 1,
             what="gauges of the paused rollout")
    m.act("promote")
    m.wait("promoted", phase="Promoted", stableVersion="2")
    wait_for(lambda: value(operator, "modelops_rollouts_total", event="started") == started + 1
             and value(operator, "modelops_rollouts_total", event="promoted") >= promoted + 2,
             what="rollout counters")  # the first version and the canary
    kube.create(namespace, model_version(
        "t-v1", "t", "1", artifact=None,
        training={"image": "t", "command": ["x"], "outputURI": "s3://o"}))
    wait_for(lambda: value(operator, "modelops_training_attempts_total", result="succeeded")
             == attempts + 1, what="training attempt counted")
    assert value(operator, "modelops_training_duration_seconds_count") >= 1
    assert value(operator, "modelops_reconcile_duration_seconds_count", kind="ModelVersion") > 0
    assert value(operator, "modelops_reconcile_duration_seconds_count", kind="UpdatePolicy") > 0
    assert value(operator, "modelops_modelversions", phase="Ready") >= 3
