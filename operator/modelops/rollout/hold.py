"""A manual rollback that GitOps can live with: hold all traffic on a version that served
before, against the target, without writing `spec` (which Git owns).

The hold lives in `status.hold`, so it survives restarts; it ends when the target changes
(Git moved on, or autoUpdate picked another version) or on the `retry` action, which rolls
the target out again with its steps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..api.phases import Outcome, PolicyPhase
from ..api.updatepolicy import ROLLBACK_ACTION, Hold, UpdatePolicyStatus
from .target import Target

if TYPE_CHECKING:
    from .state import _Machine


def take_rollback(st: UpdatePolicyStatus) -> str | None:
    """The version of a pending `rollback:VERSION` action, taken out of the status."""
    action = st.pending_action or ""
    if not action.startswith(ROLLBACK_ACTION):
        return None
    st.pending_action = None
    return str(action[len(ROLLBACK_ACTION):])


def message(h: Hold) -> str:
    by = "a regression in monitoring" if h.reason == "MonitoringRegression" else \
        "a manual rollback"
    return (f"held on {h.version} by {by} against the target {h.target or '(none)'}; the "
            "hold ends when the target changes or on `retry`")


def manual_rollback(m: _Machine, version: str, target: Target) -> None:
    st = m.st
    stable = st.stable_version
    if not stable or (version != stable and not m.in_history(version)):
        m.event("Warning", "ActionIgnored", f"rollback:{version}: {version} has not served "
                "before; a manual rollback only goes back to a version that served")
        return
    if version not in m.obs.versions:
        m.event("Warning", "ActionIgnored", f"rollback:{version}: the model has no version "
                f"{version} any more")
        return
    if target.version == version == stable and not st.canary_version:
        m.event("Normal", "ActionIgnored", f"rollback:{version}: {version} already is the "
                "target and serves all traffic")
        return
    if st.canary_version:
        m.end_rollout(Outcome.ABORTED, "ManualRollback", f"ended by a manual rollback to {version}",
                      PolicyPhase.ROLLED_BACK)
    if version != stable:
        m.fast_rollback(version, "ManualRollback", f"manual rollback to {version}")
    if target.version == version:  # the target already agrees: nothing to hold against
        st.hold = None
        return
    st.hold = Hold(version=version, target=target.version, since=m.stamp,
                   reason="ManualRollback")
    m.say(PolicyPhase.ROLLED_BACK, message(st.hold))
    m.event("Warning", "Held", message(st.hold))


def held(m: _Machine, target: Target) -> bool:
    """True while the hold stands; otherwise ends it, so that the normal path runs."""
    st = m.st
    h = st.hold
    assert h is not None
    if target.version != h.target:
        why = f"the target changed from {h.target} to {target.version}"
    elif m.take_action("retry"):
        why = "retry"
        m.retrying = True
    else:
        m.say(PolicyPhase.ROLLED_BACK, message(h))
        return True
    st.hold = None
    m.say(None, f"{why}: the hold on {h.version} ended")
    m.event("Normal", "HoldEnded", st.message or "")
    return False
