"""What an UpdatePolicy round checks and concludes without I/O: whether the operator can act
on the spec, which of its metric templates the target's runtime lacks, the metric values a
notification carries, and the Monitoring condition."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..analysis.templates import TEMPLATES, template_query
from ..api.conditions import set_condition
from ..api.phases import MonitoringPhase
from ..api.updatepolicy import UpdatePolicySpec, UpdatePolicyStatus
from ..egress import address_allowed
from ..settings import Settings
from .policy import governing
from .target import VersionInfo
from .verdict import values
from .window import check_schedule, parse_cron


def problems(spec: UpdatePolicySpec, name: str, records: Any, settings: Settings) -> list[str]:
    out = []
    owner = governing(records)
    if owner and owner["name"] != name:
        out.append(f"UpdatePolicy {owner['name']!r} already manages model {spec.model!r}; "
                   "one policy per model")
    window = spec.auto_update.window if spec.auto_update else None
    for field, cron, check in (
            ("autoUpdate.window.schedule", window and window.schedule, parse_cron),
            ("retraining.schedule", spec.retraining and spec.retraining.schedule,
             check_schedule)):
        try:
            if cron:
                check(cron)
        except ValueError as e:
            out.append(f"{field}: {e}")
    for field, ref in (("analysis", spec.analysis and spec.analysis.prometheus),
                       ("monitoring", spec.monitoring and spec.monitoring.prometheus)):
        if ref and not address_allowed(ref.address, settings.prometheus_allow):
            out.append(f"{field}.prometheus.address {ref.address!r} is not allowed by the "
                       "operator's settings (MODELOPS_PROMETHEUS_ALLOW)")
    return out


def missing_templates(spec: UpdatePolicySpec, versions: dict[str, VersionInfo]) -> list[str]:
    """Analysis and monitoring templates that the version this policy rolls out (its target)
    has no metric for; under autoUpdate the measurement itself says so (never a pass)."""
    target = versions.get(spec.target_version or "")
    if target is None:
        return []
    out = []
    for field, block in (("analysis", spec.analysis), ("monitoring", spec.monitoring)):
        for i, check in enumerate(block.metrics if block else []):
            if check.template and template_query(target.runtime, check.template,
                                                 check.window) is None:
                has = ", ".join(sorted(TEMPLATES.get(target.runtime, {}))) or "none"
                out.append(f"{field}.metrics[{i}].template {check.template}: version "
                           f"{target.version} runs {target.runtime}, which has no such metric "
                           f"(it has {has})")
    return out


def details(st: UpdatePolicyStatus) -> dict[str, dict[str, float]]:
    """The metric values a notification carries, by event reason."""
    out = {}
    last = st.history[0] if st.history else None
    if last and last.reason == "AnalysisFailed" and st.analysis and st.analysis.metrics:
        out["RolledBack"] = {m.name: m.value for m in st.analysis.metrics if m.value is not None}
    ms = st.monitoring
    if ms and ms.measurements:
        out["Regression"] = {m.name: m.value for m in ms.measurements[0].metrics
                             if m.value is not None}
    return out


def monitoring_condition(conds: list[dict[str, Any]], spec: UpdatePolicySpec,
                         st: UpdatePolicyStatus, gen: int | None,
                         now: datetime) -> list[dict[str, Any]]:
    """`Monitoring`: whether the serving version meets its bounds (absent without
    spec.monitoring)."""
    if spec.monitoring is None or st.monitoring is None:
        return [c for c in conds if c.get("type") != "Monitoring"]
    ms = st.monitoring
    phase = ms.phase or MonitoringPhase.WAITING
    ok = phase not in (MonitoringPhase.FAILING, MonitoringPhase.REGRESSED)
    last = ms.measurements[0] if ms.measurements else None
    last = last if last is not None and last.version == ms.version else None
    if phase == MonitoringPhase.REGRESSED and ms.last_regression:
        r = ms.last_regression
        message = f"{r.version} regressed: {r.message}" + (f"; rolled back to {r.to}"
                                                            if r.to else "")
    elif last is not None:
        message = f"{last.version}: {values(last.metrics)}"
    else:
        message = f"watching {ms.version}; first measurement after {spec.monitoring.interval}"
    return set_condition(conds, "Monitoring", ok, phase, message, gen, now)
