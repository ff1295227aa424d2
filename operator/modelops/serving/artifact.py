"""How a model artifact reaches a pod: a read-only PVC mount, or an init container fetching it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .. import security
from ..settings import Settings

VOLUME = "model"
DATA_VOLUME = "data"
DATA_FETCHER = "fetch-data"  # training.output reads its report


@dataclass
class ModelSource:
    env: list[dict[str, Any]]
    volumes: list[dict[str, Any]]
    mounts: list[dict[str, Any]]
    init_containers: list[dict[str, Any]] = field(default_factory=list)


def split_pvc(uri: str) -> tuple[str, str]:
    """`pvc://claim/some/path` -> (`claim`, `some/path`)."""
    parts = urlsplit(uri)
    return parts.netloc, parts.path.lstrip("/")


def credentials(spec: Any) -> str | None:
    """The Secret the fetcher gets: the artifact's, or training's for a trained model."""
    if spec.artifact is not None:
        return str(spec.artifact.credentials_secret) if spec.artifact.credentials_secret else None
    return spec.training.credentials_secret if spec.training is not None else None


def model_source(uri: str, digest: str | None, model: str, version: str, settings: Settings,
                 credentials: str | None = None) -> ModelSource:
    model_dir = settings.model_dir
    env = [
        {"name": "MODEL_NAME", "value": model},
        {"name": "MODEL_VERSION", "value": version},
        {"name": "MODEL_URI", "value": uri},
        {"name": "MODEL_DIR", "value": model_dir},
    ]
    if digest:
        env.append({"name": "MODEL_DIGEST", "value": digest})
    mount = {"name": VOLUME, "mountPath": model_dir, "readOnly": True}
    if uri.startswith("pvc://"):
        claim, sub = split_pvc(uri)
        if sub:
            mount["subPath"] = sub
        volume = {"name": VOLUME, "persistentVolumeClaim": {"claimName": claim, "readOnly": True}}
        return ModelSource(env, [volume], [mount])
    fetch = fetcher("fetch-model", uri, VOLUME, model_dir, settings, credentials,
                    [e for e in env if e["name"] in ("MODEL_URI", "MODEL_DIR", "MODEL_DIGEST")])
    return ModelSource(env, [{"name": VOLUME, "emptyDir": {}}], [mount], [fetch])


def fetcher(name: str, uri: str, volume: str, path: str, settings: Settings,
            credentials: str | None, env: list[dict[str, Any]]) -> dict[str, Any]:
    """The init container that downloads `uri` into `volume` at `path` (images/fetcher)."""
    fetch = {
        "name": name,
        "image": settings.fetcher_image,
        "args": [uri, path],
        "env": env,
        "volumeMounts": [{"name": volume, "mountPath": path}, security.TMP_MOUNT],
        # The fetcher's reason for failing lands in the ModelVersion's conditions; on success
        # it reports what it fetched (training.output reads that of data).
        "terminationMessagePolicy": "FallbackToLogsOnError",
        # The project's own image: non-root, and it writes only its volume and /tmp.
        "securityContext": security.container_context(None),
        "resources": security.fetcher_resources(settings),
    }
    if credentials:
        fetch["envFrom"] = [{"secretRef": {"name": credentials}}]
    return fetch


def data_source(uri: str, digest: str | None, settings: Settings,
                credentials: str | None = None) -> ModelSource:
    """Training or evaluation data in DATA_DIR: fetched by the same fetcher as a model (its
    termination message reports the URI and digest it fetched), or a claim mounted read-only."""
    data_dir = settings.data_dir
    env = [{"name": "DATA_URI", "value": uri}, {"name": "DATA_DIR", "value": data_dir}]
    mount = {"name": DATA_VOLUME, "mountPath": data_dir, "readOnly": True}
    if uri.startswith("pvc://"):
        claim, sub = split_pvc(uri)
        if sub:
            mount["subPath"] = sub
        return ModelSource(env, [{"name": DATA_VOLUME, "persistentVolumeClaim": {
            "claimName": claim, "readOnly": True}}], [mount])
    # The fetcher reads its pin from MODEL_DIGEST, whatever it fetches.
    fetch = fetcher(DATA_FETCHER, uri, DATA_VOLUME, data_dir, settings, credentials,
                    [{"name": "MODEL_DIGEST", "value": digest}] if digest else [])
    return ModelSource(env, [{"name": DATA_VOLUME, "emptyDir": {}}], [mount], [fetch])
