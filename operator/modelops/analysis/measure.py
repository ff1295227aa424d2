"""One analysis round: every metric's query, concurrently, judged."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import aiohttp

from ..api.conditions import now_iso
from ..api.updatepolicy import Analysis
from .judge import judge, render
from .prometheus import query


async def measure(session: aiohttp.ClientSession, analysis: Analysis, *, model: str,
                  namespace: str, canary: str, stable: str, now: datetime,
                  timeout: float) -> list[dict[str, Any]]:
    checks = analysis.metrics
    promql = [render(c.query, model=model, namespace=namespace, canary=canary, stable=stable)
              for c in checks]
    samples = await asyncio.gather(*(query(session, analysis.prometheus.address, q, timeout)
                                     for q in promql))
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
