"""Pure builders: a ModelVersion (as a dict) -> its serving Deployment and Service manifests."""

from __future__ import annotations

from typing import Any

from .. import security
from ..api.modelversion import ModelVersionSpec, Serving
from ..settings import Settings
from . import names
from .artifact import ModelSource, credentials, model_source
from .drain import grace_seconds, pre_stop
from .presets import Preset, resolve

GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
SERVING_LABEL = "modelops.io/serving"
SHM_VOLUME = "shm"


def selector(model: str, version: str) -> dict[str, str]:
    return {names.MODEL: model, names.VERSION: version, SERVING_LABEL: "true"}


def resources(serving: Serving, settings: Settings, default_memory: str | None
              ) -> dict[str, Any]:
    r = serving.resources
    return security.resources(r.cpu if r else None, r.memory if r else None,
                              r.gpu or 0 if r else 0, settings, default_memory)


def tolerations(user: list[Any] | None, gpus: int) -> list[dict[str, Any]]:
    out = [t.dump() for t in user or []]
    if gpus and GPU_TOLERATION not in out:
        out.append(dict(GPU_TOLERATION))
    return out


def deployment(mv: dict[str, Any], spec: ModelVersionSpec, artifact_uri: str, replicas: int,
               settings: Settings) -> dict[str, Any]:
    """`artifact_uri` is spec.artifact.uri, or status.artifactURI for a trained version."""
    assert spec.serving is not None
    serving = spec.serving
    eff = resolve(serving, settings)
    name = names.child_name(spec.model, spec.version)
    lbl = names.labels(spec.model, spec.version, "serving")
    digest = spec.artifact.digest if spec.artifact else None
    src = model_source(artifact_uri, digest, spec.model, spec.version, settings,
                       credentials(spec))
    container = server_container(spec, serving, eff, src, settings)
    gpus = serving.resources.gpu if serving.resources and serving.resources.gpu else 0
    pod: dict[str, Any] = {
        "securityContext": security.pod_context(serving.security_context, eff.run_as_user),
        "containers": [container], "volumes": [*src.volumes, security.TMP],
        "terminationGracePeriodSeconds": grace_seconds(eff)}
    if eff.shm:
        pod["volumes"].append({"name": SHM_VOLUME,
                               "emptyDir": {"medium": "Memory", "sizeLimit": eff.shm}})
    if src.init_containers:
        pod["initContainers"] = src.init_containers
    tol = tolerations(serving.tolerations, gpus)
    if tol:
        pod["tolerations"] = tol
    if serving.node_selector:
        pod["nodeSelector"] = dict(serving.node_selector)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": mv["metadata"]["namespace"], "labels": lbl,
                     "ownerReferences": [names.owner_reference(mv)]},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector(spec.model, spec.version)},
            "template": {
                "metadata": {
                    "labels": {**lbl, **selector(spec.model, spec.version)},
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(eff.metrics_port or eff.port),
                        "prometheus.io/path": eff.metrics_path,
                    },
                },
                "spec": pod,
            },
        },
    }


def server_container(spec: ModelVersionSpec, serving: Serving, eff: Preset, src: ModelSource,
                     settings: Settings) -> dict[str, Any]:
    """The `server` container: the runtime (preset and overrides), its model, its probes."""
    ports = [{"name": "http", "containerPort": eff.port, "protocol": "TCP"}]
    if eff.metrics_port and eff.metrics_port != eff.port:
        ports.append({"name": "metrics", "containerPort": eff.metrics_port, "protocol": "TCP"})
    container: dict[str, Any] = {
        "name": "server",
        "image": eff.image,
        "env": src.env + [{"name": "MODELOPS_MODEL", "value": spec.model},
                          {"name": "MODELOPS_VERSION", "value": spec.version}]
        + [e.dump() for e in serving.env or []],
        "ports": ports,
        # A server that exits says why in the ModelVersion's conditions (its last log lines).
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "readinessProbe": {"httpGet": {"path": eff.readiness_path, "port": "http"},
                           "periodSeconds": 5, "failureThreshold": 3},
        # Loading may take minutes (weights); until the server listens, liveness waits. Then a
        # server that stops listening is restarted; one that is merely unready is not.
        "startupProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 1,
                         "failureThreshold": eff.startup_seconds},
        "livenessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 10,
                          "timeoutSeconds": 5, "failureThreshold": 3},
        # A pod leaving the Service (scale-down, a version handing over) keeps answering
        # while every node's kube-proxy catches up and its generations finish (serving.drain).
        "lifecycle": {"preStop": pre_stop(eff)},
        "volumeMounts": [*src.mounts, security.TMP_MOUNT]
        + ([{"name": SHM_VOLUME, "mountPath": "/dev/shm"}] if eff.shm else []),
        "securityContext": security.container_context(serving.security_context,
                                                      eff.read_only_root),
        "resources": resources(serving, settings, eff.default_memory),
    }
    if eff.run_as_user is not None:  # the preset's image keeps its caches under HOME
        container["env"].insert(0, {"name": "HOME", "value": "/tmp"})
    if eff.command is not None:
        container["command"] = eff.command
    if eff.args:
        container["args"] = eff.args
    return container


def service(mv: dict[str, Any], spec: ModelVersionSpec) -> dict[str, Any]:
    """The per-version Service: canary analysis and Gateway API routes address it."""
    assert spec.serving is not None
    eff = resolve(spec.serving)
    ports = [{"name": "http", "port": eff.port, "targetPort": "http", "protocol": "TCP"}]
    if eff.metrics_port and eff.metrics_port != eff.port:
        ports.append({"name": "metrics", "port": eff.metrics_port, "targetPort": "metrics",
                      "protocol": "TCP"})
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": names.child_name(spec.model, spec.version),
                     "namespace": mv["metadata"]["namespace"],
                     "labels": names.labels(spec.model, spec.version, "serving"),
                     "ownerReferences": [names.owner_reference(mv)]},
        "spec": {"type": "ClusterIP", "selector": selector(spec.model, spec.version),
                 "ports": ports},
    }
