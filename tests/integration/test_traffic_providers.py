"""Traffic providers on the local cluster: SMI's TrafficSplit (the third provider, its CRD
installed as an SMI mesh would have it) and the watch on the routes providers steer."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.kube import Kube
from tests.support.operator import OperatorProcess
from tests.support.rollout import stable_on_v1
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


def split_of(kube: Kube, ns: str, name: str = "m") -> dict[str, Any] | None:
    r = kube.kubectl("get", "trafficsplit", name, "-n", ns, "-o", "json", check=False)
    if r.returncode != 0:
        return None
    return dict(json.loads(r.stdout))


def backends(kube: Kube, ns: str) -> list[tuple[str, float]] | None:
    ts = split_of(kube, ns)
    return None if ts is None else [(b["service"], b["weight"]) for b in ts["spec"]["backends"]]


def test_an_smi_traffic_split_follows_the_steps_and_goes_with_the_policy(
        kube: Kube, operator: OperatorProcess, namespace: str) -> None:
    m = stable_on_v1(kube, namespace, strategy={"canary": {
        "steps": [{"setWeight": 25}, {"pause": {}}, {"setWeight": 75}, {"pause": {}}],
        "trafficRouting": {"smi": {}}}})
    wait_for(lambda: backends(kube, namespace) == [("m-1", 100)], what="a split all on v1")
    ts = split_of(kube, namespace) or {}
    assert ts["spec"]["service"] == "m"  # the model's Service is the root
    assert ts["metadata"]["ownerReferences"][0]["kind"] == "UpdatePolicy"
    m.patch({"targetVersion": "2"})
    m.wait("25%", phase="Paused", currentStepIndex=1, actualCanaryWeight=25)
    assert backends(kube, namespace) == [("m-1", 75), ("m-2", 25)]
    assert m.replicas("1") == 4 and m.replicas("2") == 1  # the split carries it, not the pods

    # An edit of the split by hand is seen through the watch (the operator says so) and put
    # back at once, although the paused policy has no round due for up to a minute.
    noticed = f"{namespace}/m: TrafficSplit m changed outside the operator"
    before = operator.log_text().count(noticed)
    kube.kubectl("patch", "trafficsplit", "m", "-n", namespace, "--type=merge", "-p",
                 '{"spec": {"backends": [{"service": "m-1", "weight": 100}]}}')
    wait_for(lambda: operator.log_text().count(noticed) > before, what="the edit noticed")
    wait_for(lambda: backends(kube, namespace) == [("m-1", 75), ("m-2", 25)], timeout=20,
             what="the split's weights restored")
    m.act("promote")
    m.wait("75%", phase="Paused", currentStepIndex=3, actualCanaryWeight=75)
    assert backends(kube, namespace) == [("m-1", 25), ("m-2", 75)]
    m.act("promote")
    m.wait("promoted", phase="Promoted", stableVersion="2")
    wait_for(lambda: backends(kube, namespace) == [("m-2", 100)], what="all on v2")
    svc = kube.core.read_namespaced_service("m", namespace)
    assert svc.spec.selector["modelops.io/version"] == "2"  # callers outside the mesh
    kube.kubectl("delete", "updatepolicy", "m", "-n", namespace)
    wait_for(lambda: split_of(kube, namespace) is None, timeout=60,
             what="the split collected with its policy")


def test_a_traffic_split_the_policy_does_not_own_is_refused_with_a_reason(
        kube: Kube, operator: OperatorProcess, namespace: str) -> None:
    kube.kubectl("apply", "-n", namespace, "-f", "-", stdin="""
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: someone-elses}
spec:
  service: m
  backends: [{service: other, weight: 100}]
""")
    m = stable_on_v1(kube, namespace)
    m.patch({"strategy": {"canary": {"trafficRouting": {
        "smi": {"trafficSplitName": "someone-elses"}}}}})

    def valid() -> dict[str, Any] | None:
        for c in m.status().get("conditions") or []:
            if c["type"] == "Valid" and c["status"] == "False":
                return dict(c)
        return None
    cond = wait_for(valid, what="Valid=False")
    assert "not owned by this policy" in cond["message"], cond
    assert backends(kube, namespace) is None  # nothing named m was made
    ts = split_of(kube, namespace, "someone-elses") or {}
    assert ts["spec"]["backends"] == [{"service": "other", "weight": 100}]  # left alone
    events = kube.core.list_namespaced_event(namespace, field_selector="involvedObject.name=m")
    assert any(e.reason == "InvalidSpec" and e.type == "Warning" for e in events.items)
