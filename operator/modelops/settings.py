"""Operator settings, read from MODELOPS_* environment variables once at startup."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, Field


class Settings(BaseModel):
    fetcher_image: str = Field(
        "localhost/modelops/fetcher:dev",
        description="Init-container image that downloads non-pvc artifacts into the pod "
        "(images/fetcher, built by `make images`; push it to your registry for a real cluster).")
    llamacpp_image: str = Field(
        "localhost/modelops/llama-server:dev",
        description="Image of the `llamacpp` runtime preset (images/llama-server: llama.cpp's "
        "llama-server built from pinned source by `make images`).")
    shadow_image: str = Field(
        "localhost/modelops/operator:dev",
        description="Image of the comparer that setMirror steps run (the operator's own image: "
        "`python -m modelops.shadow.server`); the chart sets the operator's image.")
    model_dir: str = Field("/mnt/models", description="Where the artifact appears in serving pods.")
    data_dir: str = Field("/mnt/data", description="Where spec.training.data and "
                          "spec.evaluation.data appear in their pods (DATA_DIR).")
    reconcile_workers: int = Field(
        64, ge=1, description="ModelVersions reconciled at once; the rest wait in a queue.")
    policy_workers: int = Field(
        16, ge=1, description="UpdatePolicies reconciled at once (a round may wait on "
        "Prometheus); the rest wait in a queue.")
    metrics_port: int = Field(9090, description="Port of the /metrics endpoint (0: off).")
    prometheus_allow: list[str] = Field(
        default_factory=list,
        description="Prometheus base URLs (prefixes) analysis may call; empty allows none but "
        "loopback and in-cluster *.svc addresses.")
    image_registries: list[str] = Field(
        default_factory=list,
        description="If set, serving/training images must start with one of these prefixes.")
    fetch_schemes: list[str] = Field(
        default_factory=lambda: ["s3", "gs", "hf", "http", "https", "oci"],
        description="Artifact URI schemes the fetcher image can download.")
    webhook_allow: list[str] = Field(
        default_factory=list,
        description="Notification webhook URLs (prefixes) receivers may name; empty allows any "
        "http(s) URL but link-local addresses.")
    receivers_namespace: str = Field(
        "", description="Where notification receivers' Secrets live; empty: each policy's own "
        "namespace (the chart sets its release namespace).")
    prometheus_timeout: float = Field(5.0, description="Seconds one analysis query may take.")
    gpu_resource: str = Field("nvidia.com/gpu", description="Extended resource name for GPUs.")
    default_cpu: str = Field("100m", description="CPU request of a serving, training or "
                             "evaluation container whose spec gives none.")
    default_memory: str = Field("256Mi", description="Memory request of a container whose spec "
                                "gives no memory (and whose runtime preset has no default).")
    default_memory_limit: str = Field("2Gi", description="Memory limit of such a container.")
    fetcher_memory_limit: str = Field("1Gi", description="Memory limit of the artifact "
                                      "fetcher (it streams to disk).")
    first_status_wait: float = Field(
        3.0, ge=0, description="Seconds a new version's Deployment gets to become ready before "
        "the version's first status (Pending) is written: most serve by then, and their one "
        "status write says Ready (under a burst the queue coalesces the rest).")
    missing_kind_recheck: float = Field(
        60.0, ge=1, description="Seconds between looks at whether a kind a policy needs and "
        "the cluster lacked (KEDA's ScaledObject) is served now.")
    peering_lifetime: int = Field(
        20, ge=5, description="HA only: seconds a replica's peering record stays valid; a "
        "standby takes over at most this long after the active replica dies.")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for name, field in cls.model_fields.items():
            raw = env.get(f"MODELOPS_{name.upper()}")
            if raw is None:
                continue
            if field.annotation == list[str]:
                values[name] = [x.strip() for x in raw.split(",") if x.strip()]
            else:
                values[name] = raw
        return cls.model_validate(values)
