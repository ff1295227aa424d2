"""Monitoring of the serving version (spec.monitoring): when a measurement is due, how one
folds into status, and what a regression does. Pure; `state._Machine` calls it.

Only while no rollout or rollback is on: a canary has its own analysis, and a version on its
way in is not serving yet. Watching starts afresh for each new stable version (its counts,
not the bounded list of measurements or the last regression). A measurement without data
never counts as a failure and never breaks a row of them.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..analysis.judge import overall
from ..api.analysis import MetricResult
from ..api.conditions import parse_time
from ..api.monitoring import Measurement, MonitoringStatus, Regression
from ..api.phases import MonitoringPhase, Outcome, PolicyPhase, Verdict
from ..api.updatepolicy import Hold, UpdatePolicySpec, UpdatePolicyStatus
from .hold import message as hold_message
from .target import Target
from .verdict import typed, values
from .window import parse_duration

if TYPE_CHECKING:
    from .state import _Machine

REASON = "MonitoringRegression"


def watching(st: UpdatePolicyStatus) -> bool:
    return bool(st.stable_version) and not st.canary_version and st.incoming is None


def due(spec: UpdatePolicySpec, status: UpdatePolicyStatus | dict[str, Any],
        now: datetime) -> bool:
    """Whether the serving version is to be measured now (the round that starts watching a
    version measures nothing: its metrics' windows still hold the rollout)."""
    st = typed(status)
    ms = st.monitoring
    if spec.monitoring is None or not spec.monitoring.metrics or not watching(st) or \
            ms is None or ms.version != st.stable_version or ms.since is None:
        return False
    last = parse_time(ms.last_measurement_time or ms.since)
    return now - last >= parse_duration(spec.monitoring.interval)


def previous(st: UpdatePolicyStatus) -> str | None:
    """The version the serving one was promoted over, if it came by a promotion: a version
    that came by a rollback is not rolled back further (no ping-pong between two bad ones)."""
    for h in st.history or []:
        if h.version == st.stable_version:
            return h.from_version if h.outcome == Outcome.PROMOTED else None
    return None


def watch(m: _Machine, target: Target) -> None:
    mon, st = m.spec.monitoring, m.st
    if mon is None:
        st.monitoring = None
        return
    if not watching(st):
        return  # the rollout's analysis or a hand-over has the floor; the counts wait
    ms = st.monitoring
    interval = parse_duration(mon.interval)
    if ms is None or ms.version != st.stable_version:
        st.monitoring = MonitoringStatus(
            version=st.stable_version, phase=MonitoringPhase.WAITING, since=m.stamp,
            consecutive_failures=0, measurements=ms.measurements if ms else None,
            last_regression=ms.last_regression if ms else None)
        m.wake_in(interval.total_seconds())
        return
    if m.obs.monitoring is not None:
        fold(m, ms, m.obs.monitoring, target)
        if not watching(st):  # rolled back just now
            return
    if mon.evaluations and evaluation_failed(m, ms):
        regress(m, ms, "its scheduled evaluation failed its gates: "
                f"{m.obs.versions[ms.version or ''].evaluation_message}", target)
        if not watching(st):
            return
    if not mon.metrics:
        return
    last = parse_time(ms.last_measurement_time or ms.since or m.stamp)
    m.wake_in((last + interval - m.now).total_seconds())


def fold(m: _Machine, ms: MonitoringStatus, taken: list[dict[str, Any]],
         target: Target) -> None:
    mon = m.spec.monitoring
    assert mon is not None and ms.version is not None
    verdict = overall([r["phase"] for r in taken])
    results = [MetricResult.model_validate(r) for r in taken]
    ms.last_measurement_time = m.stamp
    ms.measurements = [Measurement(time=m.stamp, version=ms.version, phase=verdict,
                                   metrics=results),
                       *(ms.measurements or [])][: mon.history_limit]
    if verdict == Verdict.SUCCESSFUL:
        if ms.phase in (MonitoringPhase.FAILING, MonitoringPhase.REGRESSED):
            m.event("Normal", "MonitoringRecovered", f"{ms.version} meets its monitoring "
                    f"bounds again: {values(results)}")
        ms.consecutive_failures, ms.phase = 0, MonitoringPhase.HEALTHY
    elif verdict == Verdict.INCONCLUSIVE:
        if ms.phase != MonitoringPhase.REGRESSED:
            ms.phase = MonitoringPhase.NO_DATA
    else:
        ms.consecutive_failures = (ms.consecutive_failures or 0) + 1
        n = ms.consecutive_failures
        if ms.phase == MonitoringPhase.REGRESSED:
            pass  # acted on once; a success ends it
        elif n >= mon.failure_threshold:  # >=: the threshold may have been lowered mid-row
            regress(m, ms, f"{values(results)} ({n} failed measurement(s) in a row)", target)
        else:
            ms.phase = MonitoringPhase.FAILING
            m.event("Warning", "MonitoringFailed", f"{ms.version}: {values(results)} (failure "
                    f"{n} of {mon.failure_threshold} in a row)")


def evaluation_failed(m: _Machine, ms: MonitoringStatus) -> bool:
    """A scheduled evaluation of the watched version that failed since watching began, not
    taken yet (each failed run is taken once)."""
    info = m.obs.versions.get(ms.version or "")
    when = info.evaluation_failed if info else None
    if when is None or when == ms.last_evaluation_failure or ms.since is None or \
            parse_time(when) < parse_time(ms.since):
        return False
    ms.last_evaluation_failure = when
    return ms.phase != MonitoringPhase.REGRESSED


def regress(m: _Machine, ms: MonitoringStatus, why: str, target: Target) -> None:
    mon, st = m.spec.monitoring, m.st
    assert mon is not None and ms.version is not None
    ms.phase = MonitoringPhase.REGRESSED
    to = previous(st) if mon.action == "Rollback" else None
    note = ""
    if mon.action == "Rollback" and to is None:
        note = (f"; not rolled back: {ms.version} came by a rollback or is the first version, "
                "so there is no earlier version to go back to")
    elif to is not None and to not in m.obs.versions:
        note, to = f"; not rolled back: the model has no version {to} any more", None
    action = "Rollback" if to else "Notify"
    ms.last_regression = Regression(time=m.stamp, version=ms.version, action=action, to=to,
                                    message=(why + note)[:4096])
    m.event("Warning", "Regression", f"monitoring: {ms.version} regressed: {why}{note}")
    m.regression = f"{ms.version} regressed: {why}"  # retraining may take it up
    if to is None:
        return
    m.fast_rollback(to, REASON, f"monitoring: {ms.version} regressed")
    if target.version != to:
        st.hold = Hold(version=to, target=target.version, since=m.stamp, reason=REASON)
        m.say(PolicyPhase.ROLLED_BACK, hold_message(st.hold))  # as a manual rollback says
        m.event("Warning", "Held", hold_message(st.hold))
