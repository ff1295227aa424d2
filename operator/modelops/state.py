"""What the operator keeps between handler calls: clients, settings, the work queue.

Nothing here is the truth about an object (that lives in its status); it only saves work.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from .indexes import Indexes
from .kube import Kube
from .settings import Settings
from .workqueue import WorkQueue


@dataclass
class State:
    settings: Settings
    kube: Kube
    # The status we last wrote, keyed by uid: newer than the watch cache until its event lands.
    written: dict[str, dict[str, Any]] = field(default_factory=dict)

    # Children as the API server answered our last apply, by (kind, namespace, name): newer
    # than the watch cache until the child's next event lands (handlers.children drops them).
    applied: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)

    # What the last reconciled event of each object looked like, in the parts a reconcile
    # reads (see handlers): an event that changes none of them is an echo, not news.
    seen: dict[Any, tuple[Any, ...]] = field(default_factory=dict)

    wakes: dict[tuple[str, str], asyncio.Event] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)  # failed reconciles in a row, by uid
    # versions whose pods are looked at again later (one timer each), by (namespace, name)
    rechecks: dict[tuple[str, str], asyncio.TimerHandle] = field(default_factory=dict)
    queue: WorkQueue | None = None  # of ModelVersions, (namespace, name); made at startup
    indexes: Indexes = field(default_factory=Indexes)  # the cache of what we watch
    # Set once the indexes hold everything that existed at start-up (handlers.sync): until
    # then a reconcile could take a child not yet seen for a missing one.
    synced: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)  # ours, cancelled at exit
    _http: aiohttp.ClientSession | None = None

    def wake(self, namespace: str, name: str) -> asyncio.Event:
        """Set to make a policy's loop look again now, instead of at its next due time."""
        return self.wakes.setdefault((namespace, name), asyncio.Event())

    async def http(self) -> aiohttp.ClientSession:
        """The session for Prometheus queries (not the Kubernetes API)."""
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(headers={"User-Agent": "modelops-analysis"})
        return self._http

    def objects(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(ModelVersions, UpdatePolicies) as last seen; empty before the first event."""
        idx = self.indexes
        # Called from the metrics server's thread while the event loop changes the indexes:
        # a snapshot that raced a change is simply taken again.
        for _ in range(10):
            try:
                return ([mv for group in list(idx.mv_by_name.values()) for mv in list(group)],
                        [up for group in list(idx.up_by_name.values()) for up in list(group)])
            except (RuntimeError, KeyError):  # changed size, or a key went mid-read
                continue
        return [], []

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        if self.queue is not None:
            await self.queue.close()
        await self.kube.close()
        if self._http is not None:
            await self._http.close()
