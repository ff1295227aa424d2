"""What the rest of the operator knows of the policy that manages a model. Pure."""

from __future__ import annotations

from typing import Any

from ..traffic.base import load_weight
from ..traffic.registry import name_in


def policy_record(namespace: str | None, name: str, meta: dict[str, Any], spec: dict[str, Any],
                  status: dict[str, Any]) -> dict[Any, Any]:
    """Index entry: what ModelVersions need to know of the policy that manages their model."""
    # Before its first version is promoted the policy has no stable; its target will be, and
    # runs at the policy's size meanwhile (scaled to zero, it would be promoted with no pods).
    first = None if status.get("stableVersion") or status.get("canaryVersion") else (
        spec.get("targetVersion"))
    return {(namespace, spec.get("model")): {
        "name": name, "created": meta.get("creationTimestamp") or "",
        "deleting": bool(meta.get("deletionTimestamp")),
        "stable": status.get("stableVersion"), "canary": status.get("canaryVersion"),
        # The canary's pods are sized for the share it sees: weight, mirror or header route.
        "weight": load_weight(int(status.get("canaryWeight") or 0),
                              int(status.get("mirrorPercent") or 0),
                              bool(status.get("headerRoute"))),
        "replicas": int(spec.get("replicas", 1)),
        "traffic": name_in(spec),
        "outgoing": status.get("outgoing"), "incoming": (status.get("incoming") or {}).get(
            "version"), "first": first,
    }}


def governing(records: Any) -> dict[str, Any] | None:
    """The policy in charge of a model: the oldest, when several claim it."""
    items = sorted(records or [], key=lambda r: (r["created"], r["name"]))
    return items[0] if items else None
