"""kopf registrations for the routes traffic providers steer (HTTPRoutes, TrafficSplits):
watched, not fetched every round.

A kind whose CRD is not installed is simply not served (kopf says so once at start-up and
starts watching it if the CRD appears later).
"""

from __future__ import annotations

from typing import Any

import kopf

from ..traffic.registry import ROUTE_RESOURCES
from ..watch import route_event


async def route_changed(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    route_event(memo.state, type, body)


for _res in ROUTE_RESOURCES:
    kopf.on.event(_res.group, _res.version, _res.plural)(route_changed)
