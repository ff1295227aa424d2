"""The UpdatePolicy's scale subresource on the local cluster: `kubectl scale` and the
controller-manager's own HPA drive a model's total replicas, which the policy divides between
its versions by the current weight, in the middle of a canary too."""

from __future__ import annotations

import json

import pytest

from tests.support.kube import Kube
from tests.support.operator import OperatorProcess
from tests.support.rollout import stable_on_v1
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


def scale(kube: Kube, ns: str) -> dict[str, object]:
    out = kube.kubectl("get", "updatepolicy", "m", "-n", ns, "--subresource=scale", "-o", "json")
    return dict(json.loads(out.stdout))


def test_kubectl_scale_mid_canary_divides_the_total_by_the_step(
        kube: Kube, operator: OperatorProcess, namespace: str) -> None:
    m = stable_on_v1(kube, namespace,
                     strategy={"canary": {"steps": [{"setWeight": 25}, {"pause": {}}]}})
    assert scale(kube, namespace)["status"] == {
        "replicas": 4, "selector": "modelops.io/model=m,modelops.io/serving=true"}
    m.patch({"targetVersion": "2"})
    m.wait("paused at 25%", canaryWeight=25, actualCanaryWeight=25, currentStepIndex=1)
    assert (m.replicas("1"), m.replicas("2")) == (3, 1)

    kube.kubectl("scale", "updatepolicy/m", "-n", namespace, "--replicas=8")
    wait_for(lambda: (m.replicas("1"), m.replicas("2")) == (6, 2),
             what="8 replicas split 6:2 at the 25% step")
    st = m.wait("8 serving pods in traffic", replicas=8, actualCanaryWeight=25)
    assert st["canaryVersion"] == "2" and st["currentStepIndex"] == 1

    kube.kubectl("scale", "updatepolicy/m", "-n", namespace, "--replicas=4")
    wait_for(lambda: (m.replicas("1"), m.replicas("2")) == (3, 1),
             what="back to 4 replicas split 3:1")
    m.wait("4 serving pods", replicas=4, actualCanaryWeight=25)
    got = scale(kube, namespace)
    assert got["spec"] == {"replicas": 4} and got["status"]["replicas"] == 4  # type: ignore[index]


def test_an_hpa_drives_the_policy_through_its_scale_subresource(
        kube: Kube, operator: OperatorProcess, namespace: str) -> None:
    m = stable_on_v1(kube, namespace)
    # The controller-manager's HPA raises a target below its minimum without reading any
    # metric: enough to show it finds, reads and writes the policy's scale subresource.
    kube.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "m"},
        "spec": {"scaleTargetRef": {"apiVersion": "modelops.io/v1alpha1",
                                    "kind": "UpdatePolicy", "name": "m"},
                 "minReplicas": 6, "maxReplicas": 10,
                 "metrics": [{"type": "Resource", "resource": {
                     "name": "cpu", "target": {"type": "Utilization",
                                               "averageUtilization": 80}}}]}}))
    wait_for(lambda: m.replicas("1") == 6, timeout=90, what="the HPA's 6 replicas on v1")
    m.wait("6 serving pods", replicas=6)

    def hpa_current() -> object:
        out = kube.kubectl("get", "hpa", "m", "-n", namespace, "-o", "json").stdout
        return json.loads(out).get("status", {}).get("currentReplicas")
    # It reads back what the policy reports (status.replicas), not only what it wrote.
    wait_for(lambda: hpa_current() == 6, timeout=60, what="the HPA reads 6 current replicas")
