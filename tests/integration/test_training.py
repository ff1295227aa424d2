"""Distributed training on the local cluster: kwok runs (and fails, when told) the ranks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.kube import Kube
from tests.support.manifests import model_version
from tests.support.operator import OperatorProcess
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

LONG_RUNNING = {"pod-complete.stage.kwok.x-k8s.io/delay": "3600s"}


def training(**fields: Any) -> dict[str, Any]:
    return {"image": "ghcr.io/acme/trainer:1", "command": ["python", "train.py"],
            "outputURI": "s3://models/llm/trained/", **fields}


def status(kube: Kube, ns: str, name: str) -> dict[str, Any]:
    return (kube.get_mv(ns, name) or {}).get("status") or {}


def conditions(kube: Kube, ns: str, name: str) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status(kube, ns, name).get("conditions", [])}


def pods_of(kube: Kube, ns: str, job: str) -> list[Any]:
    return list(kube.core.list_namespaced_pod(ns, label_selector=f"job-name={job}").items)


def running(kube: Kube, ns: str, job: str, n: int) -> list[Any]:
    pods = [p for p in pods_of(kube, ns, job) if p.status.phase == "Running"]
    return pods if len(pods) == n else []


def annotate(kube: Kube, ns: str, pods: list[Any], key: str) -> None:
    for p in pods:
        kube.core.patch_namespaced_pod(p.metadata.name, ns,
                                       {"metadata": {"annotations": {key: "true"}}})


def test_two_nodes_by_eight_gpus_trains_and_serves(kube: Kube, operator: OperatorProcess,
                                                   namespace: str,
                                                   gpu_pool: dict[str, str]) -> None:
    kube.create(namespace, model_version(
        "llm-v1", "llm", "1", artifact=None,
        training=training(nodes=2, gpusPerNode=8, backend="nccl",
                          podAnnotations=LONG_RUNNING, nodeSelector=gpu_pool),
        serving={"image": "ghcr.io/acme/llm-server:1", "resources": {"gpu": 1},
                 "nodeSelector": gpu_pool}))
    pods = wait_for(lambda: running(kube, namespace, "llm-1-train-1", 2), what="2 ranks running")
    assert status(kube, namespace, "llm-v1")["phase"] == "Training"
    by_rank = {p.metadata.annotations["batch.kubernetes.io/job-completion-index"]: p
               for p in pods}
    assert set(by_rank) == {"0", "1"}
    for rank, pod in by_rank.items():
        assert pod.spec.node_name.startswith(f"{namespace}-gpu-"), "not on the test's GPU nodes"
        assert pod.spec.hostname == f"llm-1-train-1-{rank}"
        assert pod.spec.subdomain == "llm-1-train"
        c = pod.spec.containers[0]
        assert c.command[:7] == ["torchrun", "--nnodes=2", "--nproc-per-node=8",
                                 "--node-rank=$(NODE_RANK)",
                                 "--master-addr=llm-1-train-1-0.llm-1-train",
                                 "--master-port=29500", "--no-python"]
        assert c.resources.limits["nvidia.com/gpu"] == "8"
        env = {e.name: e for e in c.env}
        assert env["NODE_RANK"].value_from.field_ref.field_path == \
            "metadata.annotations['batch.kubernetes.io/job-completion-index']"
        assert env["WORLD_SIZE"].value == "16" and env["PET_NNODES"].value == "2"
    svc = kube.core.read_namespaced_service("llm-1-train", namespace)
    assert svc.spec.cluster_ip == "None" and svc.spec.publish_not_ready_addresses
    annotate(kube, namespace, pods, "modelops.io/kwok-complete")
    wait_for(lambda: status(kube, namespace, "llm-v1").get("phase") == "Ready",
             what="trained and served")
    st = status(kube, namespace, "llm-v1")
    assert st["artifactURI"] == "s3://models/llm/trained/"
    assert st["training"]["history"][0]["result"] == "Succeeded"
    assert st["training"]["completionTime"]
    dep = kube.apps.read_namespaced_deployment("llm-1", namespace)
    env = {e.name: e.value for e in dep.spec.template.spec.containers[0].env}
    assert env["MODEL_URI"] == "s3://models/llm/trained/"
    want = {"TrainingStarted", "TrainingSucceeded", "PhaseTraining", "PhaseReady"}
    wait_for(lambda: want <= {e.reason for e in kube.events(namespace, "llm-v1")},
             what=f"events {sorted(want)}")


def checkpoint_claim(kube: Kube, ns: str) -> None:
    """A bound claim: a hostPath volume (kwok never mounts it) pre-bound to it."""
    kube.kubectl("apply", "-f", "-", stdin=f"""
