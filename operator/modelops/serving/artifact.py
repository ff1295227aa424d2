"""How a model artifact reaches a pod: a read-only PVC mount, or an init container fetching it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .. import security
from ..settings import Settings

VOLUME = "model"


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
    fetch = {
        "name": "fetch-model",
        "image": settings.fetcher_image,
        "args": [uri, model_dir],
        "env": [e for e in env if e["name"] in ("MODEL_URI", "MODEL_DIR", "MODEL_DIGEST")],
        "volumeMounts": [{"name": VOLUME, "mountPath": model_dir}, security.TMP_MOUNT],
        # The fetcher's reason for failing lands in the ModelVersion's conditions.
        "terminationMessagePolicy": "FallbackToLogsOnError",
        # The project's own image: non-root, and it writes only the model volume and /tmp.
        "securityContext": security.container_context(None),
        "resources": security.fetcher_resources(settings),
    }
    if credentials:
        fetch["envFrom"] = [{"secretRef": {"name": credentials}}]
    return ModelSource(env, [{"name": VOLUME, "emptyDir": {}}], [mount], [fetch])
