"""kopf registrations for the objects modelops creates: changes go back to their owner."""

from __future__ import annotations

from typing import Any

import kopf

from ..indexes import STATUS_READ, values
from ..serving.names import MODEL
from ..versions.reconcile import enqueue
from .indexes import OURS, file


@kopf.on.event("apps", "v1", "deployments", labels=OURS)
@kopf.on.event("", "v1", "services", labels=OURS)
@kopf.on.event("batch", "v1", "jobs", labels=OURS)
async def child_changed(type: str, namespace: str | None, meta: kopf.Meta, body: kopf.Body,
                        memo: kopf.Memo, **_: Any) -> None:
    """A child changed or vanished: bring its owner's world back to the plan."""
    state = memo.state
    kept = file(state, body.get("kind", ""), type, body)
    key = (body.get("kind", ""), namespace or "", meta["name"])
    # The watch has caught up with (or gone past) what our last apply answered.
    state.applied.pop(key, None)
    if type == "DELETED":
        state.seen.pop(key, None)
    else:
        # A Deployment's status changes several times on its way to ready; most of those
        # changes (conditions, timestamps) are nothing the plan or a policy reads.
        fp = fingerprint(kept)
        if state.seen.get(key) == fp:
            return
        state.seen[key] = fp
    idx = state.indexes
    for ref in meta.get("ownerReferences") or []:
        if ref.get("kind") == "ModelVersion":
            enqueue(state, namespace or "", ref["name"])
        elif ref.get("kind") == "UpdatePolicy":
            state.wake(namespace or "", ref["name"]).set()
    # Ready replicas move canary weights: the model's policy looks again.
    for policy in values(idx.up_by_model, (namespace, (meta.get("labels") or {}).get(MODEL))):
        state.wake(namespace or "", policy["name"]).set()


def fingerprint(kept: dict[str, Any]) -> tuple[Any, ...]:
    """What a reconcile reads of a child, from the compact form the indexes keep (its spec
    as JSON text, hashed: holding every child's parsed spec is what compact() avoids)."""
    meta, status = kept["metadata"], kept["status"]
    return (meta.get("uid"), meta.get("generation"), meta.get("labels"), meta.get("annotations"),
            meta.get("ownerReferences"), meta.get("deletionTimestamp"), hash(kept["specJSON"]),
            tuple(status.get(k) for k in STATUS_READ.get(kept.get("kind") or "", ())))
