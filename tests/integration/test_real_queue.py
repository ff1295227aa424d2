"""Training queued through Kueue (built here, hack/cluster/kueue.py) on the real node: a gang
larger than the free quota waits whole and says why, runs when the quota frees, is preempted
by a higher priority and resumes from its checkpoint once admitted again."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_real_training import TRAINER, checkpoint_volume, gang_logs
from tests.support import node
from tests.support.kube import Kube
from tests.support.manifests import model_version
from tests.support.shipped import ShippedOperator
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.real_node]
KUEUE = "kueue.x-k8s.io/v1beta2"


@pytest.fixture
def operator(shipped_operator: ShippedOperator, kueue: None) -> ShippedOperator:
    """These run against the operator as users install it (Helm, its image, its pod), with
    Kueue up."""
    return shipped_operator


def queue(kube: Kube, ns: str, cpu: str) -> None:
    """A ClusterQueue of the test's own (named as its namespace) with `cpu` on the real node,
    preempting lower priorities, and the namespace's LocalQueue `training` on it."""
    kube.kubectl("label", "namespace", ns, "modelops.io/queues=true", "--overwrite")
    kube.kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List",
                                                        "items": [
        {"apiVersion": KUEUE, "kind": "ClusterQueue", "metadata": {"name": ns},
         "spec": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
                  "preemption": {"withinClusterQueue": "LowerPriority"},
                  "resourceGroups": [{"coveredResources": ["cpu", "memory"], "flavors": [
                      {"name": "real-node", "resources": [
                          {"name": "cpu", "nominalQuota": cpu},
                          {"name": "memory", "nominalQuota": "8Gi"}]}]}]}},
        {"apiVersion": KUEUE, "kind": "LocalQueue",
         "metadata": {"name": "training", "namespace": ns}, "spec": {"clusterQueue": ns}}]}))


