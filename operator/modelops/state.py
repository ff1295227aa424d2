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
    queue: WorkQueue | None = None  # of ModelVersions, (namespace, name); made at startup
    policies: WorkQueue | None = None  # of UpdatePolicies, likewise
    sender: Sender | None = None  # delivers policies' notifications; made at startup
    # Set once the indexes hold everything that existed at start-up (handlers.sync): until
    # then a reconcile could take a child not yet seen for a missing one.
    synced: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)  # ours, cancelled at exit
    _http: aiohttp.ClientSession | None = None

    def wake(self, namespace: str, name: str) -> None:
        """Have a policy looked at now, instead of at its next due time."""
        if self.policies is not None:
            self.policies.add((namespace, name))

    async def http(self) -> aiohttp.ClientSession:
        """The session for Prometheus queries (not the Kubernetes API)."""
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(headers={"User-Agent": "modelops-analysis"})
        return self._http

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for queue in (self.queue, self.policies):
            if queue is not None:
                await queue.close()
        if self.sender is not None:
            await self.sender.close()
        await self.kube.close()
        if self._http is not None:
            await self._http.close()
