"""Pure builders of training and evaluation Jobs and the rendezvous Service.

Each training step attempt is an Indexed Job of `nodes` pods (completion index = node rank),
each running the user's command under torchrun. Pod 0 is the rendezvous master, reachable at
`<job>-0.<service>` through a headless Service. Any pod failing fails the whole Job at once
(backoffLimit 0 plus a FailJob pod-failure policy), so no rank is left waiting for a dead
peer; the operator restarts the whole gang as a new Job.
"""

from __future__ import annotations

from typing import Any

from .. import security
from ..api.data import Dataset
from ..api.modelversion import Evaluation, ModelVersionSpec, Toleration, Training
from ..serving import names
from ..serving.artifact import ModelSource, credentials, data_source, model_source
from ..serving.builders import GPU_TOLERATION
from ..settings import Settings
from .steps import Step

MASTER_PORT = 29500
STEP_LABEL = "modelops.io/step"
ATTEMPT_LABEL = "modelops.io/attempt"
KUEUE_LABEL = "kueue.x-k8s.io/queue-name"
PRIORITY_LABEL = "kueue.x-k8s.io/priority-class"  # a WorkloadPriorityClass
COMPLETION_INDEX = "metadata.annotations['batch.kubernetes.io/job-completion-index']"


def job_name(spec: ModelVersionSpec, step: str, attempt: int) -> str:
    return names.child_name(spec.model, spec.version, f"{step}-{attempt}")


def rendezvous_name(spec: ModelVersionSpec, step: str) -> str:
    return names.child_name(spec.model, spec.version, step)


def eval_job_name(spec: ModelVersionSpec) -> str:
    return names.child_name(spec.model, spec.version, "eval")


def torchrun_command(step: Step, master_addr: str) -> list[str]:
    """torchrun around the user's command; `--no-python` runs it as given ([python, x.py])."""
    return [
        "torchrun",
        f"--nnodes={step.nodes}",
        f"--nproc-per-node={step.procs_per_node}",
        "--node-rank=$(NODE_RANK)",
        f"--master-addr={master_addr}",
        f"--master-port={MASTER_PORT}",
        "--no-python",
        *step.command,
        *step.args,
    ]


def distributed_env(step: Step, master_addr: str, backend: str) -> list[dict[str, Any]]:
    """The env every rank gets: torchrun's PET_* names and the plain names scripts read."""
    env: list[dict[str, Any]] = [
        {"name": "NODE_RANK", "valueFrom": {"fieldRef": {"fieldPath": COMPLETION_INDEX}}},
        {"name": "NNODES", "value": str(step.nodes)},
        {"name": "NPROC_PER_NODE", "value": str(step.procs_per_node)},
        {"name": "WORLD_SIZE", "value": str(step.world_size)},
        {"name": "MASTER_ADDR", "value": master_addr},
        {"name": "MASTER_PORT", "value": str(MASTER_PORT)},
        {"name": "PET_NNODES", "value": str(step.nodes)},
        {"name": "PET_NPROC_PER_NODE", "value": str(step.procs_per_node)},
        {"name": "PET_NODE_RANK", "value": "$(NODE_RANK)"},
        {"name": "PET_MASTER_ADDR", "value": master_addr},
        {"name": "PET_MASTER_PORT", "value": str(MASTER_PORT)},
        {"name": "DIST_BACKEND", "value": backend},
    ]
    if backend == "nccl":
        # A hung collective should fail the rank (and so the gang), not block it forever.
        env.append({"name": "TORCH_NCCL_ASYNC_ERROR_HANDLING", "value": "1"})
    return env


def _labels(spec: ModelVersionSpec, component: str, extra: dict[str, str]) -> dict[str, str]:
    return {**names.labels(spec.model, spec.version, component), **extra}


def _tolerations(user: list[Toleration] | None, gpus: int) -> list[dict[str, Any]]:
    out = [t.dump() for t in user or []]
    if gpus and GPU_TOLERATION not in out:
        out.append(dict(GPU_TOLERATION))
    return out


