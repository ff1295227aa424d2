"""The steps that change what a route carries (setWeight, setHeaderRoute, setMirror), as the
rollout machine applies them to status, and the comparer's lifetime after mirroring. Pure."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ..api.conditions import now_iso, parse_time
from ..api.routing import HeaderMatch
from ..api.updatepolicy import CanaryStep, UpdatePolicyStatus

if TYPE_CHECKING:
    from .state import _Machine

# A gateway applies a route some time after it accepts it (Traefik: providersThrottleDuration,
# 2 s by default); the comparer outlives the last route that mirrored to it by this much.
SHADOW_GRACE = 10.0


def set_route(m: _Machine, step: CanaryStep, where: str) -> str:
    """A route step's change to status (told once, when made); what it waits for."""
    st = m.st
    if step.set_weight is not None:
        if st.canary_weight != step.set_weight:
            st.canary_weight = step.set_weight
            m.event("Normal", "WeightSet", f"{where}: canary {m.canary} at {step.set_weight}%")
        return f"{step.set_weight}%"
    if step.set_header_route is not None:
        match = list(step.set_header_route.match) or None
        if st.header_route != match:
            st.header_route = match
            m.event("Normal", "HeaderRouteSet", f"{where}: " + (
                f"requests with {describe(match)} go to {m.canary}" if match else
                "header route removed"))
        return f"the header route ({describe(match) if match else 'removed'})"
    assert step.set_mirror is not None
    mirror = step.set_mirror.percent or None
    if st.mirror_percent != mirror:
        st.mirror_percent = mirror
        m.event("Normal", "MirrorSet", f"{where}: " + (
            f"{mirror}% of requests mirrored to {m.canary} and compared" if mirror
            else "mirroring stopped"))
    return f"mirroring {mirror or 0}%"


def describe(match: list[HeaderMatch] | None) -> str:
    return " and ".join(f"header {m.header_name}: {m.header_value}" if m.header_name else
                        f"cookie {m.cookie_name}={m.cookie_value}" for m in match or [])


def settle_shadow(m: _Machine) -> None:
    """The comparer stays while mirroring, and after it until the gateway has a route that
    mirrors nowhere, plus SHADOW_GRACE; then reconcile deletes it (with Traefik's mirror).
    Level-based: its Deployment's existence is observed, the deadline is in status."""
    st = m.st
    if st.mirror_percent or not m.obs.shadow_exists:
        st.shadow_until = None
        return
    if st.shadow_until is None:
        if m.provider.mirror_released(m.split()):
            st.shadow_until = now_iso(m.now + timedelta(seconds=SHADOW_GRACE))
            m.wake_in(SHADOW_GRACE)
        return
    left = (parse_time(st.shadow_until) - m.now).total_seconds()
    if left > 0:
        m.wake_in(left)


def keeps_shadow(st: UpdatePolicyStatus, exists: bool, now: datetime) -> bool:
    """Whether the comparer is to run (or stay) after this round."""
    if st.mirror_percent:
        return True
    return exists and (st.shadow_until is None or parse_time(st.shadow_until) > now)
