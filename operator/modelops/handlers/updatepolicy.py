"""kopf registrations for UpdatePolicies: one loop per policy, woken by what it watches."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import kopf

from ..indexes import values
from ..rollout.reconcile import reconcile_policy
from ..state import State
from ..versions.reconcile import enqueue
from .indexes import UP, file

IDLE_RECHECK = 60.0  # seconds; also the longest a missed wake-up can delay anything
logger = logging.getLogger(__name__)


@kopf.daemon(*UP, cancellation_timeout=10)
async def up_loop(namespace: str | None, name: str, stopped: kopf.DaemonStopped,
                  memo: kopf.Memo, **_: Any) -> None:
    """Reconcile, then sleep until the rollout's next due moment or a wake-up.

    Nothing here is state: a new process starts this loop again and reads the status.
    """
    state: State = memo.state
    ns = namespace or ""
    wake = state.wake(ns, name)
    await state.synced.wait()  # the versions and children it steers are all in the indexes
    while not stopped:
        wake.clear()
        idx = state.indexes
        up = next(iter(idx.up_by_name.get((ns, name), [])), None)
        if up is not None and up["metadata"].get("deletionTimestamp"):
            return
        if up is None:  # its event has not been filed yet: it wakes us when it is
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=IDLE_RECHECK)
            continue
        try:
            delay = await reconcile_policy(state, up, idx)
        except Exception:  # a failed round is retried; the loop must outlive it
            logger.exception("%s/%s: reconcile failed; retrying", ns, name)
            delay = 5.0
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=min(delay or IDLE_RECHECK, IDLE_RECHECK))


@kopf.on.event(*UP)
async def up_event(type: str | None, namespace: str | None, name: str, spec: kopf.Spec,
                   body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """A policy changed (spec, annotation, status): its loop and its versions look again."""
    state: State = memo.state
    file(state, "UpdatePolicy", type, body)
    state.wake(namespace or "", name).set()
    idx = state.indexes
    for mv in values(idx.mv_by_model, (namespace, spec.get("model"))):
        enqueue(state, namespace or "", mv["metadata"]["name"])