apiVersion: v1
kind: PersistentVolume
metadata: {{name: ckpt-{ns}}}
spec:
  capacity: {{storage: 1Gi}}
  accessModes: [ReadWriteMany]
  storageClassName: ""
  hostPath: {{path: /tmp/ckpt}}
  claimRef: {{namespace: {ns}, name: ckpt}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: ckpt, namespace: {ns}}}
spec:
  accessModes: [ReadWriteMany]
  storageClassName: ""
  volumeName: ckpt-{ns}
  resources: {{requests: {{storage: 1Gi}}}}
""")
    wait_for(lambda: kube.core.read_namespaced_persistent_volume_claim("ckpt", ns).status.phase
             == "Bound", what="checkpoint claim bound")


def test_failed_rank_restarts_the_gang(kube: Kube, operator: OperatorProcess,
                                       namespace: str) -> None:
    checkpoint_claim(kube, namespace)
    kube.create(namespace, model_version(
        "m-v1", "m", "1", artifact=None,
        training=training(nodes=2, gpusPerNode=0, backend="gloo", maxRestarts=2,
                          checkpoint={"claimName": "ckpt"}, podAnnotations=LONG_RUNNING)))
    pods = wait_for(lambda: running(kube, namespace, "m-1-train-1", 2), what="attempt 1")
    rank1 = [p for p in pods
             if p.metadata.annotations["batch.kubernetes.io/job-completion-index"] == "1"]
    annotate(kube, namespace, rank1, "modelops.io/kwok-fail")
    # The whole gang goes: the Job fails, its other rank is stopped, attempt 2 starts.
    wait_for(lambda: kube.batch.read_namespaced_job("m-1-train-2", namespace),
             what="attempt 2 Job")
    job1 = kube.batch.read_namespaced_job("m-1-train-1", namespace)
    assert job1.status.failed >= 1
    wait_for(lambda: not [p for p in pods_of(kube, namespace, "m-1-train-1")
                          if p.status.phase in ("Running", "Pending")
                          and not p.metadata.deletion_timestamp],
             what="rank 0 of attempt 1 stopped")
    st = status(kube, namespace, "m-v1")
    assert st["training"]["attempts"] == 2
    assert st["training"]["history"][0]["result"] == "Failed"
    assert st["training"]["history"][0]["reason"]
    # Events are posted from a queue, a moment after the status they tell of.
    restart = wait_for(lambda: [e for e in kube.events(namespace, "m-v1")
                                if e.reason == "GangRestart"], what="GangRestart event")
    assert "from the checkpoint" in restart[0].message
    pods2 = wait_for(lambda: running(kube, namespace, "m-1-train-2", 2), what="attempt 2")
    env = {e.name: e.value for e in pods2[0].spec.containers[0].env}
    assert env["MODELOPS_ATTEMPT"] == "2" and env["CHECKPOINT_DIR"] == "/checkpoints"
    assert pods2[0].spec.volumes[0].persistent_volume_claim.claim_name == "ckpt"
    annotate(kube, namespace, pods2, "modelops.io/kwok-complete")
    wait_for(lambda: status(kube, namespace, "m-v1").get("phase") == "Ready", what="Ready")


def test_exhausted_restarts_fail_the_version(kube: Kube, operator: OperatorProcess,
                                             namespace: str) -> None:
    kube.create(namespace, model_version(
        "m-v1", "m", "1", artifact=None,
        training=training(nodes=2, gpusPerNode=0, maxRestarts=1,
                          podAnnotations={"modelops.io/kwok-fail": "true"})))
    wait_for(lambda: status(kube, namespace, "m-v1").get("phase") == "Failed", timeout=60,
             what="Failed")
    trained = conditions(kube, namespace, "m-v1")["Trained"]
    assert trained["status"] == "False" and trained["reason"] == "MaxRestartsExceeded"
    assert "maxRestarts=1" in trained["message"]
    jobs = sorted(j.metadata.name for j in kube.batch.list_namespaced_job(namespace).items)
    assert jobs == ["m-1-train-1", "m-1-train-2"]
    wait_for(lambda: any(e.reason == "TrainingFailed" for e in kube.events(namespace, "m-v1")),
             what="TrainingFailed event")


def test_steps_run_in_order(kube: Kube, operator: OperatorProcess, namespace: str,
                            gpu_pool: dict[str, str]) -> None:
    kube.create(namespace, model_version(
        "m-v1", "m", "1", artifact=None,
        # the CPU-only prep step runs on the (tainted) GPU pool too: it tolerates the taint
        training=training(nodes=2, gpusPerNode=8, nodeSelector=gpu_pool,
                          tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists"}], steps=[
            {"name": "prep", "command": ["python", "prep.py"], "nodes": 1, "gpusPerNode": 0},
            {"name": "train"}])))
    wait_for(lambda: status(kube, namespace, "m-v1").get("phase") == "Ready", timeout=60,
             what="both steps done")
    prep = kube.batch.read_namespaced_job("m-1-prep-1", namespace)
    train = kube.batch.read_namespaced_job("m-1-train-1", namespace)
    assert train.metadata.creation_timestamp >= prep.status.completion_time
    assert prep.spec.completions == 1 and train.spec.completions == 2
    assert prep.spec.template.spec.containers[0].command[-2:] == ["python", "prep.py"]
    assert "--nproc-per-node=8" in train.spec.template.spec.containers[0].command
    hist = status(kube, namespace, "m-v1")["training"]["history"]
    assert [h["step"] for h in hist] == ["prep", "train"]


EVAL = {"image": "ghcr.io/acme/eval:1", "command": ["python", "eval.py"],
        "gates": [{"metric": "accuracy", "min": 0.9}, {"metric": "f1", "min": 0.85}]}


@pytest.mark.parametrize(("output", "phase"), [
    pytest.param('{"accuracy": 0.93, "f1": 0.88}', "Ready", id="gates-pass"),
    pytest.param('{"accuracy": 0.80, "f1": 0.88}', "Failed", id="gates-fail"),
])
def test_evaluation_metrics_and_gates(kube: Kube, operator: OperatorProcess, namespace: str,
                                      output: str, phase: str) -> None:
    kube.create(namespace, model_version(
        "m-v1", "m", "1", serving={"image": "srv"},
        evaluation={**EVAL, "podAnnotations": {"modelops.io/kwok-termination-message": output}}))
    wait_for(lambda: status(kube, namespace, "m-v1").get("phase") == phase, timeout=60,
             what=phase)
    st = status(kube, namespace, "m-v1")
    assert st["evaluation"]["metrics"] == json.loads(output)  # what the pod wrote, each value
    evaluated = conditions(kube, namespace, "m-v1")["Evaluated"]
    if phase == "Ready":
        assert evaluated["status"] == "True" and st["evaluation"]["passed"] is True
    else:
        assert evaluated["reason"] == "GatesFailed" and "accuracy=0.8 is below min 0.9" in \
            evaluated["message"]
        assert kube.apps.list_namespaced_deployment(namespace).items == []


def test_operator_killed_mid_training_creates_no_duplicate_job(
        kube: Kube, operator: OperatorProcess, namespace: str) -> None:
    kube.create(namespace, model_version(
        "m-v1", "m", "1", artifact=None,
        training=training(nodes=2, gpusPerNode=0, podAnnotations=LONG_RUNNING)))
    wait_for(lambda: running(kube, namespace, "m-1-train-1", 2), what="ranks running")
    for _ in range(2):
        operator.restart()  # SIGKILL, then a new process
    pods = wait_for(lambda: running(kube, namespace, "m-1-train-1", 2), what="still running")
    jobs = kube.batch.list_namespaced_job(namespace).items
    assert [j.metadata.name for j in jobs] == ["m-1-train-1"]
    assert status(kube, namespace, "m-v1")["training"]["attempts"] == 1
    annotate(kube, namespace, pods, "modelops.io/kwok-complete")
    wait_for(lambda: status(kube, namespace, "m-v1").get("phase") == "Ready", what="Ready")
    assert len(kube.batch.list_namespaced_job(namespace).items) == 1
