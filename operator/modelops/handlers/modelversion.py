"""kopf registration for ModelVersions.

Reconciling is level-based and cheap (everything it reads is in the cache), so every event
that is news queues a reconcile (modelops.watch). Not kopf's create/update/delete handlers:
those store a last-handled annotation on every object and need a finalizer on every version
(two writes each that nobody reads); a version gets a finalizer only while a policy routes
traffic to it.
"""

from __future__ import annotations

from typing import Any

import kopf

from ..watch import version_event
from .indexes import MV


@kopf.on.event(*MV)
async def mv_event(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    version_event(memo.state, type, body)
