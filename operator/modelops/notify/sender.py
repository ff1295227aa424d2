"""Delivers outbox notifications (notify.outbox) in the background: a reconcile hands over
each receiver's oldest pending one and goes on; the result waits here until the policy's
next reconcile folds it into status (and wakes it for that). Nothing here must survive a
restart: what was not folded in is still pending in status and is sent again.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Callable
from typing import Any

import aiohttp

from .. import metrics
from ..api.notifications import Notification
from ..egress import url_allowed
from ..kube import Kube
from ..resources import Resource
from ..settings import Settings
from .outbox import Result
from .payload import FORMATS, context, payload

SECRETS = Resource("", "v1", "secrets", "Secret")
TIMEOUT = 10.0
logger = logging.getLogger(__name__)


class Receiver(Exception):
    """A receiver that cannot be used as configured."""


class Sender:
    def __init__(self, kube: Kube, settings: Settings, wake: Callable[[str, str], None]) -> None:
        self.kube, self.settings, self.wake = kube, settings, wake
        self.inflight: dict[tuple[str, str, str], int] = {}  # (ns, policy, receiver) -> id
        self.results: dict[tuple[str, str], list[Result]] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self._http: aiohttp.ClientSession | None = None

    def take(self, ns: str, name: str) -> list[Result]:
        return self.results.pop((ns, name), [])

    def send(self, up: dict[str, Any], notes: list[Notification]) -> None:
        """Start delivering each note, unless its receiver has one on the way or its result
        is still to be folded in."""
        ns, name = up["metadata"]["namespace"], up["metadata"]["name"]
        done = {r.id for r in self.results.get((ns, name), [])}
        for note in notes:
            key = (ns, name, note.receiver)
            if key in self.inflight or note.id in done:
                continue
            self.inflight[key] = note.id
            task = asyncio.create_task(self._deliver(key, context(up), note))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _deliver(self, key: tuple[str, str, str], ctx: dict[str, Any],
                       note: Notification) -> None:
        ns, name, receiver = key
        try:
            url, fmt = await self._receiver(ns, receiver)
            session = await self._session()
            async with session.post(url, json=payload(note, ctx, fmt),
                                    timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as r:
                if r.status >= 300:
                    raise Receiver(f"{receiver} answered HTTP {r.status}")
            result = Result(note.id, True)
        except (Receiver, aiohttp.ClientError, TimeoutError, OSError) as e:
            result = Result(note.id, False, str(e) or type(e).__name__)
        except Exception as e:  # never lose the slot: a bug here must not stop delivery
            logger.exception("notification %s to %s", note.id, receiver)
            result = Result(note.id, False, f"{type(e).__name__}: {e}")
        metrics.NOTIFICATIONS.labels("sent" if result.ok else "failed").inc()
        self.results.setdefault((ns, name), []).append(result)
        self.inflight.pop(key, None)
        self.wake(ns, name)

    async def _receiver(self, ns: str, receiver: str) -> tuple[str, str]:
        where = self.settings.receivers_namespace or ns
        secret = await self.kube.get(SECRETS, where, receiver)
        if secret is None:
            raise Receiver(f"no receiver {receiver}: Secret {where}/{receiver} not found")
        data = secret.get("data") or {}
        if "url" not in data:
            raise Receiver(f"Secret {where}/{receiver} has no key `url`")
        url = base64.b64decode(data["url"]).decode().strip()
        fmt = base64.b64decode(data["format"]).decode().strip() if "format" in data else "json"
        if fmt not in FORMATS:
            raise Receiver(f"Secret {where}/{receiver}: format {fmt!r} is not one of "
                           f"{', '.join(FORMATS)}")
        if not url_allowed(url, self.settings.webhook_allow):
            # The URL is a secret: say which receiver, not where it points.
            raise Receiver(f"{receiver}'s url is not allowed by the operator's settings "
                           "(MODELOPS_WEBHOOK_ALLOW)")
        return url, fmt

    async def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(headers={"User-Agent": "modelops-notify"})
        return self._http

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self._http is not None:
            await self._http.close()
