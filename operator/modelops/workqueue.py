"""A work queue of keys, as client-go's: events only mark an object dirty, workers reconcile.

kopf calls a handler per object and event. Reconciling right there means every object in a
burst reconciles at once: thousands of plans and API answers in memory together, and each
object's later events queued behind it, whole, inside kopf. Here an event costs a set lookup;
a key waits in the queue at most once however many events name it, and a fixed number of
workers take keys in order and read the freshest object from the indexes when they do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Hashable

logger = logging.getLogger(__name__)


class WorkQueue:
    def __init__(self, handle: Callable[[Hashable], Awaitable[None]], workers: int,
                 gate: asyncio.Event | None = None) -> None:
        self._handle = handle
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
            # Started by the first handler that adds a key, not at startup: the workers
            # inherit its context, where kopf keeps what kopf.event() posts through.
            loop = asyncio.get_running_loop()
            self._workers = [loop.create_task(self._work()) for _ in range(self._size)]
        if key in self._active:
            self._again.add(key)  # after this round: the round may have read older state
        elif key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)

    def add_after(self, key: Hashable, delay: float) -> None:
        asyncio.get_running_loop().call_later(delay, self.add, key)

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
        for task in self._workers:
            task.cancel()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