def training_job(mv: dict[str, Any], spec: ModelVersionSpec, step: Step, attempt: int,
                 settings: Settings) -> dict[str, Any]:
    t: Training = spec.training  # type: ignore[assignment]
    name = job_name(spec, step.name, attempt)
    svc = rendezvous_name(spec, step.name)
    lbl = _labels(spec, "training", {STEP_LABEL: step.name, ATTEMPT_LABEL: str(attempt)})
    pod = _training_pod(spec, t, step, attempt, f"{name}-0.{svc}", settings)
    pod["subdomain"] = svc
    job_spec: dict[str, Any] = {
        "completionMode": "Indexed",
        "completions": step.nodes,
        "parallelism": step.nodes,
        "backoffLimit": 0,
        "podFailurePolicy": {"rules": [
            {"action": "FailJob",
             "onExitCodes": {"containerName": "trainer", "operator": "NotIn", "values": [0]}},
            {"action": "FailJob", "onPodConditions": [{"type": "DisruptionTarget",
                                                       "status": "True"}]},
        ]},
        "template": {"metadata": {"labels": lbl,
                                  "annotations": dict(t.pod_annotations or {})},
                     "spec": pod},
    }
    if t.active_deadline_seconds:
        job_spec["activeDeadlineSeconds"] = t.active_deadline_seconds
    if t.queue_name:
        job_spec["suspend"] = True  # Kueue admits (unsuspends) the whole gang at once
    queue = {KUEUE_LABEL: t.queue_name} if t.queue_name else {}  # Kueue reads the Job's
    if t.queue_name and t.priority_class:
        queue[PRIORITY_LABEL] = t.priority_class
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": mv["metadata"]["namespace"],
                         "labels": {**lbl, **queue},
                         "ownerReferences": [names.owner_reference(mv)]},
            "spec": job_spec}


def _training_pod(spec: ModelVersionSpec, t: Training, step: Step, attempt: int, master: str,
                  settings: Settings) -> dict[str, Any]:
    """Every rank's pod: torchrun with the rendezvous at `master`, the checkpoint volume and
    the training data (fetched first) where the spec has them."""
    env = [
        *distributed_env(step, master, t.backend),
        {"name": "MODEL_NAME", "value": spec.model},
        {"name": "MODEL_VERSION", "value": spec.version},
        {"name": "MODELOPS_STEP", "value": step.name},
        {"name": "MODELOPS_ATTEMPT", "value": str(attempt)},
    ]
    if t.output_uri:
        env.append({"name": "OUTPUT_URI", "value": t.output_uri})
    volumes, mounts = [], []
    if t.checkpoint:
        env.append({"name": "CHECKPOINT_DIR", "value": t.checkpoint.path})
        volumes.append({"name": "checkpoint",
                        "persistentVolumeClaim": {"claimName": t.checkpoint.claim_name}})
        mounts.append({"name": "checkpoint", "mountPath": t.checkpoint.path})
    data = _data(t.data, t.credentials_secret, settings)
    container: dict[str, Any] = {
        "name": "trainer",
        "image": step.image,
        "command": torchrun_command(step, master),
        "env": env + data.env + [e.dump() for e in step.env],
        "ports": [{"name": "c10d", "containerPort": MASTER_PORT, "protocol": "TCP"}],
        "volumeMounts": [*mounts, *data.mounts, security.TMP_MOUNT],
        "securityContext": security.container_context(t.security_context),
        "resources": security.resources(t.resources.cpu if t.resources else None,
                                        t.resources.memory if t.resources else None,
                                        step.gpus_per_node, settings),
    }
    if t.credentials_secret:
        container["envFrom"] = [{"secretRef": {"name": t.credentials_secret}}]
    pod: dict[str, Any] = {"restartPolicy": "Never",
                           "securityContext": security.pod_context(t.security_context),
                           "containers": [container],
                           "volumes": [*volumes, *data.volumes, security.TMP]}
    if data.init_containers:
        pod["initContainers"] = data.init_containers
    tol = _tolerations(t.tolerations, step.gpus_per_node)
    if tol:
        pod["tolerations"] = tol
    if t.node_selector:
        pod["nodeSelector"] = dict(t.node_selector)
    return pod


