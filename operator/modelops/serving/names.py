"""Names and labels of the objects modelops creates."""

from __future__ import annotations

import hashlib
import re

MANAGED_BY = "app.kubernetes.io/managed-by"
MODEL = "modelops.io/model"
VERSION = "modelops.io/version"
COMPONENT = "app.kubernetes.io/component"
OPERATOR = "modelops"
MAX_NAME = 63  # Service names are DNS-1035 labels


def version_slug(version: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", version.lower()).strip("-")


def child_name(model: str, version: str, suffix: str = "") -> str:
    """`<model>-<version>[-suffix]`, a valid DNS-1035 label, unique per (model, version).

    Versions may hold upper case, dots and underscores, which names cannot; when the slug
    differs from the version (or the name must be cut), a short hash of the exact version keeps
    `v1.0` and `v1-0` apart.
    """
    slug = version_slug(version)
    tail = f"-{suffix}" if suffix else ""
    name = f"{model}-{slug}{tail}"
    if slug == version and len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(version.encode()).hexdigest()[:6]
    room = MAX_NAME - len(model) - len(tail) - len(digest) - 2
    return f"{model}-{slug[:max(room, 0)].strip('-')}-{digest}{tail}".replace("--", "-")


def labels(model: str, version: str | None = None, component: str | None = None) -> dict[str, str]:
    out = {MANAGED_BY: OPERATOR, MODEL: model, "app.kubernetes.io/name": model}
    if version is not None:
        out[VERSION] = version
    if component:
        out[COMPONENT] = component
    return out


def owner_reference(owner: dict) -> dict:
    meta = owner["metadata"]
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": meta["name"],
            "uid": meta["uid"], "controller": True, "blockOwnerDeletion": True}
