"""Query Prometheus's HTTP API: bounded in time and size, limited to allowed addresses."""

from __future__ import annotations

import json
import math

import aiohttp

from .judge import Sample

MAX_BYTES = 1 << 20  # a single-number query has no business returning more


async def query(session: aiohttp.ClientSession, address: str, promql: str,
                timeout: float = 5.0) -> Sample:
    """One instant query; anything but exactly one finite-or-NaN number is a gap, not a value."""
    url = address.rstrip("/") + "/api/v1/query"
    try:
        async with session.get(url, params={"query": promql},
                               timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            raw = await resp.content.read(MAX_BYTES + 1)
            if len(raw) > MAX_BYTES:
                return Sample(None, f"the response is over {MAX_BYTES} bytes")
            if resp.status != 200:
                return Sample(None, f"Prometheus answered HTTP {resp.status}: "
                                    f"{raw[:200].decode(errors='replace')}")
    except TimeoutError:
        return Sample(None, f"Prometheus did not answer within {timeout:g}s")
    except aiohttp.ClientError as e:
        return Sample(None, f"Prometheus is unreachable: {e}")
    return parse(raw)


def parse(raw: bytes) -> Sample:
    try:
        body = json.loads(raw)
        data = body["data"]
        kind, result = data["resultType"], data["result"]
    except (ValueError, KeyError, TypeError):
        return Sample(None, "Prometheus returned something that is not a query result")
    if kind == "scalar":
        return Sample(_number(result[1]))
    if kind != "vector":
        return Sample(None, f"the query returned a {kind}; it must return one number")
    if not result:
        return Sample(None, "no data: the query returned no series")
    if len(result) > 1:
        return Sample(None, f"the query returned {len(result)} series; it must return one "
                            "(aggregate it, e.g. with sum())")
    return Sample(_number(result[0]["value"][1]))


def _number(text: str) -> float:
    v = float(text)
    return v if not math.isinf(v) else math.nan
