"""The local cluster is a real Kubernetes: scheduling, controllers, RBAC and GC all work."""

from __future__ import annotations

import pytest

from tests.support.kube import Kube
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


def test_nodes_include_tainted_gpu_nodes(kube: Kube) -> None:
    nodes = kube.get_json("nodes")["items"]
    kinds = {n["metadata"]["name"]: n["metadata"]["labels"]["modelops.io/node-kind"]
             for n in nodes}
    real = [n for n in nodes if kinds[n["metadata"]["name"]] == "real"]
    nodes = [n for n in nodes if kinds[n["metadata"]["name"]] == "kwok"]
    assert len(nodes) >= 4
    # The real node keeps everything that does not ask for it off (scale tests stay on kwok).
    assert len(real) == 1
    assert {"key": "modelops.io/node-kind", "value": "real",
            "effect": "NoSchedule"} in real[0]["spec"]["taints"]
    gpu = [n for n in nodes if n["status"]["allocatable"].get("nvidia.com/gpu") == "8"]
    cpu = [n for n in nodes if "nvidia.com/gpu" not in n["status"]["allocatable"]]
    assert len(gpu) >= 2 and len(cpu) >= 2
    for n in gpu:
        assert n["metadata"]["labels"]["nvidia.com/gpu.present"] == "true"
        assert {"key": "nvidia.com/gpu", "effect": "NoSchedule"} in n["spec"]["taints"]
    for n in cpu:
        assert not n["spec"].get("taints")
    for n in nodes:
        ready = {c["type"]: c["status"] for c in n["status"]["conditions"]}["Ready"]
        assert ready == "True", n["metadata"]["name"]


def test_rbac_is_enforced(kube: Kube, namespace: str) -> None:
    sa = f"system:serviceaccount:{namespace}:default"
    out = kube.kubectl("auth", "can-i", "create", "pods", "-n", namespace, f"--as={sa}",
                       check=False)
    assert out.stdout.strip() == "no"
    assert kube.kubectl("auth", "can-i", "create", "pods", "-n", namespace).stdout.strip() == "yes"


def test_deployment_gets_ready_pods_and_gc_removes_them(kube: Kube, namespace: str) -> None:
    kube.kubectl("create", "deployment", "web", "--image=nginx", "--replicas=3", "-n", namespace)
    wait_for(lambda: (kube.apps.read_namespaced_deployment("web", namespace).status
                      .ready_replicas == 3), what="3 ready replicas")
    pods = kube.core.list_namespaced_pod(namespace, label_selector="app=web").items
    assert len(pods) == 3 and all(p.status.phase == "Running" for p in pods)
    assert all(p.status.pod_ip for p in pods)
    kube.kubectl("delete", "deployment", "web", "-n", namespace, "--wait=false")
    # The garbage collector, not the deletion call, removes the ReplicaSet and its Pods.
    wait_for(lambda: not kube.apps.list_namespaced_replica_set(namespace).items
             and not kube.core.list_namespaced_pod(namespace).items,
             what="ReplicaSet and Pods garbage-collected")


def test_job_completes(kube: Kube, namespace: str) -> None:
    kube.kubectl("create", "job", "ok", "--image=busybox", "-n", namespace, "--", "true")
    wait_for(lambda: kube.batch.read_namespaced_job("ok", namespace).status.succeeded == 1,
             what="job success")


def test_pod_marked_to_fail_fails_its_job(kube: Kube, namespace: str) -> None:
    job = f"""
apiVersion: batch/v1
kind: Job
metadata: {{name: bad, namespace: {namespace}}}
spec:
  backoffLimit: 0
  template:
    metadata:
      annotations: {{modelops.io/kwok-fail: "true"}}
    spec:
      restartPolicy: Never
      containers: [{{name: c, image: busybox}}]
"""
    kube.kubectl("apply", "-f", "-", stdin=job)
    wait_for(lambda: kube.batch.read_namespaced_job("bad", namespace).status.failed == 1,
             what="job failure")
    pod = kube.core.list_namespaced_pod(namespace, label_selector="job-name=bad").items[0]
    assert pod.status.container_statuses[0].state.terminated.exit_code == 1


def test_gpu_pod_lands_on_gpu_node_only_with_toleration(kube: Kube, namespace: str) -> None:
    def pod(name: str, tolerate: bool) -> str:
        tol = ("tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]"
               if tolerate else "")
        return f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  {tol}
  containers:
  - name: c
    image: cuda
    resources: {{limits: {{nvidia.com/gpu: "8"}}}}
"""
    kube.kubectl("apply", "-f", "-", stdin=pod("tolerant", True))
    kube.kubectl("apply", "-f", "-", stdin=pod("intolerant", False))
    p = wait_for(lambda: (kube.core.read_namespaced_pod("tolerant", namespace).spec.node_name),
                 what="GPU pod scheduled")
    assert p.startswith("kwok-gpu-")
    bad = wait_for(lambda: [c for c in kube.core.read_namespaced_pod(
        "intolerant", namespace).status.conditions or [] if c.type == "PodScheduled"],
        what="scheduling verdict")
    assert bad[0].status == "False" and "untolerated taint" in bad[0].message
