"""kopf registrations for UpdatePolicies: one loop per policy, woken by what it watches."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import kopf

from ..indexes import Indexes, values
from ..rollout.reconcile import reconcile_policy
from ..state import State
from ..versions.reconcile import enqueue
from .indexes import UP

IDLE_RECHECK = 60.0  # seconds; also the longest a missed wake-up can delay anything
logger = logging.getLogger(__name__)


@kopf.daemon(*UP, cancellation_timeout=10)
async def up_loop(namespace: str | None, name: str, stopped: kopf.DaemonStopped,
                  memo: kopf.Memo, **kw: Any) -> None:
    """Reconcile, then sleep until the rollout's next due moment or a wake-up.

    Nothing here is state: a new process starts this loop again and reads the status.
    """
    state: State = memo.state
    ns = namespace or ""
    wake = state.wake(ns, name)
    while not stopped:
        wake.clear()
        idx = Indexes.from_kwargs(kw, memo.state)
        up = next(iter(idx.up_by_name.get((ns, name), [])), None)
        if up is None or up["metadata"].get("deletionTimestamp"):
            return
        try:
            delay = await reconcile_policy(state, up, idx)
        except Exception:  # a failed round is retried; the loop must outlive it
            logger.exception("%s/%s: reconcile failed; retrying", ns, name)
            delay = 5.0
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=min(delay or IDLE_RECHECK, IDLE_RECHECK))


@kopf.on.event(*UP)
async def up_event(namespace: str | None, name: str, spec: kopf.Spec, memo: kopf.Memo,
                   **kw: Any) -> None:
    """A policy changed (spec, annotation, status): its loop and its versions look again."""
    state: State = memo.state
    state.wake(namespace or "", name).set()
    idx = Indexes.from_kwargs(kw, memo.state)
    for mv in values(idx.mv_by_model, (namespace, spec.get("model"))):
        enqueue(state, namespace or "", mv["metadata"]["name"])
