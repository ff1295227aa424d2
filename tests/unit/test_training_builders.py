"""Training Jobs: torchrun arguments, env per rank, gang failure policy, steps."""

from __future__ import annotations

from typing import Any

import pytest

from modelops.api.modelversion import ModelVersionSpec
from modelops.settings import Settings
from modelops.training.builders import (
    evaluation_job,
    rendezvous_service,
    torchrun_command,
    training_job,
)
from modelops.training.steps import effective_steps

S = Settings(fetcher_image="fetcher:1")


def spec(**training: Any) -> tuple[dict[str, Any], ModelVersionSpec]:
    raw = {"model": "llm", "version": "7",
           "training": {"image": "trainer:1", "command": ["python", "train.py"],
                        "outputURI": "s3://out/llm/7/", **training}}
    body = {"apiVersion": "modelops.io/v1alpha1", "kind": "ModelVersion",
            "metadata": {"name": "llm-7", "namespace": "ns", "uid": "u"}, "spec": raw}
    return body, ModelVersionSpec.model_validate(raw)


def job(attempt: int = 1, **training: Any) -> dict[str, Any]:
    body, s = spec(**training)
    assert s.training
    return training_job(body, s, effective_steps(s.training)[0], attempt, S)


def env(j: dict[str, Any]) -> dict[str, Any]:
    c = j["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c["env"]}


def test_two_nodes_by_eight_gpus() -> None:
    j = job(nodes=2, gpusPerNode=8, backend="nccl")
    sp = j["spec"]
    assert j["metadata"]["name"] == "llm-7-train-1"
    assert (sp["completionMode"], sp["completions"], sp["parallelism"]) == ("Indexed", 2, 2)
    assert sp["backoffLimit"] == 0
    rules = sp["podFailurePolicy"]["rules"]
    assert rules[0]["action"] == "FailJob" and rules[0]["onExitCodes"]["operator"] == "NotIn"
    pod = sp["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["subdomain"] == "llm-7-train"
    c = pod["containers"][0]
    assert c["command"] == [
        "torchrun", "--nnodes=2", "--nproc-per-node=8", "--node-rank=$(NODE_RANK)",
        "--master-addr=llm-7-train-1-0.llm-7-train", "--master-port=29500", "--no-python",
        "python", "train.py"]
    assert c["resources"]["limits"]["nvidia.com/gpu"] == "8"
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in \
        pod["tolerations"]
    e = env(j)
    assert e["NODE_RANK"] == {"fieldRef": {
        "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}
    assert (e["NNODES"], e["NPROC_PER_NODE"], e["WORLD_SIZE"]) == ("2", "8", "16")
    assert e["MASTER_ADDR"] == e["PET_MASTER_ADDR"] == "llm-7-train-1-0.llm-7-train"
    assert e["MASTER_PORT"] == e["PET_MASTER_PORT"] == "29500"
    assert e["PET_NODE_RANK"] == "$(NODE_RANK)" and e["PET_NNODES"] == "2"
    assert e["DIST_BACKEND"] == "nccl" and e["TORCH_NCCL_ASYNC_ERROR_HANDLING"] == "1"
    assert e["OUTPUT_URI"] == "s3://out/llm/7/" and e["MODELOPS_ATTEMPT"] == "1"
    names = [x["name"] for x in pod["containers"][0]["env"]]
    assert names.index("NODE_RANK") < names.index("PET_NODE_RANK")  # $(NODE_RANK) expands


def test_cpu_gloo_single_process() -> None:
    j = job(nodes=3, gpusPerNode=0, backend="gloo")
    c = j["spec"]["template"]["spec"]["containers"][0]
    assert "--nproc-per-node=1" in c["command"]
    assert "tolerations" not in j["spec"]["template"]["spec"]
    assert c["resources"] == {"requests": {"cpu": "100m", "memory": "256Mi"},
                              "limits": {"memory": "2Gi"}}  # the operator's defaults
    e = env(j)
    assert e["DIST_BACKEND"] == "gloo" and "TORCH_NCCL_ASYNC_ERROR_HANDLING" not in e
    assert e["WORLD_SIZE"] == "3"


def test_attempt_changes_name_and_master() -> None:
    j = job(attempt=3)
    assert j["metadata"]["name"] == "llm-7-train-3"
    assert j["metadata"]["labels"]["modelops.io/attempt"] == "3"
    assert env(j)["MASTER_ADDR"] == "llm-7-train-3-0.llm-7-train"


def test_checkpoint_queue_deadline_and_annotations() -> None:
    j = job(checkpoint={"claimName": "ckpt"}, queueName="gpu", activeDeadlineSeconds=600,
            podAnnotations={"a": "b"}, nodeSelector={"pool": "a100"})
    pod = j["spec"]["template"]["spec"]
    assert pod["volumes"] == [{"name": "checkpoint",
                               "persistentVolumeClaim": {"claimName": "ckpt"}},
                              {"name": "tmp", "emptyDir": {}}]
    assert pod["containers"][0]["volumeMounts"] == [{"name": "checkpoint",
                                                     "mountPath": "/checkpoints"},
                                                    {"name": "tmp", "mountPath": "/tmp"}]
    assert env(j)["CHECKPOINT_DIR"] == "/checkpoints"
    assert j["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "gpu"
    assert j["spec"]["suspend"] is True and j["spec"]["activeDeadlineSeconds"] == 600
    assert j["spec"]["template"]["metadata"]["annotations"] == {"a": "b"}
    assert pod["nodeSelector"] == {"pool": "a100"}


def test_steps_fall_back_to_training_defaults() -> None:
    _, s = spec(nodes=2, gpusPerNode=8, env=[{"name": "A", "value": "1"},
                                             {"name": "B", "value": "1"}],
                steps=[{"name": "prep", "command": ["python", "prep.py"], "nodes": 1,
                        "gpusPerNode": 0, "env": [{"name": "B", "value": "2"}]},
                       {"name": "train"}])
    assert s.training
    prep, train = effective_steps(s.training)
    assert (prep.name, prep.command, prep.nodes, prep.gpus_per_node) == (
        "prep", ["python", "prep.py"], 1, 0)
    assert {e.name: e.value for e in prep.env} == {"A": "1", "B": "2"}
    assert (train.image, train.command, train.nodes, train.gpus_per_node) == (
        "trainer:1", ["python", "train.py"], 2, 8)


@pytest.mark.parametrize(("nodes", "gpus", "world"), [(1, 0, 1), (1, 1, 1), (2, 8, 16),
                                                      (4, 2, 8)])
def test_world_size(nodes: int, gpus: int, world: int) -> None:
    _, s = spec(nodes=nodes, gpusPerNode=gpus)
    assert s.training
    step = effective_steps(s.training)[0]
    assert step.world_size == world
    assert torchrun_command(step, "m")[1:3] == [f"--nnodes={nodes}",
                                                f"--nproc-per-node={max(gpus, 1)}"]


def test_rendezvous_service_is_headless_and_publishes_unready() -> None:
    body, s = spec()
    svc = rendezvous_service(body, s, "train")
    assert svc["spec"]["clusterIP"] == "None" and svc["spec"]["publishNotReadyAddresses"]
    assert svc["spec"]["selector"]["modelops.io/step"] == "train"


def test_evaluation_job_reads_the_artifact_and_reports_by_termination_message() -> None:
    body, s = spec()
    raw = dict(body["spec"], evaluation={"image": "eval:1", "command": ["python", "eval.py"]})
    s = ModelVersionSpec.model_validate(raw)
    j = evaluation_job(body, s, "s3://out/llm/7/", S)
    c = j["spec"]["template"]["spec"]["containers"][0]
    assert j["metadata"]["name"] == "llm-7-eval"
    assert c["terminationMessagePath"] == "/dev/termination-log"
    e = {x["name"]: x.get("value") for x in c["env"]}
    assert e["MODEL_URI"] == "s3://out/llm/7/" and e["METRICS_PATH"] == "/dev/termination-log"
    assert j["spec"]["template"]["spec"]["initContainers"][0]["image"] == "fetcher:1"
