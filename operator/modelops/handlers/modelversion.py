"""kopf registrations for ModelVersions; each calls the core.

Reconciling is level-based and cheap (everything it reads is in the indexes), so every event
of a version runs it. Not kopf's create/update/delete handlers: those store a last-handled
annotation on every object and need a finalizer on every version (two writes each that
nobody reads); a version gets a finalizer only while a policy routes traffic to it.
"""

from __future__ import annotations

from typing import Any

import kopf

from ..indexes import Indexes, values
from ..versions.reconcile import forget, reconcile, slim
from .indexes import MV


@kopf.on.event(*MV)
async def mv_event(type: str, namespace: str | None, name: str, uid: str, spec: kopf.Spec,
                   body: kopf.Body, memo: kopf.Memo, **kw: Any) -> None:
    idx = Indexes.from_kwargs(kw, memo.state)
    # Its policy cares about its phase, and about it going away.
    for policy in values(idx.up_by_model, (namespace, spec.get("model"))):
        memo.state.wake(namespace or "", policy["name"]).set()
    if type != "DELETED":
        state = memo.state
        mv = slim(body)
        meta = mv["metadata"]
        # The plan reads the spec (its generation says when it changed) and the status,
        # which only we write: the event of our own status write changes nothing.
        key = (meta.get("generation"), meta.get("deletionTimestamp"), meta.get("finalizers"))
        if state.seen.get(uid) == key and state.written.get(uid) == mv["status"]:
            return
        state.seen[uid] = key
        await reconcile(state, mv, idx)
        return
    forget(memo.state, uid, namespace or "", name)
    # A duplicate of this version may now take its place.
    for _, other in values(idx.mv_versions, (namespace, spec.get("model"), spec.get("version"))):
        for mv in values(idx.mv_by_name, (namespace, other)):
            await reconcile(memo.state, mv, idx)
