"""`--watch`: redraw a view until no rollout in it is running any more."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.console import Console, RenderableType
from rich.live import Live

from .errors import FAILED, UNREACHABLE, CliError
from .views import watch_line

Summaries = list[dict[str, Any]]
# Polls that may fail in a row (an API server restart, a dropped connection) before we give up.
TOLERATED_FAILURES = 3


def _active(summaries: Summaries) -> bool:
    return any(s["rolloutActive"] for s in summaries)


def watch(fetch: Callable[[], Summaries], render: Callable[[Summaries], RenderableType],
          console: Console, interval: float = 1.0, timeout: float | None = None,
          clock: Callable[[], float] = time.monotonic,
          sleep: Callable[[float], None] = time.sleep) -> Summaries:
    """Poll `fetch` every `interval` seconds and show the result until nothing is active.

    On a terminal the view is redrawn in place (rich Live); elsewhere (a pipe, CI logs) one
    line per model is printed each time that model changes, like `kubectl get -w`.
    """
    deadline = None if timeout is None else clock() + timeout
    failures = 0
    last: Summaries = []

    def poll() -> Summaries | None:
        nonlocal failures
        try:
            got = fetch()
        except CliError as e:
            failures += 1
            if e.code != UNREACHABLE or failures > TOLERATED_FAILURES:
                raise
            return None
        failures = 0
        return got

    def timed_out() -> bool:
        return deadline is not None and clock() >= deadline

    if console.is_terminal:
        with Live(console=console, auto_refresh=False, transient=False) as live:
            while True:
                got = poll()
                if got is not None:
                    last = got
                    live.update(render(last), refresh=True)
                    if not _active(last):
                        return last
                if timed_out():
                    break
                sleep(interval)
    else:
        shown: dict[tuple[str, str], str] = {}
        while True:
            got = poll()
            if got is not None:
                last = got
                for s in last:
                    line = watch_line(s)
                    if shown.get((s["namespace"], s["model"])) != line:
                        shown[(s["namespace"], s["model"])] = line
                        console.print(line, markup=False, highlight=False, soft_wrap=True)
                if not _active(last):
                    return last
            if timed_out():
                break
            sleep(interval)
    raise CliError(f"timed out after {timeout:g}s; the rollout is still going", FAILED)
