"""Polling with a deadline: the only way tests wait on a real cluster."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(fn: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.2,
             what: str = "condition") -> T:
    """Call fn until it returns something truthy; fail with the last value seen."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            last = fn()
        except Exception as e:  # a transient API error is just another "not yet"
            last = e
        else:
            if last:
                return last  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        time.sleep(interval)
