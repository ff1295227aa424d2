"""kopf registrations for ModelVersions; each calls the core."""

from __future__ import annotations

from typing import Any

import kopf

from ..indexes import Indexes, values
from ..versions.deletion import deletion_blocker
from ..versions.reconcile import forget, hold_deletion, reconcile, slim
from .indexes import MV


@kopf.on.resume(*MV)
@kopf.on.create(*MV)
@kopf.on.update(*MV, field="spec")
async def mv_changed(body: kopf.Body, memo: kopf.Memo, **kw: Any) -> None:
    await reconcile(memo.state, slim(body), Indexes.from_kwargs(kw, memo.state))


@kopf.timer(*MV, interval=300, initial_delay=300)
async def mv_resync(body: kopf.Body, memo: kopf.Memo, **kw: Any) -> None:
    await reconcile(memo.state, slim(body), Indexes.from_kwargs(kw, memo.state))


@kopf.on.event(*MV)
async def mv_event(type: str, namespace: str | None, spec: kopf.Spec, memo: kopf.Memo,
                   **kw: Any) -> None:
    """Others care about a version: its policy (phase changes), waiting duplicates (deletion)."""
    idx = Indexes.from_kwargs(kw, memo.state)
    for policy in values(idx.up_by_model, (namespace, spec.get("model"))):
        memo.state.wake(namespace or "", policy["name"]).set()
    if type != "DELETED":
        return
    for _, name in values(idx.mv_versions, (namespace, spec.get("model"), spec.get("version"))):
        for mv in values(idx.mv_by_name, (namespace, name)):
            await reconcile(memo.state, mv, idx)


@kopf.on.delete(*MV)
async def mv_deleted(namespace: str | None, name: str, uid: str, spec: kopf.Spec,
                     body: kopf.Body, memo: kopf.Memo, **kw: Any) -> None:
    """The finalizer holds a version that a policy still routes traffic to."""
    idx = Indexes.from_kwargs(kw, memo.state)
    blocker = deletion_blocker(spec.get("version", ""),
                               idx.up_by_model.get((namespace, spec.get("model")), []))
    if blocker:
        await hold_deletion(memo.state, slim(body), blocker)
        raise kopf.TemporaryError(blocker, delay=15)
    forget(memo.state, uid, namespace or "", name)
