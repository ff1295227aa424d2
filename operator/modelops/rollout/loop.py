"""A policy's rounds, from the policies' work queue (modelops.workqueue, as the versions'):
reconcile, then come back at the rollout's next due moment, on a wake-up (modelops.watch
adds the key on news), or after the queue's back-off when a round failed.

Nothing here is state: a new process lists the policies, queues each, and reads the status.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from typing import cast

from ..kube import ApiError
from ..state import State
from .reconcile import reconcile_policy

IDLE_RECHECK = 60.0  # seconds; also the longest a missed wake-up can delay anything
logger = logging.getLogger(__name__)


async def policy_key(state: State, key: Hashable) -> None:
    """A work queue worker's call: the policy under `key` as the cache has it now."""
    queue = state.policies
    assert queue is not None
    up = state.cache.policy(*cast(tuple[str, str], key))
    if up is None or up["metadata"].get("deletionTimestamp"):
        queue.forget(key)  # gone, or going: its children go with it (owner references)
        return
    try:
        delay = await reconcile_policy(state, up)
    except Exception as e:  # a failed round is retried with back-off; a bug keeps its trace
        retry = queue.add_rate_limited(key)
        logger.log(logging.WARNING if _weather(e) else logging.ERROR,
                   "%s/%s: reconcile failed (%s); retry %d in %.0fs", *cast(tuple[str, str], key),
                   e, queue.failures(key), retry, exc_info=not _weather(e))
        return
    queue.forget(key)
    queue.add_after(key, min(delay or IDLE_RECHECK, IDLE_RECHECK))


def _weather(e: Exception) -> bool:
    """An API error that may pass (a conflict, a timeout), not a bug."""
    return isinstance(e, ApiError)
