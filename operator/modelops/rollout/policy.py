"""What the rest of the operator knows of the policy that manages a model. Pure."""

from __future__ import annotations

from typing import Any


def policy_record(namespace: str | None, name: str, meta: dict[str, Any], spec: dict[str, Any],
                  status: dict[str, Any]) -> dict[Any, Any]:
    """Index entry: what ModelVersions need to know of the policy that manages their model."""
    c = ((spec.get("strategy") or {}).get("canary") or {})
    return {(namespace, spec.get("model")): {
        "name": name, "created": meta.get("creationTimestamp") or "",
        "deleting": bool(meta.get("deletionTimestamp")),
        "stable": status.get("stableVersion"), "canary": status.get("canaryVersion"),
        "weight": int(status.get("canaryWeight") or 0), "replicas": int(spec.get("replicas", 1)),
        "routed": bool((c.get("trafficRouting") or {}).get("gatewayAPI")),
    }}


def governing(records: Any) -> dict[str, Any] | None:
    """The policy in charge of a model: the oldest, when several claim it."""
    items = sorted(records or [], key=lambda r: (r["created"], r["name"]))
    return items[0] if items else None
