"""One analysis round: every metric's query, concurrently, judged."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import aiohttp

from ..api.analysis import MetricCheck
from ..api.conditions import now_iso
from .judge import Sample, judge, render
from .prometheus import query
from .templates import template_query


def promql(check: MetricCheck, runtime: str) -> str | None:
    """The query of a check: its own, or its template's for the canary's runtime (None: the
    runtime has no such template)."""
    if check.template:
        return template_query(runtime, check.template, check.window)
    return check.query


async def measure(session: aiohttp.ClientSession, checks: list[MetricCheck], address: str, *,
                  model: str, namespace: str, canary: str, stable: str, now: datetime,
                  timeout: float, runtime: str = "custom") -> list[dict[str, Any]]:
    """Each check's query at `address`, judged; `canary` is the version measured (the
    serving one, when monitoring)."""

    async def one(check: MetricCheck) -> Sample:
        q = promql(check, runtime)
        if q is None:  # policy validation says so too; never a pass
            return Sample(None, f"runtime {runtime} has no template {check.template}")
        q = render(q, model=model, namespace=namespace, canary=canary, stable=stable)
        return await query(session, address, q, timeout)
    samples = await asyncio.gather(*(one(c) for c in checks))
    out = []
    for check, sample in zip(checks, samples, strict=True):
        phase, message = judge(check, sample)
        r: dict[str, Any] = {"name": check.name, "phase": phase, "time": now_iso(now)}
        if sample.value is not None and sample.value == sample.value:  # NaN is not a value
            r["value"] = sample.value
        if message:
            r["message"] = message[:1024]
        out.append(r)
    return out
