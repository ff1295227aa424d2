"""kopf registrations for ModelVersions; each calls the core.

Reconciling is level-based and cheap (everything it reads is in the indexes), so every event
of a version runs it. Not kopf's create/update/delete handlers: those store a last-handled
annotation on every object and need a finalizer on every version (two writes each that
nobody reads); a version gets a finalizer only while a policy routes traffic to it.
"""

from __future__ import annotations

from typing import Any

import kopf

from ..indexes import values
from ..versions.reconcile import enqueue, forget
from .indexes import MV, file


@kopf.on.event(*MV)
async def mv_event(type: str | None, namespace: str | None, name: str, uid: str, spec: kopf.Spec,
                   body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    state = memo.state
    mv = file(state, "ModelVersion", type, body)
    idx = state.indexes
    # Its policy cares about its phase, and about it going away.
    for policy in values(idx.up_by_model, (namespace, spec.get("model"))):
        state.wake(namespace or "", policy["name"]).set()
    if type == "DELETED":
        forget(state, uid)
        # A duplicate of this version may now take its place.
        for _, other in values(idx.mv_versions,
                               (namespace, spec.get("model"), spec.get("version"))):
            enqueue(state, namespace or "", other)
        return
    if type is None:  # a (re)listing: the truth as of now, newer than any note of ours
        state.written.pop(uid, None)
        state.seen.pop(uid, None)
    meta = mv["metadata"]
    # The plan reads the spec (its generation says when it changed) and the status, which
    # only we write: the event of our own status write is no news, and from now on the
    # watch knows that status as well as we do.
    key = (meta.get("generation"), meta.get("deletionTimestamp"), meta.get("finalizers"))
    if state.seen.get(uid) == key and state.written.get(uid) == mv["status"]:
        del state.written[uid]
        return
    state.seen[uid] = key
    enqueue(state, namespace or "", name)
