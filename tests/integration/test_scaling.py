"""The UpdatePolicy's scale subresource on the local cluster: `kubectl scale` and the
controller-manager's own HPA drive a model's total replicas, which the policy divides between
its versions by the current weight, in the middle of a canary too."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.support.kube import Kube
from tests.support.operator import OperatorProcess
from tests.support.rollout import stable_on_v1
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


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


def keda_crd() -> Path:
    cache = Path(os.environ.get("MODELOPS_CACHE") or Path.home() / ".cache" / "modelops")
    version = next(line.split("=", 1)[1].strip() for line in (
        ROOT / "hack" / "cluster" / "versions.env").read_text().splitlines()
        if line.startswith("KEDA_VERSION="))
    path = cache / f"keda-{version}" / "config" / "crd" / "bases" / "keda.sh_scaledobjects.yaml"
    if not path.exists():
        subprocess.run(["bash", str(ROOT / "hack" / "cluster" / "build.sh"), "keda"], check=True)
    return path


def test_spec_autoscaling_owns_a_scaled_object_and_says_when_keda_is_missing(
        kube: Kube, operator: OperatorProcess, namespace: str) -> None:
    # No KEDA yet: the policy serves at spec.replicas and says why nothing scales it.
    kube.kubectl("delete", "crd", "scaledobjects.keda.sh", "--ignore-not-found")
    m = stable_on_v1(kube, namespace, autoscaling={
        "minReplicas": 2, "maxReplicas": 6, "scaleDownStabilizationSeconds": 60,
        "metrics": [{"template": "cpu", "target": 70}]})

    def condition() -> dict[str, str]:
        return next((c for c in m.status().get("conditions", [])
                     if c["type"] == "Autoscaling"), {})
    wait_for(lambda: condition().get("reason") == "ScalerMissing", what="ScalerMissing")
    assert "install KEDA" in condition()["message"] and m.replicas("1") == 4
    # KEDA's CRD arrives: the operator looks again and makes the ScaledObject it owns.
    kube.kubectl("apply", "--server-side", "-f", str(keda_crd()))
    wait_for(lambda: condition().get("status") == "True", timeout=90,
             what="the ScaledObject made once KEDA's kind is served")
    so = json.loads(kube.kubectl("get", "scaledobject", "m", "-n", namespace, "-o",
                                 "json").stdout)
    assert so["metadata"]["ownerReferences"][0]["name"] == "m"
    assert so["spec"]["scaleTargetRef"]["kind"] == "UpdatePolicy"
    assert (so["spec"]["minReplicaCount"], so["spec"]["maxReplicaCount"]) == (2, 6)
    assert m.status()["scaler"] == "m"
    # Taken out of the spec: the ScaledObject goes, the condition says so.
    kube.kubectl("patch", "updatepolicy", "m", "-n", namespace, "--type", "json",
                 "-p", '[{"op": "remove", "path": "/spec/autoscaling"}]')
    wait_for(lambda: kube.kubectl("get", "scaledobject", "m", "-n", namespace,
                                  check=False).returncode != 0, what="the ScaledObject gone")
    wait_for(lambda: condition().get("reason") == "Off" and "scaler" not in m.status(),
             what="Autoscaling Off")