def rendezvous_service(mv: dict[str, Any], spec: ModelVersionSpec, step: str) -> dict[str, Any]:
    """Headless, and publishing not-ready pods: ranks must find pod 0 before it is Ready."""
    sel = {names.MODEL: spec.model, names.VERSION: spec.version, STEP_LABEL: step}
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": rendezvous_name(spec, step),
                         "namespace": mv["metadata"]["namespace"],
                         "labels": _labels(spec, "training", {STEP_LABEL: step}),
                         "ownerReferences": [names.owner_reference(mv)]},
            "spec": {"clusterIP": "None", "publishNotReadyAddresses": True, "selector": sel,
                     "ports": [{"name": "c10d", "port": MASTER_PORT, "targetPort": MASTER_PORT,
                                "protocol": "TCP"}]}}


def evaluation_job(mv: dict[str, Any], spec: ModelVersionSpec, artifact_uri: str,
                   settings: Settings, name: str | None = None) -> dict[str, Any]:
    """One pod that writes `{"metric": number, ...}` to its termination message; `name`: a
    scheduled run's (kept a day after it ends, its result being in status by then)."""
    e: Evaluation = spec.evaluation  # type: ignore[assignment]
    src = model_source(artifact_uri, spec.artifact.digest if spec.artifact else None,
                       spec.model, spec.version, settings, credentials(spec))
    data = _data(e.data, credentials(spec), settings)
    lbl = _labels(spec, "evaluation", {})
    container: dict[str, Any] = {
        "name": "evaluator",
        "image": e.image,
        "command": list(e.command),
        "env": src.env + data.env + [{"name": "METRICS_PATH", "value": "/dev/termination-log"}]
        + [x.dump() for x in e.env or []],
        "volumeMounts": [*src.mounts, *data.mounts, security.TMP_MOUNT],
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "securityContext": security.container_context(e.security_context),
        "resources": security.resources(e.resources.cpu if e.resources else None,
                                        e.resources.memory if e.resources else None, e.gpus,
                                        settings),
    }
    if e.args:
        container["args"] = list(e.args)
    pod: dict[str, Any] = {"restartPolicy": "Never",
                           "securityContext": security.pod_context(e.security_context),
                           "containers": [container],
                           "volumes": [*src.volumes, *data.volumes, security.TMP]}
    if src.init_containers or data.init_containers:
        pod["initContainers"] = src.init_containers + data.init_containers
    tol = _tolerations(e.tolerations, e.gpus)
    if tol:
        pod["tolerations"] = tol
    if e.node_selector:
        pod["nodeSelector"] = dict(e.node_selector)
    job: dict[str, Any] = {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name or eval_job_name(spec), "namespace": mv["metadata"]["namespace"],
                     "labels": lbl, "ownerReferences": [names.owner_reference(mv)]},
        "spec": {"completions": 1, "parallelism": 1, "backoffLimit": 0,
                 "template": {"metadata": {"labels": lbl,
                                           "annotations": dict(e.pod_annotations or {})},
                              "spec": pod}}}
    if name:
        job["spec"]["ttlSecondsAfterFinished"] = 86400
    if e.queue_name:  # Kueue admits (unsuspends) it; its label is read from the Job
        job["spec"]["suspend"] = True
        job["metadata"]["labels"] = {**lbl, KUEUE_LABEL: e.queue_name}
    return job


def _data(ds: Dataset | None, secret: str | None, settings: Settings) -> ModelSource:
    if ds is None:
        return ModelSource([], [], [])
    return data_source(ds.uri, ds.digest, settings, ds.credentials_secret or secret)
