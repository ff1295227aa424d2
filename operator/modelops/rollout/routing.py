"""The steps that change what a route carries besides the weight (setHeaderRoute, setMirror),
and setWeight, as the rollout machine applies them to status. Pure."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..api.routing import HeaderMatch
from ..api.updatepolicy import CanaryStep

if TYPE_CHECKING:
    from .state import _Machine


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
