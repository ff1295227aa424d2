"""The operator in its own pod on the real node: the chart with the image built from the
project's Dockerfile, under its ServiceAccount and the restricted Pod Security profile, real
probes and metrics, and a model served end to end by it."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from tests.integration.test_real_serving import predict
from tests.support import node
from tests.support.helm import CHART
from tests.support.kube import Kube
from tests.support.manifests import model_version
from tests.support.operator import OperatorProcess
from tests.support.shipped import ShippedOperator
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.real_node]


def test_the_install_manifest_runs_the_operator_on_the_real_node(
        kube: Kube, operator: OperatorProcess, namespace: str) -> None:
    """`kubectl apply -f dist/install.yaml`, placed on the real node the way a kustomize
    overlay would (nodeSelector and toleration patched in): restricted namespace, real probes,
    and it serves."""
    ns = "modelops-system"
    wait_for(lambda: kube.kubectl("get", "namespace", ns, check=False).returncode != 0,
             timeout=90, what=f"no {ns} left from an earlier run")
    operator.stop()
    try:
        r = kube.kubectl("apply", "--server-side", "--force-conflicts", "-f",
                         str(CHART.parents[1] / "dist" / "install.yaml"), check=False)
        assert r.returncode == 0, r.stderr
        kube.kubectl("patch", "deployment", "modelops", "-n", ns, "--type=strategic", "-p",
                     json.dumps({"spec": {"template": {"spec": node.on_real_node()}}}))
        rollout = kube.kubectl("rollout", "status", "deployment/modelops", "-n", ns,
                               "--timeout=180s", check=False)
        assert rollout.returncode == 0, rollout.stdout + rollout.stderr
        pod = next(p for p in kube.core.list_namespaced_pod(ns).items
                   if not p.metadata.deletion_timestamp and p.status.phase == "Running")
        assert pod.spec.node_name == "real-node"
        assert pod.status.container_statuses[0].restart_count == 0
        serve_iris(kube, namespace, "the operator of dist/install.yaml")
    finally:
        for obj in ("clusterrolebinding/modelops-cluster", "clusterrole/modelops-cluster"):
            kube.kubectl("delete", obj, check=False)
        kube.kubectl("delete", "namespace", ns, "--wait=false", check=False)
        operator.start()


def test_the_operator_pod_serves_a_model_on_the_real_node(
        kube: Kube, shipped_operator: ShippedOperator, namespace: str) -> None:
    op = shipped_operator
    pod = op.pod()
    assert pod.spec.node_name == "real-node"
    assert pod.spec.service_account_name == op.deployment
    assert pod.status.container_statuses[0].restart_count == 0
    ns = kube.core.read_namespace(op.namespace)
    assert ns.metadata.labels["pod-security.kubernetes.io/enforce"] == "restricted"
    # Its metrics answer on the pod's address, as Prometheus would scrape them.
    assert "modelops_" in wait_for(op.metrics, timeout=30, what="the operator's metrics")
    serve_iris(kube, namespace, "the operator in its pod")
    answer = predict(kube, namespace, "iris-1", 8080, "iris")
    assert answer["outputs"][0]["data"] == [0]
    assert "iris-v1" in op.log_text()  # it was this operator that did it


def serve_iris(kube: Kube, namespace: str, by: str) -> None:
    """iris-v1 from the example model's http artifact, on the real node, until Ready."""
    url, data = node.serve_example_model(kube, namespace)
    kube.create(namespace, model_version(
        "iris-v1", "iris", "1",
        artifact={"uri": url, "digest": "sha256:" + hashlib.sha256(data).hexdigest()},
        serving={"image": node.EXAMPLE_IMAGE, "port": 8080,
                 "readinessPath": "/v2/health/ready", **node.on_real_node()}))
    wait_for(lambda: phase(kube, namespace) == "Ready", timeout=180,
             what=f"iris-v1 Ready, served by {by}")


def phase(kube: Kube, ns: str) -> Any:
    return ((kube.get_mv(ns, "iris-v1") or {}).get("status") or {}).get("phase")