def job(kube: Kube, ns: str, name: str, cpu: str, seconds: int,
        priority: str | None = None) -> None:
    """A plain queued Job of one pod holding `cpu` for `seconds`."""
    labels = {"kueue.x-k8s.io/queue-name": "training",
              **({"kueue.x-k8s.io/priority-class": priority} if priority else {})}
    kube.kubectl("apply", "-n", ns, "-f", "-", stdin=json.dumps({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "labels": labels},
        "spec": {"suspend": True, "backoffLimit": 0, "template": {"spec": node.helper_pod({
            "restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "hold", "image": node.EXAMPLE_IMAGE,
                            "command": ["python3", "-c", f"import time; time.sleep({seconds})"],
                            "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}}]})}}}))


def state(kube: Kube, ns: str) -> dict[str, Any]:
    return dict((kube.get_mv(ns, "iris-queued") or {}).get("status") or {})


def queued(kube: Kube, ns: str) -> dict[str, Any]:
    return {c["type"]: c for c in state(kube, ns).get("conditions") or []}.get("Queued") or {}


def gang_pods(kube: Kube, ns: str) -> list[Any]:
    return list(kube.core.list_namespaced_pod(
        ns, label_selector="app.kubernetes.io/component=training").items)


def admitted(kube: Kube, ns: str, name: str) -> bool:
    j = kube.get_json("job", name, "-n", ns)
    return not j["spec"].get("suspend")


def test_a_gang_waits_whole_for_quota_runs_is_preempted_and_resumes(
        kube: Kube, namespace: str, operator: Any, tmp_path: Path) -> None:
    pv = checkpoint_volume(kube, namespace, tmp_path / "checkpoints")
    queue(kube, namespace, cpu="1500m")
    # Holds 1 of the 1.5 CPUs, at a priority the gang's (low) cannot preempt.
    job(kube, namespace, "blocker", "1", 3600, priority="high")
    wait_for(lambda: admitted(kube, namespace, "blocker"), timeout=60,
             what="Kueue to admit the blocker")
    node.s3_bucket("models")
    kube.kubectl("create", "secret", "generic", "s3-creds", "-n", namespace,
                 *[f"--from-literal={k}={v}" for k, v in node.s3_env().items()])
    kube.create(namespace, model_version(
        "iris-queued", "iris", "q1", artifact=None,
        training={"image": TRAINER, "command": ["python3", "/opt/modelops/train.py"],
                  "nodes": 2, "gpusPerNode": 0, "backend": "gloo", "maxRestarts": 1,
                  "queueName": "training", "priorityClass": "low",
                  "checkpoint": {"claimName": "checkpoints"},
                  "outputURI": f"s3://models/{namespace}/iris/q1",
                  "credentialsSecret": "s3-creds",
                  "env": [{"name": "EPOCHS", "value": "40"},
                          {"name": "EPOCH_SECONDS", "value": "0.5"}],
                  "resources": {"cpu": "500m", "memory": "1Gi"}, **node.on_real_node()},
        # The evaluation queues too (its own Workload), once the gang is done.
        evaluation={"image": node.EXAMPLE_IMAGE, "queueName": "training",
                    "command": ["python3", "/opt/modelops/evaluate.py"],
                    "gates": [{"metric": "accuracy", "min": 0.8}],  # 40 short epochs
                    "resources": {"cpu": "100m", "memory": "256Mi"}, **node.on_real_node()}))
    try:
        # Two pods of 500m do not fit beside the blocker: the whole gang waits, none started.
        q = wait_for(lambda: (c := queued(kube, namespace)).get("reason") == "Pending"
                     and "insufficient" in c.get("message", "") and c,
                     timeout=60, what="the gang queued")
        assert q["status"] == "True" and "insufficient" in q["message"], q
        time.sleep(5)
        assert gang_pods(kube, namespace) == [], "a pod of a gang that was not admitted"
        assert state(kube, namespace)["phase"] == "Training"
        assert state(kube, namespace)["training"]["queuedTime"]

        kube.kubectl("delete", "job", "blocker", "-n", namespace, "--wait=false")
        wait_for(lambda: queued(kube, namespace).get("reason") == "Admitted", timeout=60,
                 what="the gang admitted")
        t = state(kube, namespace)["training"]
        assert t["clusterQueue"] == namespace and t["admittedTime"]
        ckpt = tmp_path / "checkpoints" / "iris.pt"
        wait_for(lambda: ckpt.exists() and ckpt.stat().st_size > 0, timeout=180,
                 what="the first checkpoint")

        # A higher priority that needs the quota: Kueue takes it back from the whole gang.
        job(kube, namespace, "urgent", "1", 10, priority="high")
        wait_for(lambda: queued(kube, namespace).get("reason") == "Preempted", timeout=60,
                 what="the gang preempted")
        assert state(kube, namespace)["training"]["preemptions"] == 1
        wait_for(lambda: not [p for p in gang_pods(kube, namespace)
                              if p.status.phase in ("Pending", "Running")
                              and not p.metadata.deletion_timestamp],
                 timeout=60, what="the gang's pods gone")
        deadline = time.monotonic() + 210
        while (phase := state(kube, namespace).get("phase")) != "Ready":
            assert phase != "Failed" and time.monotonic() < deadline, (
                [(c["type"], c["reason"], c.get("message", "")[:300]) for c in
                 state(kube, namespace).get("conditions") or []],
                state(kube, namespace), gang_logs(kube, namespace)[-3000:], kube.kubectl(
                    "get", "workloads,jobs,pods", "-n", namespace, "-o", "yaml").stdout[-6000:])
            time.sleep(1)
        st = state(kube, namespace)
        logs = gang_logs(kube, namespace)
        assert "resumed from the checkpoint of epoch" in logs, logs[-2000:]
        # Kueue suspends the Job; its pods, stopped, exit non-zero, and the Job controller
        # sometimes counts that against the gang's pod-failure policy before it sees the
        # suspension: then the next attempt (queued again) resumes, and that Job's failure
        # is the preemption's, not the gang's (maxRestarts is untouched). Both resume.
        assert st["training"]["attempts"] in (1, 2), st["training"]
        assert st["training"]["preemptions"] == 1
        if st["training"]["attempts"] == 2:
            assert st["training"]["history"][0]["reason"].startswith("Preempted by Kueue")
        reasons = [e.reason for e in kube.core.list_namespaced_event(
            namespace, field_selector="involvedObject.name=iris-queued").items]
        assert {"Queued", "Admitted", "Preempted"} <= set(reasons), reasons
        assert "GangRestart" not in reasons, reasons
        # The evaluation Job went through Kueue as well, and its gate passed.
        assert st["evaluation"]["passed"] is True, st["evaluation"]
        workloads = kube.get_json("workloads", "-n", namespace)["items"]
        assert "iris-q1-eval" in {r["name"] for w in workloads
                                  for r in w["metadata"].get("ownerReferences") or []}, workloads
    finally:
        kube.kubectl("delete", "clusterqueue", namespace, "--wait=false", check=False)
        kube.kubectl("delete", "pv", pv, "--wait=false", check=False)
