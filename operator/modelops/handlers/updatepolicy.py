"""kopf registration for UpdatePolicies: their events queue the policy (modelops.watch)."""

from __future__ import annotations

from typing import Any

import kopf

from ..watch import policy_event
from .indexes import UP


@kopf.on.event(*UP)
async def up_event(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    policy_event(memo.state, type, body)
