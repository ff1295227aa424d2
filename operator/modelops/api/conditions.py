"""Condition helpers: keep lastTransitionTime when a condition's status did not change."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def now_iso(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(ts: str) -> datetime:
    """An RFC 3339 time as status keeps it (`...Z`): the inverse of now_iso."""
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def set_condition(conditions: list[dict[str, Any]] | None, type_: str, status: bool | str,
                  reason: str, message: str, generation: int | None,
                  now: datetime) -> list[dict[str, Any]]:
    """Return a new list with `type_` set; other conditions are kept in order."""
    value = status if isinstance(status, str) else ("True" if status else "False")
    out: list[dict[str, Any]] = []
    found = False
    for cond in conditions or []:
        if cond.get("type") != type_:
            out.append(cond)
            continue
        found = True
        ltt = cond.get("lastTransitionTime") if cond.get("status") == value else None
        out.append(_cond(type_, value, reason, message, generation, ltt or now_iso(now)))
    if not found:
        out.append(_cond(type_, value, reason, message, generation, now_iso(now)))
    return out


def get_condition(conditions: list[dict[str, Any]] | None, type_: str) -> dict[str, Any] | None:
    return next((c for c in conditions or [] if c.get("type") == type_), None)


def is_true(conditions: list[dict[str, Any]] | None, type_: str) -> bool:
    c = get_condition(conditions, type_)
    return bool(c and c.get("status") == "True")


def _cond(type_: str, status: str, reason: str, message: str, generation: int | None,
          ltt: str) -> dict[str, Any]:
    c: dict[str, Any] = {"type": type_, "status": status, "reason": reason, "message": message,
                         "lastTransitionTime": ltt}
    if generation is not None:
        c["observedGeneration"] = generation
    return c


# The Valid reason of a spec the API server refused what it makes (a 4xx that sending again
# cannot change): the object waits for a new generation.
REJECTED = "RejectedByAPIServer"


def refused_as_is(status: dict[str, Any], meta: dict[str, Any]) -> bool:
    """The API server refused what this very generation of the spec makes (status says so)."""
    valid = get_condition(status.get("conditions"), "Valid") or {}
    return (valid.get("reason") == REJECTED and valid.get("observedGeneration") is not None
            and valid.get("observedGeneration") == meta.get("generation"))
