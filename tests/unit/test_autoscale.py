"""The ScaledObject an UpdatePolicy with spec.autoscaling owns, and its per-runtime queries."""

from __future__ import annotations

from typing import Any

import pytest

from modelops.api.updatepolicy import UpdatePolicySpec
from modelops.autoscale.scaledobject import problems, scaled_object
from modelops.autoscale.templates import QUERIES

UP = {"apiVersion": "modelops.io/v1alpha1", "kind": "UpdatePolicy",
      "metadata": {"name": "iris", "namespace": "team", "uid": "u-1"}}


def spec(**autoscaling: Any) -> UpdatePolicySpec:
    return UpdatePolicySpec.model_validate({
        "model": "iris", "analysis": {"prometheus": {"address": "http://prom:9090/"},
                                      "metrics": [{"name": "e", "template": "error-rate",
                                                   "max": 0.1}]},
        "autoscaling": {"minReplicas": 2, "maxReplicas": 8, **autoscaling}})


def test_the_scaled_object_targets_the_policys_scale_subresource() -> None:
    so = scaled_object(UP, spec(metrics=[{"template": "requests-in-flight", "target": 4},
                                         {"template": "cpu", "target": 70}],
                                scaleDownStabilizationSeconds=60), "custom")
    assert so is not None
    assert so["metadata"]["ownerReferences"][0]["kind"] == "UpdatePolicy"
    s = so["spec"]
    assert s["scaleTargetRef"] == {"apiVersion": "modelops.io/v1alpha1", "kind": "UpdatePolicy",
                                   "name": "iris"}
    assert (s["minReplicaCount"], s["maxReplicaCount"]) == (2, 8)
    behavior = s["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleDown"] == {"stabilizationWindowSeconds": 60}
    prom, cpu = s["triggers"]
    # The model's total over all its versions' pods, divided per pod by the HPA.
    assert prom["type"] == "prometheus" and prom["metricType"] == "AverageValue"
    assert prom["metadata"]["serverAddress"] == "http://prom:9090"
    assert prom["metadata"]["threshold"] == "4"
    assert prom["metadata"]["query"] == (
        '(sum(http_requests_in_flight{namespace="team",model="iris"}) or vector(0))')
    assert cpu == {"type": "cpu", "name": "cpu", "metricType": "Utilization",
                   "metadata": {"value": "70"}}


def test_no_autoscaling_no_scaled_object() -> None:
    plain = UpdatePolicySpec.model_validate({"model": "iris"})
    assert scaled_object(UP, plain, "custom") is None and problems(plain, "custom") == []


def test_a_query_is_rendered_and_its_own_prometheus_wins() -> None:
    so = scaled_object(UP, spec(prometheus={"address": "http://other:9090"}, metrics=[
        {"name": "queue", "query": 'sum(q{namespace="{{namespace}}",model="{{model}}"})',
         "target": 2.5}]), "vllm")
    assert so is not None
    [t] = so["spec"]["triggers"]
    assert t["name"] == "queue" and t["metadata"]["threshold"] == "2.5"
    assert t["metadata"]["serverAddress"] == "http://other:9090"
    assert t["metadata"]["query"] == 'sum(q{namespace="team",model="iris"})'


@pytest.mark.parametrize(("runtime", "template", "ok"), [
    ("custom", "requests-in-flight", True), ("custom", "queue-length", False),
    ("llamacpp", "queue-length", True), ("vllm", "requests-in-flight", True),
    ("triton", "requests-in-flight", False), ("torchserve", "queue-length", False),
    ("torchserve", "cpu", True),
])
def test_a_template_the_runtime_lacks_is_refused_by_name(runtime: str, template: str,
                                                         ok: bool) -> None:
    why = problems(spec(metrics=[{"template": template, "target": 1}]), runtime)
    assert (why == []) is ok, why
    if not ok:
        assert template in why[0] and runtime in why[0]


def test_every_runtime_has_a_row() -> None:
    from modelops.serving.presets import PRESETS
    assert set(QUERIES) == set(PRESETS)


def test_the_autoscaling_condition_says_who_scales_or_why_nothing_does() -> None:
    from datetime import UTC, datetime

    from modelops.autoscale.scaledobject import autoscaling_condition
    now = datetime.now(UTC)
    on = spec(metrics=[{"template": "cpu", "target": 70}])
    [c] = autoscaling_condition([], on, "iris", None, 1, now)
    assert (c["status"], c["reason"]) == ("True", "ScaledObject") and "iris" in c["message"]
    [c] = autoscaling_condition([], on, None, "no KEDA here", 1, now)
    assert (c["status"], c["reason"], c["message"]) == ("False", "ScalerMissing", "no KEDA here")
    off = UpdatePolicySpec.model_validate({"model": "iris"})
    assert autoscaling_condition([], off, None, None, 1, now) == []  # never asked: no condition
    [c] = autoscaling_condition([{"type": "Autoscaling", "status": "True"}], off, None, None, 2,
                                now)
    assert (c["status"], c["reason"]) == ("False", "Off")
