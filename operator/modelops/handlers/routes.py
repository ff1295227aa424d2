"""kopf registrations for the routes traffic providers steer (HTTPRoutes, TrafficSplits):
watched, not fetched every round; a change wakes the policies that steer the route.

A kind whose CRD is not installed is simply not served (kopf says so once at start-up and
starts watching it if the CRD appears later).
"""

from __future__ import annotations

from typing import Any

import kopf

from ..indexes import values
from ..state import State
from ..traffic.registry import ROUTE_RESOURCES
from .indexes import file


async def route_changed(type: str | None, namespace: str | None, name: str, body: kopf.Body,
                        memo: kopf.Memo, **_: Any) -> None:
    state: State = memo.state
    kind = body.get("kind", "")
    file(state, kind, type, body)
    key = (kind, namespace or "", name)
    state.applied.pop(key, None)  # the watch has caught up with our last write
    for policy in values(state.indexes.up_by_route, (kind, namespace, name)):
        state.wake(namespace or "", policy).set()


for _res in ROUTE_RESOURCES:
    kopf.on.event(_res.group, _res.version, _res.plural)(route_changed)
