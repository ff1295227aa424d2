"""Render queries and judge measurements. Pure."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..api.analysis import MetricCheck
from ..api.phases import Verdict


@dataclass(frozen=True)
class Sample:
    """What a query returned: a value, or why there is none."""

    value: float | None
    error: str | None = None  # no data, unreachable, not a single series...


def render(query: str, *, model: str, namespace: str, canary: str, stable: str) -> str:
    """Fill in {{model}}, {{namespace}}, {{canaryVersion}}, {{stableVersion}}."""
    for key, value in (("model", model), ("namespace", namespace), ("canaryVersion", canary),
                       ("stableVersion", stable)):
        query = query.replace("{{" + key + "}}", value).replace("{{ " + key + " }}", value)
    return query


def judge(check: MetricCheck, sample: Sample) -> tuple[Verdict, str | None]:
    """(Successful | Failed | Inconclusive, message). Missing or NaN data is never a pass."""
    if sample.value is None:
        return Verdict.INCONCLUSIVE, sample.error or "no data"
    v = sample.value
    if math.isnan(v):
        return Verdict.INCONCLUSIVE, "the query returned NaN (no traffic yet?)"
    if check.min is not None and v < check.min:
        return Verdict.FAILED, f"{check.name}={v:g} is below min {check.min:g}"
    if check.max is not None and v > check.max:
        return Verdict.FAILED, f"{check.name}={v:g} is above max {check.max:g}"
    return Verdict.SUCCESSFUL, None


def overall(phases: list[str]) -> Verdict:
    """One measurement round: any failure fails it; else any gap makes it inconclusive."""
    if Verdict.FAILED in phases:
        return Verdict.FAILED
    if Verdict.INCONCLUSIVE in phases or not phases:
        return Verdict.INCONCLUSIVE
    return Verdict.SUCCESSFUL
