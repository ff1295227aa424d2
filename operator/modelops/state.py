"""What the operator keeps between handler calls: clients, settings, the cache, the work queue.

Nothing here is the truth about an object (that lives in its status); it only saves work.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import aiohttp

from .cache import Cache
from .kube import Kube
from .notify.sender import Sender
from .settings import Settings
from .workqueue import WorkQueue


@dataclass
class State:
    settings: Settings
    kube: Kube
    cache: Cache  # everything kept of what we watch (see modelops.cache)
    wakes: dict[tuple[str, str], asyncio.Event] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)  # failed reconciles in a row, by uid
    # versions whose pods are looked at again later (one timer each), by (namespace, name)
    rechecks: dict[tuple[str, str], asyncio.TimerHandle] = field(default_factory=dict)
    queue: WorkQueue | None = None  # of ModelVersions, (namespace, name); made at startup
    sender: Sender | None = None  # delivers policies' notifications; made at startup
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

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        if self.queue is not None:
            await self.queue.close()
        if self.sender is not None:
            await self.sender.close()
        await self.kube.close()
        if self._http is not None:
            await self._http.close()
