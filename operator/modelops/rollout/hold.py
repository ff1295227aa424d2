"""A manual rollback that GitOps can live with: hold all traffic on a version that served
before, against the target, without writing `spec` (which Git owns).

The hold lives in `status.hold`, so it survives restarts; it ends when the target changes
(Git moved on, or autoUpdate picked another version) or on the `retry` action, which rolls
the target out again with its steps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..api.phases import PolicyPhase
from ..api.updatepolicy import ROLLBACK_ACTION
from .outcomes import ABORTED
from .target import Target

if TYPE_CHECKING:
    from .state import _Machine


def take_rollback(st: dict[str, Any]) -> str | None:
    """The version of a pending `rollback:VERSION` action, taken out of the status."""
    action = st.get("pendingAction") or ""
    if not action.startswith(ROLLBACK_ACTION):
        return None
    st.pop("pendingAction")
    return str(action[len(ROLLBACK_ACTION):])


def message(h: dict[str, Any]) -> str:
    return (f"held on {h['version']} by a manual rollback against the target "
            f"{h.get('target') or '(none)'}; the hold ends when the target changes or on "
            "`retry`")


def manual_rollback(m: _Machine, version: str, target: Target) -> None:
    st = m.st
    stable = st.get("stableVersion")
    if not stable or (version != stable and not m.in_history(version)):
        m.event("Warning", "ActionIgnored", f"rollback:{version}: {version} has not served "
                "before; a manual rollback only goes back to a version that served")
        return
    if version not in m.obs.versions:
        m.event("Warning", "ActionIgnored", f"rollback:{version}: the model has no version "
                f"{version} any more")
        return
    if target.version == version == stable and not st.get("canaryVersion"):
        m.event("Normal", "ActionIgnored", f"rollback:{version}: {version} already is the "
                "target and serves all traffic")
        return
    if st.get("canaryVersion"):
        m.end_rollout(ABORTED, "ManualRollback", f"ended by a manual rollback to {version}",
                      PolicyPhase.ROLLED_BACK)
    if version != stable:
        m.fast_rollback(version, "ManualRollback", f"manual rollback to {version}")
    if target.version == version:  # the target already agrees: nothing to hold against
        st.pop("hold", None)
        return
    st["hold"] = {"version": version, "target": target.version, "since": m.stamp}
    st.update(phase=PolicyPhase.ROLLED_BACK, message=message(st["hold"]))
    m.event("Warning", "Held", st["message"])


def held(m: _Machine, target: Target) -> bool:
    """True while the hold stands; otherwise ends it, so that the normal path runs."""
    st = m.st
    h = st["hold"]
    if target.version != h.get("target"):
        why = f"the target changed from {h.get('target')} to {target.version}"
    elif m.take_action("retry"):
        why = "retry"
        m.retrying = True
    else:
        st.update(phase=PolicyPhase.ROLLED_BACK, message=message(h))
        return True
    st.pop("hold")
    st["message"] = f"{why}: the hold on {h['version']} ended"
    m.event("Normal", "HoldEnded", st["message"])
    return False
