"""Analysis during a rollout: when a measurement is due, and how one round of metrics moves
the rollout (count failures and gaps, pause on too many gaps, roll back on too many
failures). Pure; `state._Machine` calls it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..analysis.judge import overall
from ..api.analysis import AnalysisStatus, MetricResult
from ..api.conditions import parse_time
from ..api.phases import AnalysisPhase, Outcome, PolicyPhase, Verdict
from ..api.updatepolicy import UpdatePolicySpec, UpdatePolicyStatus
from .window import parse_duration

if TYPE_CHECKING:
    from .state import _Machine


def typed(status: UpdatePolicyStatus | dict[str, Any]) -> UpdatePolicyStatus:
    """Status as the state machine reads it; a dict is status as the API has it."""
    return status if isinstance(status, UpdatePolicyStatus) else \
        UpdatePolicyStatus.model_validate(status)


def measurement_due(spec: UpdatePolicySpec, status: UpdatePolicyStatus | dict[str, Any],
                    now: datetime) -> bool:
    status = typed(status)
    if not spec.analysis or not status.canary_version or spec.paused:
        return False
    last = status.analysis.last_measurement_time if status.analysis else None
    return last is None or (now - parse_time(last)) >= parse_duration(spec.analysis.interval)


def analysis(m: _Machine) -> AnalysisStatus:
    if m.st.analysis is None:
        m.st.analysis = AnalysisStatus(phase=AnalysisPhase.RUNNING, failures=0, inconclusive=0)
    return m.st.analysis


def analyse(m: _Machine) -> bool:
    """Fold in a new measurement; True when it ended the rollout."""
    st, a = m.st, m.spec.analysis
    taken = m.obs.measurement
    if a is None:
        return False
    an = analysis(m)
    if taken is not None:
        verdict = overall([r["phase"] for r in taken])
        an.last_measurement_time = m.stamp
        an.metrics = [MetricResult.model_validate(r) for r in taken]
        if verdict == Verdict.FAILED:
            an.failures = (an.failures or 0) + 1
        if verdict == Verdict.INCONCLUSIVE:
            # No data before the canary has a ready pod is the canary starting (fetching,
            # loading), not a gap in the metrics: it does not count toward the limit.
            if m.ready(st.canary_version) > 0:
                an.inconclusive = (an.inconclusive or 0) + 1
        else:
            an.inconclusive = 0  # consecutive gaps matter, not old ones
            if (st.pause_reason or "").startswith("analysis inconclusive"):
                st.pause_reason = None
                m.event("Normal", "Resumed", "analysis has data again; resuming")
        an.phase = (AnalysisPhase.RUNNING if verdict == Verdict.SUCCESSFUL
                    else AnalysisPhase(verdict))
        if verdict == Verdict.FAILED:
            m.event("Warning", "AnalysisFailed", values(an.metrics) + f" (failure "
                       f"{an.failures} of {a.failure_limit} tolerated)")
    if (an.failures or 0) > a.failure_limit:
        msg = f"analysis failed {an.failures} time(s) (> failureLimit " \
              f"{a.failure_limit}): {values(an.metrics or [])}"
        an.phase = AnalysisPhase.FAILED
        if m.spec.rollback is None or m.spec.rollback.automatic:
            m.end_rollout(Outcome.ROLLED_BACK, "AnalysisFailed", msg, PolicyPhase.ROLLED_BACK)
            m.event("Warning", "RolledBack", f"{msg}; all traffic back on "
                                                f"{st.stable_version}")
            return True
        m.say(PolicyPhase.DEGRADED, msg + "; automatic rollback is off")
        return True
    if (an.inconclusive or 0) > a.inconclusive_limit and not st.pause_reason:
        st.pause_reason = (f"analysis inconclusive {an.inconclusive} time(s) in a row "
                           f"(> inconclusiveLimit {a.inconclusive_limit}): "
                           f"{values(an.metrics or [])}; resumes when data returns")
        m.event("Warning", "Paused", st.pause_reason)
    m.wake_in(parse_duration(a.interval).total_seconds())
    return False


def values(metrics: list[MetricResult]) -> str:
    parts = []
    for r in metrics:
        shown = "no data" if r.value is None else f"{r.value:g}"
        parts.append(f"{r.name}={shown} ({r.phase})")
    return ", ".join(parts) or "no metrics"
