"""kopf registrations for the objects modelops creates: changes go back to their owner."""

from __future__ import annotations

from typing import Any

import kopf

from ..watch import child_event, workload_event
from .indexes import OURS, WORKLOADS


@kopf.on.event("apps", "v1", "deployments", labels=OURS)
@kopf.on.event("", "v1", "services", labels=OURS)
@kopf.on.event("batch", "v1", "jobs", labels=OURS)
async def child_changed(type: str, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    child_event(memo.state, type, body)


@kopf.on.event(*WORKLOADS)
async def workload_changed(type: str, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Kueue's word on a queued Job (without Kueue installed, kopf watches nothing here)."""
    workload_event(memo.state, type, body)
