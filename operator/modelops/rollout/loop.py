"""The life of one UpdatePolicy in the operator: reconcile, then sleep until the rollout's next
due moment or a wake-up (modelops.watch wakes it). One per policy, run as a kopf daemon.

Nothing here is state: a new process starts this loop again and reads the status.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import kopf

from ..state import State
from .reconcile import reconcile_policy

IDLE_RECHECK = 60.0  # seconds; also the longest a missed wake-up can delay anything
logger = logging.getLogger(__name__)


async def policy_loop(state: State, ns: str, name: str, stopped: kopf.DaemonStopped) -> None:
    wake = state.wake(ns, name)
    await state.synced.wait()  # the versions and children it steers are all in the cache
    while not stopped:
        wake.clear()
        up = state.cache.first("up_by_name", (ns, name))
        if up is not None and up["metadata"].get("deletionTimestamp"):
            return
        if up is None:  # its event has not been filed yet: it wakes us when it is
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=IDLE_RECHECK)
            continue
        try:
            delay = await reconcile_policy(state, up)
        except Exception:  # a failed round is retried; the loop must outlive it
            logger.exception("%s/%s: reconcile failed; retrying", ns, name)
            delay = 5.0
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=min(delay or IDLE_RECHECK, IDLE_RECHECK))
