"""A work queue of keys, as client-go's: events only mark an object dirty, workers reconcile.

kopf calls a handler per object and event. Reconciling right there means every object in a
burst reconciles at once: thousands of plans and API answers in memory together, and each
object's later events queued behind it, whole, inside kopf. Here an event costs a set lookup;
a key waits in the queue at most once however many events name it, and a fixed number of
workers take keys in order and read the freshest object from the indexes when they do.

As client-go's rate-limited queue: a key whose handling failed comes back after a per-key
exponential back-off (`add_rate_limited`: 1, 2, 4 ... 60 s) until it succeeds (`forget`), and
a key asked for later (`add_after`) waits on one timer, the earliest asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Hashable

logger = logging.getLogger(__name__)


class WorkQueue:
    def __init__(self, handle: Callable[[Hashable], Awaitable[None]], workers: int,
                 gate: asyncio.Event | None = None, base_delay: float = 1.0,
                 max_delay: float = 60.0) -> None:
        self._handle = handle
        self.base_delay, self.max_delay = base_delay, max_delay
        self._failures: dict[Hashable, int] = {}  # failed rounds in a row, by key
        self._timers: dict[Hashable, tuple[float, asyncio.TimerHandle]] = {}  # key -> (due, timer)
        self._gate = gate  # workers take nothing before it is set
        self._queue: asyncio.Queue[Hashable] = asyncio.Queue()
        self._queued: set[Hashable] = set()  # waiting in the queue
        self._active: set[Hashable] = set()  # being handled now
        self._again: set[Hashable] = set()  # named again while being handled
        self._size = workers
        self._workers: list[asyncio.Task[None]] = []

    def add(self, key: Hashable) -> None:
        """Reconcile `key` soon: once, however often it is added before a worker takes it."""
        if not self._workers:
            # Started by the first key, inside the running loop (not at import).
            loop = asyncio.get_running_loop()
            self._workers = [loop.create_task(self._work()) for _ in range(self._size)]
        if key in self._active:
            self._again.add(key)  # after this round: the round may have read older state
        elif key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)

    def add_after(self, key: Hashable, delay: float) -> None:
        """Add `key` in `delay` seconds; of several such asks the earliest wins (one timer)."""
        loop = asyncio.get_running_loop()
        due = loop.time() + delay
        have = self._timers.get(key)
        if have is not None:
            if have[0] <= due:
                return
            have[1].cancel()
        self._timers[key] = (due, loop.call_later(delay, self._due, key))

    def _due(self, key: Hashable) -> None:
        self._timers.pop(key, None)
        self.add(key)

    def add_rate_limited(self, key: Hashable) -> float:
        """After a failed round: add `key` again after its back-off, which doubles with each
        failure in a row. Returns the delay."""
        n = self._failures[key] = self._failures.get(key, 0) + 1
        delay = min(self.max_delay, self.base_delay * 2 ** (n - 1))
        self.add_after(key, delay)
        return delay

    def forget(self, key: Hashable) -> None:
        """The key's round succeeded (or its object is gone): its back-off starts over."""
        self._failures.pop(key, None)

    def failures(self, key: Hashable) -> int:
        return self._failures.get(key, 0)

    def __len__(self) -> int:
        return len(self._queued)

    async def _work(self) -> None:
        if self._gate is not None:
            await self._gate.wait()
        while True:
            key = await self._queue.get()
            self._queued.discard(key)
            self._active.add(key)
            try:
                await self._handle(key)
            except asyncio.CancelledError:
                raise
            except Exception:  # the handler deals with its failures; this is a bug
                logger.exception("reconciling %s failed", key)
            finally:
                self._active.discard(key)
                if key in self._again:
                    self._again.discard(key)
                    self.add(key)

    async def close(self) -> None:
        for _, timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for task in self._workers:
            task.cancel()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
