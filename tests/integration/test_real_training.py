"""Real training on the real node: a two-pod torchrun gang (gloo) that finds its master through
the headless Service's DNS name, trains the example model, checkpoints to a volume, resumes
after a real kill of one rank (whole-gang restart); then the evaluation Job scores the trained
model for real, its metrics land in status, the gate decides, and the version serves it."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_real_serving import predict
from tests.support import node
from tests.support.kube import Kube
from tests.support.manifests import model_version
from tests.support.shipped import ShippedOperator
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.real_node]


@pytest.fixture
def operator(shipped_operator: ShippedOperator) -> ShippedOperator:
    """These run against the operator as users install it (Helm, its image, its pod)."""
    return shipped_operator


TRAINER = "localhost/modelops/trainer:dev"


def checkpoint_volume(kube: Kube, ns: str, path: Path) -> str:
    """A hostPath PersistentVolume on the real node, bound to the claim `checkpoints`."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o777)  # the trainer runs as a non-root user
    pv = f"{ns}-checkpoints"
    kube.kubectl("apply", "-f", "-", stdin=json.dumps({
        "apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv},
             "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteMany"],
                      "storageClassName": "manual", "hostPath": {"path": str(path)},
                      "claimRef": {"namespace": ns, "name": "checkpoints"},
                      "persistentVolumeReclaimPolicy": "Retain"}},
            {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
             "metadata": {"name": "checkpoints", "namespace": ns},
             "spec": {"accessModes": ["ReadWriteMany"], "storageClassName": "manual",
                      "volumeName": pv, "resources": {"requests": {"storage": "1Gi"}}}}]}))
    return pv


def rank_pids(pod_uid: str) -> list[int]:
    """The host pids of the training script in one pod (found by the pod's cgroup)."""
    out = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cgroup = (proc / "cgroup").read_text()
            cmd = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if pod_uid.replace("-", "_") in cgroup.replace("-", "_") and b"train.py" in cmd \
                and not cmd.startswith(b"/usr/bin/python3\0/usr/local/bin/torchrun"):
            out.append(int(proc.name))
    return out


def status(kube: Kube, ns: str) -> dict[str, Any]:
    return dict((kube.get_mv(ns, "iris-trained") or {}).get("status") or {})


def gang_logs(kube: Kube, ns: str) -> str:
    pods = kube.core.list_namespaced_pod(
        ns, label_selector="app.kubernetes.io/component=training").items
    return "".join(kube.kubectl("logs", "-n", ns, p.metadata.name, check=False).stdout
                   for p in sorted(pods, key=lambda p: p.metadata.name))


def training(kube: Kube, ns: str) -> dict[str, Any]:
    return dict(((kube.get_mv(ns, "iris-trained") or {}).get("status") or {}).get("training")
                or {})


def test_a_gang_trains_resumes_after_a_kill_is_evaluated_and_served(
        kube: Kube, namespace: str, operator: Any, tmp_path: Path) -> None:
    pv = checkpoint_volume(kube, namespace, tmp_path / "checkpoints")
    node.s3_bucket("models")
    kube.kubectl("create", "secret", "generic", "s3-creds", "-n", namespace,
                 *[f"--from-literal={k}={v}" for k, v in node.s3_env().items()])
    placement = node.on_real_node()
    kube.create(namespace, model_version(
        "iris-trained", "iris", "t1", artifact=None,
        training={"image": TRAINER, "command": ["python3", "/opt/modelops/train.py"],
                  "nodes": 2, "gpusPerNode": 0, "backend": "gloo", "maxRestarts": 2,
                  "checkpoint": {"claimName": "checkpoints"},
                  "outputURI": f"s3://models/{namespace}/iris/t1",
                  "credentialsSecret": "s3-creds",
                  "env": [{"name": "EPOCHS", "value": "60"},
                          {"name": "EPOCH_SECONDS", "value": "0.5"}],
                  "resources": {"cpu": "500m", "memory": "1Gi"}, **placement},
        evaluation={"image": node.EXAMPLE_IMAGE,
                    "command": ["python3", "/opt/modelops/evaluate.py"],
                    "gates": [{"metric": "accuracy", "min": 0.9}], **placement},
        serving={"image": node.EXAMPLE_IMAGE, "port": 8080,
                 "readinessPath": "/v2/health/ready", **placement}))
    try:
        ckpt = tmp_path / "checkpoints" / "iris.pt"
        # Both ranks run and rank 0 has checkpointed a few epochs: kill rank 1's script.
        wait_for(lambda: ckpt.exists() and ckpt.stat().st_size > 0, timeout=180,
                 what="the first checkpoint")
        time.sleep(3)
        pods = kube.core.list_namespaced_pod(
            namespace, label_selector="app.kubernetes.io/component=training").items
        rank1 = next(p for p in pods if p.metadata.annotations.get(
            "batch.kubernetes.io/job-completion-index") == "1")
        pids = wait_for(lambda: rank_pids(rank1.metadata.uid), timeout=30,
                        what="rank 1's training process")
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: int(training(kube, namespace).get("attempts") or 0) >= 2, timeout=120,
                 what=f"a whole-gang restart; training status {training(kube, namespace)}")
        deadline = time.monotonic() + 240
        while (phase := status(kube, namespace).get("phase")) != "Ready":
            assert phase != "Failed" and time.monotonic() < deadline, (
                status(kube, namespace), gang_logs(kube, namespace)[-3000:])
            time.sleep(1)
        st = (kube.get_mv(namespace, "iris-trained") or {})["status"]
        # The second gang went on from the checkpoint instead of starting over.
        logs = gang_logs(kube, namespace)
        assert "resumed from the checkpoint of epoch" in logs, logs[-2000:]
        assert "joined a gang of 2 through iris-t1-train" in logs, logs[-2000:]
        assert st["artifactURI"] == f"s3://models/{namespace}/iris/t1"
        accuracy = st["evaluation"]["metrics"]["accuracy"]
        assert 0.9 <= accuracy <= 1.0, st["evaluation"]
        answer = predict(kube, namespace, st["serving"]["service"], 8080, "iris")
        assert answer["model_version"] == "t1" and answer["outputs"][0]["data"] == [0]
    finally:
        kube.kubectl("delete", "pv", pv, "--wait=false", check=False)
