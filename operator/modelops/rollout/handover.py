"""How traffic changes hands without an outage. Pure; `state._Machine` calls it.

The rule: the model never has fewer ready serving pods than the policy asks for, and never
none, as a Deployment with maxUnavailable 0 rolls out. So every hand-over is a surge:
- a canary step: the canary's pods come up before the stable gives any up (rollout.replicas);
- a promotion: the previous stable leaves the traffic at once but stays warm (running at full
  size) for `scaleDownDelaySeconds`, so that a rollback to it is instant (`status.outgoing`);
- a rollback of a canary whose pods share the model's Service (the `replicas` provider): the
  canary keeps its pods and its share until the stable is back at full size
  (`status.outgoing` with `serving`);
- a rollback to a version that is not warm: it comes up beside the stable, and traffic moves
  once all its replicas are ready (`status.incoming`), or not at all if they never are.
All of it lives in status, so a restart resumes a hand-over where it was.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from ..api.conditions import now_iso, parse_time
from ..api.phases import Outcome, PolicyPhase
from ..api.updatepolicy import HistoryEntry, Incoming, Outgoing

if TYPE_CHECKING:
    from .state import _Machine


def keep_warm(m: _Machine, version: str | None) -> None:
    """The stable that just handed over stays warm (or goes at once with no delay)."""
    delay = m.spec.scale_down_delay_seconds
    if not version or version == m.st.stable_version:
        return
    if delay <= 0:  # a route may still name it: it goes once the route is rewritten
        m.st.outgoing = m.provider.leaving(version, m.spec.replicas, whole=True)
        return
    m.st.outgoing = Outgoing(version=version, replicas=m.spec.replicas, serving=False,
                             until=now_iso(m.now + timedelta(seconds=delay)))
    m.wake_in(delay)


def drain_canary(m: _Machine, canary: str, replicas: int) -> None:
    """A canary that ends without promotion: where its pods carry part of the model's traffic,
    they keep it until the stable has all its replicas ready again. A stable that is whole
    already (a canary whose pods never got ready took nothing from it) lets the canary go at
    once: no later event would come to settle it. Where a route carries the weight, the canary
    keeps its pods until the gateway has the route without it, and scaleDownDelaySeconds more
    (a gateway applies a route a moment after it accepts it; Argo Rollouts waits likewise)."""
    whole = m.ready(m.st.stable_version) >= m.spec.replicas
    m.st.outgoing = m.provider.leaving(canary, replicas, whole) if replicas > 0 else None


def settle_outgoing(m: _Machine) -> None:
    """Let a leaving version go once it may: drained, or its warm time is over (then it is
    forgotten once its pods are gone)."""
    st, out = m.st, m.st.outgoing
    if out is None:
        return
    if out.version not in m.obs.versions or out.version in (st.stable_version,
                                                             st.canary_version):
        st.outgoing = None
    elif out.serving:
        if not m.provider.released(m.split(), m.backend(out.version), m.spec.replicas):
            return
        delay = m.provider.linger(m.spec)
        if delay > 0:  # out of the route now: warm a while, as a previous stable
            out.serving, out.until = False, now_iso(m.now + timedelta(seconds=delay))
            m.wake_in(delay)
        else:
            st.outgoing = None  # nothing sends it traffic any more; its pods may go
    elif out.until and parse_time(out.until) > m.now:
        m.wake_in((parse_time(out.until) - m.now).total_seconds())
    elif out.replicas:
        out.replicas = 0  # warm time over: scale it down ...
    elif m.ready(out.version) == 0:
        st.outgoing = None  # ... and forget it once its pods are gone


def clear_for_canary(m: _Machine, canary: str) -> bool:
    """Before a canary shares the model's Service, no other version may still be in it: a
    warm version is let go first. True when the canary may start."""
    out = m.st.outgoing
    if out is not None and out.version == canary:
        m.st.outgoing = None  # the warm version is the one rolled out again: its pods serve it
        return True
    if out is None or not m.provider.blocks_canary():
        return True
    if not out.serving:
        out.replicas, out.until = 0, m.stamp
    m.say(None, f"waiting for {out.version} to leave the model's Service before the next "
          f"rollout ({m.ready(out.version)} pod(s) left)")
    return False


def rollback_to(m: _Machine, version: str, reason: str, why: str) -> None:
    """Move all traffic to a version that served before: at once if it has all its replicas
    ready (warm), else once they are (`status.incoming`)."""
    ready = m.ready(version)
    if ready >= m.spec.replicas:
        switch(m, version, reason, m.stamp, why)
        return
    st = m.st
    st.incoming = Incoming(version=version, reason=reason, since=m.stamp)
    m.say(PolicyPhase.PROGRESSING, f"rolling back to {version}: waiting for its pods "
          f"({ready}/{m.spec.replicas}); {st.stable_version} keeps all traffic meanwhile")
    m.event("Normal", "RollbackStarted", f"{why} (was {st.stable_version}); {version} scales up "
            "before it takes the traffic")
    m.wake_in(m.spec.progress_deadline_seconds + 0.5)


def settle_incoming(m: _Machine) -> None:
    """A pending rollback takes over once its version is ready, or gives up at the deadline."""
    st, inc = m.st, m.st.incoming
    if inc is None:
        return
    total, deadline = m.spec.replicas, m.spec.progress_deadline_seconds
    if inc.version not in m.obs.versions:
        st.incoming = None
        m.event("Warning", "RollbackFailed", f"rollback to {inc.version}: the model has no "
                f"version {inc.version} any more; {st.stable_version} keeps all traffic")
        return
    ready = m.ready(inc.version)
    if ready >= total:
        st.incoming = None
        switch(m, inc.version, inc.reason, inc.since, f"rollback to {inc.version}")
        return
    if m.overdue(inc.since):
        st.incoming = None
        msg = (f"rollback to {inc.version}: its pods were not ready ({ready}/{total}) within "
               f"{deadline}s; {st.stable_version} keeps all traffic")
        m.say(PolicyPhase.DEGRADED, msg)
        # Recorded like an aborted rollout: not tried again until the target changes or `retry`.
        m.history(HistoryEntry(revision=m.next_revision(), version=inc.version,
                               from_version=st.stable_version, start_time=inc.since,
                               end_time=m.stamp, outcome=Outcome.ABORTED,
                               reason="ProgressDeadlineExceeded", message=msg))
        m.event("Warning", "ProgressDeadlineExceeded", msg)
        return
    m.say(PolicyPhase.PROGRESSING, f"rolling back to {inc.version}: waiting for its pods "
          f"({ready}/{total}); {st.stable_version} keeps all traffic meanwhile")


def switch(m: _Machine, version: str, reason: str, since: str, why: str) -> None:
    st = m.st
    old = st.stable_version
    st.stable_version, st.canary_weight, st.actual_canary_weight = version, 0, 0
    m.say(PolicyPhase.ROLLED_BACK, f"rolled back to {version}: 100% of traffic once its pods "
          "were ready, steps and analysis skipped")
    m.history(HistoryEntry(revision=m.next_revision(), version=version, from_version=old,
                           start_time=since, end_time=m.stamp, outcome=Outcome.ROLLED_BACK,
                           reason=reason, message=st.message))
    m.event("Normal", "RolledBack", f"{why} (was {old}); all traffic moved")
    keep_warm(m, old)
