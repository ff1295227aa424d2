"""The ModelVersion resource: one immutable version of one model (see shared API.md)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from .common import DNS1035, ApiModel, Conditions, EnvVar, Quantity, cel, validations
from .data import DataRead, Dataset, ImageRun
from .phases import VersionPhase
from .security import SecurityContext

ARTIFACT_SCHEMES = ("s3", "gs", "hf", "pvc", "http", "https", "oci")
VERSION_PATTERN = r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$"

Runtime = Literal["custom", "vllm", "triton", "torchserve", "llamacpp"]


class Artifact(ApiModel):
    uri: str = Field(
        description="Where the model's weights are. Schemes: " + ", ".join(ARTIFACT_SCHEMES)
        + ". `pvc://CLAIM/PATH` mounts the claim read-only; other schemes are fetched into the "
        "pod by an init container before the server starts.",
        pattern=r"^(" + "|".join(ARTIFACT_SCHEMES) + r")://.+",
        max_length=2048,
    )
    digest: str | None = Field(
        None, description="Optional integrity pin, `sha256:<64 hex>`: the fetched artifact must "
        "match it or the version never becomes Ready. One file: its SHA-256; several: the "
        "SHA-256 of their `sha256sum` listing sorted by path (see docs/api.md). Also passed to "
        "the server as MODEL_DIGEST.", pattern=r"^sha256:[a-f0-9]{64}$")
    credentials_secret: str | None = Field(
        None, description="A Secret in the version's namespace whose keys become the fetcher's "
        "environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL, HF_TOKEN, "
        "HF_ENDPOINT... (KServe storage's names). Never copied into status, logs or events.",
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", max_length=253)


class ServingResources(ApiModel):
    cpu: Quantity | None = Field(None, description="CPU request and limit, e.g. `2` or `500m`.")
    memory: Quantity | None = Field(None, description="Memory request and limit, e.g. `8Gi`.")
    gpu: int | None = Field(
        None, ge=0, le=64, description="GPUs per replica; becomes `nvidia.com/gpu` requests and "
        "limits, plus a toleration of the `nvidia.com/gpu` taint.")


class Toleration(ApiModel):
    key: str | None = Field(None, description="Taint key to tolerate.", max_length=316)
    operator: Literal["Exists", "Equal"] | None = Field(None, description="Exists or Equal.")
    value: str | None = Field(None, description="Taint value (with Equal).", max_length=256)
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(
        None, description="Taint effect; empty matches all.")
    toleration_seconds: int | None = Field(None, description="For NoExecute: how long to stay.")


class Serving(ApiModel):
    """How to serve this version. Absent: the version is not served."""

    model_config = {"json_schema_extra": validations(
        cel("self.runtime != 'custom' || has(self.image)",
            "serving.image is required when serving.runtime is custom "
            "(presets have a default image)",
            reason="FieldValueRequired", fieldPath=".image"),
        cel("self.runtime != 'llamacpp' || has(self.image) || !has(self.resources) "
            "|| !has(self.resources.gpu) || self.resources.gpu == 0",
            "the llamacpp preset's image is built for CPU: set serving.image to a llama-server "
            "built with CUDA to use GPUs", reason="FieldValueRequired", fieldPath=".image"),
    )}

    runtime: Runtime = Field(
        "custom", description="`custom` runs `image` as given; `vllm`, `triton`, `torchserve` "
        "and `llamacpp` (llama.cpp's llama-server on a GGUF file, CPU) are presets with a default "
        "image, arguments, port, probes, metrics and drain (see docs/llm-serving.md).")
    image: str | None = Field(None, description="Server image. Required for `custom`; overrides "
                              "the preset's image otherwise.", min_length=1, max_length=512)
    command: list[str] | None = Field(None, description="Container entrypoint (overrides the "
                                      "image's or preset's).", max_length=64)
    args: list[str] | None = Field(None, description="Container arguments (replace the preset's).",
                                   max_length=256)
    env: list[EnvVar] | None = Field(None, description="Extra environment variables.",
                                     max_length=128)
    port: int | None = Field(None, ge=1, le=65535, description="Port the server listens on "
                             "(preset default, or 8080 for custom).")
    replicas: int = Field(1, ge=0, le=1000, description="Replicas when no UpdatePolicy manages the "
                          "model; an UpdatePolicy's `replicas` takes over once it does.")
    resources: ServingResources | None = Field(None, description="Per-replica resources.")
    node_selector: dict[str, str] | None = Field(None, description="Node labels the pods require.")
    tolerations: list[Toleration] | None = Field(None, description="Extra tolerations.",
                                                 max_length=32)
    readiness_path: str | None = Field(None, description="HTTP path of the readiness probe "
                                       "(preset default, or /healthz).", pattern=r"^/.*",
                                       max_length=256)
    metrics_path: str | None = Field(None, description="HTTP path Prometheus scrapes (preset "
                                     "default, or /metrics).", pattern=r"^/.*", max_length=256)
    security_context: SecurityContext | None = Field(
        None, description="Loosens the restricted defaults of the serving pods where the "
        "runtime needs it (see docs/security.md).")


class TrainingResources(ApiModel):
    cpu: Quantity | None = Field(None, description="CPU per pod (node).")
    memory: Quantity | None = Field(None, description="Memory per pod (node).")


class TrainingStep(ApiModel):
    """One ordered stage of training; fields not given fall back to the training defaults."""

    name: str = Field(description="Step name (DNS-1035 label), shown in status.", pattern=DNS1035,
                      max_length=20)
    image: str | None = Field(None, description="Image for this step.", max_length=512)
    command: list[str] | None = Field(None, description="Command for this step.", max_length=64)
    args: list[str] | None = Field(None, description="Arguments for this step.", max_length=256)
    env: list[EnvVar] | None = Field(None, description="Extra env for this step.", max_length=128)
    nodes: int | None = Field(None, ge=1, le=512, description="Pods for this step.")
    gpus_per_node: int | None = Field(None, ge=0, le=64, description="GPUs per pod for this step.")


class Checkpoint(ApiModel):
    claim_name: str = Field(description="PersistentVolumeClaim mounted in every training pod.",
                            max_length=253)
    path: str = Field("/checkpoints", description="Mount path; exported as CHECKPOINT_DIR so the "
                      "script resumes from it after a gang restart.", pattern=r"^/.*",
                      max_length=256)


class Training(ApiModel):
    """Multi-node, multi-GPU training under torchrun; the version is trained before serving."""

    model_config = {"json_schema_extra": validations(
        cel("!has(self.priorityClass) || has(self.queueName)",
            "priorityClass is Kueue's: it needs queueName"),
    )}

    image: str = Field(description="Training image.", min_length=1, max_length=512)
    command: list[str] = Field(description="Script command; run under torchrun on every node, "
                               "e.g. [python, train.py].", min_length=1, max_length=64)
    args: list[str] | None = Field(None, description="Script arguments.", max_length=256)
    env: list[EnvVar] | None = Field(None, description="Extra environment.", max_length=128)
    nodes: int = Field(1, ge=1, le=512, description="Pods, one per node.")
    gpus_per_node: int = Field(1, ge=0, le=64, description="GPUs per pod; also torchrun's "
                               "processes per node (1 process when 0).")
    resources: TrainingResources | None = Field(None, description="CPU and memory per pod.")
    backend: Literal["nccl", "gloo"] = Field("nccl", description="torch.distributed backend.")
    steps: list[TrainingStep] | None = Field(
        None, description="Ordered stages, each a Job that starts after the previous succeeded.",
        max_length=16)
    checkpoint: Checkpoint | None = Field(None, description="Checkpoint volume for resuming.")
    max_restarts: int = Field(3, ge=0, le=100, description="Whole-gang restarts before the "
                              "version fails.")
    active_deadline_seconds: int | None = Field(None, ge=1, description="Deadline per attempt.")
    queue_name: str | None = Field(None, description="Kueue LocalQueue: the gang's Job is "
                                   "created suspended with the kueue.x-k8s.io/queue-name label "
                                   "and Kueue admits all of its pods at once (docs/training.md).",
                                   max_length=63)
    priority_class: str | None = Field(
        None, description="Kueue WorkloadPriorityClass of the gang (label "
        "kueue.x-k8s.io/priority-class): a higher one may preempt it, a lower one it may "
        "preempt, as its ClusterQueue says; needs queueName.", max_length=253,
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    data: Dataset | None = Field(None, description="Training data, fetched into every pod "
                                 "(DATA_DIR) before it starts; its digest lands in "
                                 "status.training.data.")
    output_uri: str | None = Field(None, alias="outputURI",
                                   description="Where training writes the model (exported as "
                                   "OUTPUT_URI); becomes status.artifactURI on success.",
                                   max_length=2048)
    credentials_secret: str | None = Field(
        None, description="A Secret whose keys become the environment of every training pod "
        "(to write outputURI: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL...) and "
        "of the fetcher that reads the trained model for evaluation and serving.",
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", max_length=253)
    node_selector: dict[str, str] | None = Field(None, description="Node labels pods require.")
    tolerations: list[Toleration] | None = Field(None, description="Extra tolerations.",
                                                 max_length=32)
    pod_annotations: dict[str, str] | None = Field(
        None, description="Extra annotations on every training pod (sidecar injection, "
        "scheduler hints).")
    security_context: SecurityContext | None = Field(
        None, description="Loosens the restricted defaults of the training pods where the "
        "image needs it (see docs/security.md).")


class Gate(ApiModel):
    model_config = {"json_schema_extra": validations(
        cel("has(self.min) || has(self.max)", "a gate needs min, max or both"),
        cel("!has(self.min) || !has(self.max) || self.min <= self.max", "gate min must be <= max"),
    )}

    metric: str = Field(description="Metric name in the evaluation output.", min_length=1,
                        max_length=128)
    min: float | None = Field(None, description="Lowest passing value (inclusive).")
    max: float | None = Field(None, description="Highest passing value (inclusive).")


class Evaluation(ApiModel):
    """Offline evaluation after training (or of the given artifact) before serving."""

    image: str = Field(description="Evaluation image.", min_length=1, max_length=512)
    command: list[str] = Field(description="Writes a JSON object of metric -> number to "
                               "/dev/termination-log.", min_length=1, max_length=64)
    args: list[str] | None = Field(None, description="Arguments.", max_length=256)
    env: list[EnvVar] | None = Field(None, description="Extra environment.", max_length=128)
    gates: list[Gate] | None = Field(None, description="Metric thresholds the version must meet "
                                     "to become Ready.", max_length=64)
    resources: TrainingResources | None = Field(None, description="CPU and memory of the pod.")
    gpus: int = Field(0, ge=0, le=64, description="GPUs for the evaluation pod.")
    pod_annotations: dict[str, str] | None = Field(
        None, description="Extra annotations on the evaluation pod.")
    node_selector: dict[str, str] | None = Field(None, description="Node labels the pod requires.")
    tolerations: list[Toleration] | None = Field(None, description="Extra tolerations.",
                                                 max_length=32)
    data: Dataset | None = Field(None, description="Labelled data the evaluation reads "
                                 "(DATA_DIR), fetched when each run starts: a scheduled run "
                                 "measures the version on the data there now. What each run "
                                 "read is recorded (URI and digest).")
    queue_name: str | None = Field(None, description="Kueue LocalQueue: the evaluation Job "
                                   "is created suspended and waits for Kueue to admit it.",
                                   max_length=63)
    schedule: str | None = Field(None, description="Run the evaluation again at these times "
                                 "while the version serves (fresh data, same gates): cron, 5 "
                                 "fields, UTC; or `@every DURATION`. Each run lands in "
                                 "status.evaluation.runs; one that fails its gates is a "
                                 "regression for the policy's monitoring.", max_length=256)
    history_limit: int = Field(10, ge=1, le=100, description="Scheduled runs kept in "
                               "status.evaluation.runs.")
    security_context: SecurityContext | None = Field(
        None, description="Loosens the restricted defaults of the evaluation pod where the "
        "image needs it (see docs/security.md).")


class ModelVersionSpec(ApiModel):
    """The desired version: identity, weights, and optionally serving, training, evaluation."""

    model_config = {"json_schema_extra": validations(
        cel("has(self.artifact) || (has(self.training) && has(self.training.outputURI))",
            "spec.artifact is required unless spec.training.outputURI says where training "
            "writes the model", reason="FieldValueRequired", fieldPath=".artifact"),
        cel("has(self.artifact) == has(oldSelf.artifact) && "
            "(!has(self.artifact) || self.artifact == oldSelf.artifact)",
            "spec.artifact is immutable; create a new ModelVersion instead",
            fieldPath=".artifact"),
    )}

    model: str = Field(
        description="The model this is a version of (DNS-1035 label). Immutable.",
        pattern=DNS1035, max_length=50,
        json_schema_extra=validations(cel("self == oldSelf", "spec.model is immutable")))
    version: str = Field(
        description="Version label, unique per (namespace, model): 1-63 of [A-Za-z0-9._-], "
        "starting and ending alphanumeric. Immutable.", pattern=VERSION_PATTERN,
        json_schema_extra=validations(cel("self == oldSelf", "spec.version is immutable")))
    description: str | None = Field(None, description="Free text for humans.", max_length=1024)
    artifact: Artifact | None = Field(None, description="The model's weights. Required unless "
                                      "spec.training produces them. Immutable.")
    parent_version: str | None = Field(
        None, description="The version of this model this one was derived from (retraining "
        "sets it to the version serving when it began): the lineage `kubectl modelops lineage` "
        "draws.", pattern=VERSION_PATTERN)
    serving: Serving | None = Field(None, description="How to serve; absent = not served.")
    training: Training | None = Field(None, description="Train this version first.")
    evaluation: Evaluation | None = Field(None, description="Evaluate before serving.")


class TrainingAttempt(ApiModel):
    step: str = Field(description="Step name.")
    attempt: int = Field(description="Attempt number within the step, from 1.")
    job_name: str = Field(description="The Job of this attempt.")
    result: Literal["Succeeded", "Failed"] = Field(description="How the attempt ended.")
    reason: str | None = Field(None, description="Why it failed.", max_length=1024)
    start_time: str | None = Field(None, description="When the attempt started.")
    end_time: str | None = Field(None, description="When it ended.")


class TrainingStatus(ApiModel):
    job_name: str | None = Field(None, description="The current or last training Job.")
    step: str | None = Field(None, description="The current or last step.")
    step_index: int | None = Field(None, description="Index of the current step (0-based).")
    steps: int | None = Field(None, description="Number of steps.")
    attempts: int | None = Field(None, description="Attempts of the current step so far.")
    start_time: str | None = Field(None, description="When training started.")
    attempt_start_time: str | None = Field(None, description="When the current attempt started.")
    completion_time: str | None = Field(None, description="When training finished.")
    queued_time: str | None = Field(None, description="With queueName: when the current Job "
                                    "began waiting for Kueue to admit it (again, after a "
                                    "preemption).")
    admitted_time: str | None = Field(None, description="With queueName: when Kueue last "
                                      "admitted the current Job (its whole gang at once).")
    cluster_queue: str | None = Field(None, description="The ClusterQueue that admitted it.")
    preemptions: int | None = Field(None, description="Times Kueue took the running gang's "
                                    "quota back (it resumes from its checkpoint).")
    data: DataRead | None = Field(None, description="The training data the last step read.")
    image: ImageRun | None = Field(None, description="The trainer image of the last step, by "
                                   "digest.")
    preempted_job: str | None = Field(None, description="The Job whose preemption was counted "
                                      "last (each counts once).")
    history: list[TrainingAttempt] | None = Field(
        None, description="Ended attempts, oldest first (the last 50).", max_length=50)


class EvaluationRun(ApiModel):
    run: int = Field(description="Counter of scheduled runs, from 1.")
    job_name: str = Field(description="Its Job.")
    start_time: str = Field(description="When it started.")
    end_time: str | None = Field(None, description="When it ended (absent: running).")
    metrics: dict[str, float] | None = Field(None, description="Metric -> value it wrote.")
    passed: bool | None = Field(None, description="Whether every gate held.")
    data: DataRead | None = Field(None, description="The data it read.")
    message: str | None = Field(None, description="Which gates failed, or why it failed.",
                                max_length=2048)


class EvaluationStatus(ApiModel):
    job_name: str | None = Field(None, description="The evaluation Job.")
    metrics: dict[str, float] | None = Field(None, description="Metric -> value from the "
                                             "evaluation run.")
    passed: bool | None = Field(None, description="Whether every gate held.")
    data: DataRead | None = Field(None, description="The data the evaluation read.")
    message: str | None = Field(None, description="Which gates failed, or why evaluation "
                                "could not run.", max_length=2048)
    runs: list[EvaluationRun] | None = Field(None, description="Scheduled runs "
                                             "(spec.evaluation.schedule), newest first.",
                                             max_length=100)
    schedule_from: str | None = Field(None, description="Schedule times after this one are due "
                                      "(when serving began, or the last run started).")


class ServingStatus(ApiModel):
    deployment: str | None = Field(None, description="The serving Deployment.")
    service: str | None = Field(None, description="The per-version Service.")
    replicas: int | None = Field(None, description="Replicas currently asked for.")
    ready_replicas: int | None = Field(None, description="Replicas ready now.")


class ModelVersionStatus(ApiModel):
    phase: VersionPhase | None = Field(None, description="One of " + ", ".join(VersionPhase) + ".")
    observed_generation: int | None = Field(None, description="Generation last reconciled.")
    artifact_uri: str | None = Field(None, alias="artifactURI",
                                     description="Where the weights are (trained or given).")
    conditions: Conditions | None = None
    training: TrainingStatus | None = Field(None, description="Training progress.")
    evaluation: EvaluationStatus | None = Field(None, description="Evaluation results.")
    serving: ServingStatus | None = Field(None, description="Serving children and readiness.")


def printer_columns() -> list[dict[str, Any]]:
    return [
        {"name": "Model", "type": "string", "jsonPath": ".spec.model"},
        {"name": "Version", "type": "string", "jsonPath": ".spec.version"},
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
        {"name": "Ready", "type": "integer", "jsonPath": ".status.serving.readyReplicas",
         "description": "Serving replicas ready now"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]
