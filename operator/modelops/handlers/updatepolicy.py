"""kopf registrations for UpdatePolicies: one loop per policy, woken by what it watches."""

from __future__ import annotations

from typing import Any

import kopf

from ..rollout.loop import policy_loop
from ..watch import policy_event
from .indexes import UP


@kopf.daemon(*UP, cancellation_timeout=10)
async def up_loop(namespace: str | None, name: str, stopped: kopf.DaemonStopped,
                  memo: kopf.Memo, **_: Any) -> None:
    await policy_loop(memo.state, namespace or "", name, stopped)


@kopf.on.event(*UP)
async def up_event(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    policy_event(memo.state, type, body)
