"""kopf registrations for the objects modelops creates: changes go back to their owner."""

from __future__ import annotations

from typing import Any

import kopf

from ..indexes import Indexes, values
from ..serving.names import MODEL
from ..versions.reconcile import reconcile
from .indexes import OURS


@kopf.on.event("apps", "v1", "deployments", labels=OURS)
@kopf.on.event("", "v1", "services", labels=OURS)
@kopf.on.event("batch", "v1", "jobs", labels=OURS)
async def child_changed(namespace: str | None, meta: kopf.Meta, memo: kopf.Memo,
                        **kw: Any) -> None:
    """A child changed or vanished: bring its owner's world back to the plan."""
    idx = Indexes.from_kwargs(kw, memo.state)
    for ref in meta.get("ownerReferences") or []:
        if ref.get("kind") == "ModelVersion":
            for mv in values(idx.mv_by_name, (namespace, ref["name"])):
                if mv["metadata"]["uid"] == ref.get("uid"):
                    await reconcile(memo.state, mv, idx)
        elif ref.get("kind") == "UpdatePolicy":
            memo.state.wake(namespace or "", ref["name"]).set()
    # Ready replicas move canary weights: the model's policy looks again.
    for policy in values(idx.up_by_model, (namespace, (meta.get("labels") or {}).get(MODEL))):
        memo.state.wake(namespace or "", policy["name"]).set()
