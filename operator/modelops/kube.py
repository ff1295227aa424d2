"""The one place that talks to the Kubernetes API.

A small async REST client on aiohttp (kopf's own HTTP stack), authenticated the way kopf logs
in, so the operator needs no second generated client. Writes use server-side apply for
children and merge patches for status; every function says which verb it costs, because the
benchmarks count requests.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from datetime import UTC, datetime
from typing import Any

import aiohttp
import kopf

from .resources import EVENTS, KINDS, Resource

logger = logging.getLogger(__name__)
FIELD_MANAGER = "modelops"
METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
USER_AGENT = "modelops-operator"
MAX_EVENT_MESSAGE = 1024
REPORTING_INSTANCE = os.environ.get("HOSTNAME", "")[:128]  # the pod, in a cluster


def patch_for(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """A merge patch (RFC 7386) from old to new; keys that went away become null, at any
    depth (a merge patch merges objects, so a nested key left out would stay)."""
    out: dict[str, Any] = {}
    for k, v in new.items():
        was = old.get(k)
        if was == v:
            continue
        out[k] = patch_for(was, v) if isinstance(was, dict) and isinstance(v, dict) else v
    out.update({k: None for k in old if k not in new})
    return out


class ApiError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body
        msg = body.get("message") if isinstance(body, dict) else str(body)
        self.reason = str(msg)  # the API server's own words
        super().__init__(f"HTTP {status}: {msg}")

    @property
    def namespace_terminating(self) -> bool:
        details = self.body.get("details") if isinstance(self.body, dict) else None
        causes = (details or {}).get("causes") or []
        return any(c.get("reason") == "NamespaceTerminating" for c in causes)

    @property
    def permanent(self) -> bool:
        """The request itself is wrong (bad request, too large, invalid): sending it again
        cannot succeed. Not 403/404: those say how the cluster is now, which can change."""
        return self.status in (400, 413, 422)


def _login() -> kopf.ConnectionInfo:
    settings = kopf.OperatorSettings()
    info = kopf.login_with_service_account(settings=settings) or kopf.login_with_kubeconfig(
        settings=settings)
    if info is None:
        raise kopf.LoginError("no in-cluster service account and no kubeconfig found")
    return info


class Kube:
    """An async Kubernetes API client; create in kopf's startup, close in cleanup."""

    def __init__(self, timeout: float = 30.0) -> None:
        # The time limit is on the network (connecting, then each read), not on the whole
        # request: in a burst, requests queue for one of the pool's connections, and the wait
        # in that queue is not a failure of the API server.
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeout,
                                              sock_read=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._server = ""
        self._lock = asyncio.Lock()

    async def _connect(self) -> aiohttp.ClientSession:
        info = _login()
        self._server = info.server.rstrip("/")
        connector = aiohttp.TCPConnector(ssl=info.as_ssl_context(), limit=64)
        headers = {"User-Agent": USER_AGENT, **info.as_http_headers()}
        return aiohttp.ClientSession(connector=connector, headers=headers, timeout=self._timeout)

    async def session(self) -> aiohttp.ClientSession:
        async with self._lock:
            if self._session is None or self._session.closed:
                self._session = await self._connect()
            return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def request(self, method: str, path: str, *, body: Any = None,
                      params: dict[str, str] | None = None,
                      content_type: str = "application/json",
                      accept: str = "application/json") -> Any:
        for attempt in (1, 2):
            session = await self.session()
            data = None if body is None else json.dumps(body)
            headers = {"Content-Type": content_type, "Accept": accept}
            async with session.request(method, self._server + path, data=data, params=params,
                                       headers=headers) as resp:
                text = await resp.text()
                if resp.status == 401 and attempt == 1:
                    # Rotated in-cluster token or expired credentials: log in again, once.
                    await session.close()
                    continue
                if resp.status >= 400:
                    # A path no API serves (a CRD not installed) answers in plain text.
                    try:
                        payload = json.loads(text) if text else None
                    except ValueError:
                        payload = None
                    raise ApiError(resp.status, payload if payload is not None else text)
                return json.loads(text) if text else None
        raise AssertionError("unreachable")

    # -- verbs -----------------------------------------------------------------------------
    async def get(self, res: Resource, namespace: str | None, name: str) -> dict[str, Any] | None:
        """GET one object; None when it does not exist."""
        try:
            return dict(await self.request("GET", res.path(namespace, name)))
        except ApiError as e:
            if e.status == 404:
                return None
            raise

    async def list(self, res: Resource, namespace: str | None = None,
                   label_selector: str | None = None) -> list[dict[str, Any]]:
        """LIST; one request."""
        params = {"labelSelector": label_selector} if label_selector else None
        out = await self.request("GET", res.path(namespace), params=params)
        return list(out.get("items", []))

    async def list_uids(self, res: Resource, namespace: str | None = None,
                        label_selector: str | None = None, page: int = 500) -> set[str]:
        """The uids of what exists: metadata only, in pages (a request per `page` objects)."""
        params = {"limit": str(page)}
        if label_selector:
            params["labelSelector"] = label_selector
        uids: set[str] = set()
        while True:
            try:
                out = await self.request("GET", res.path(namespace), params=params,
                                         accept=METADATA_ONLY)
            except ApiError as e:
                if e.status == 410 and "continue" in params:  # the snapshot expired: again
                    params.pop("continue")
                    uids.clear()
                    continue
                raise
            uids.update(item["metadata"]["uid"] for item in out.get("items") or [])
            token = (out.get("metadata") or {}).get("continue")
            if not token:
                return uids
            params["continue"] = token

    async def create(self, obj: dict[str, Any]) -> bool:
        """POST; False when an object of that name already exists (one request)."""
        res = KINDS[obj["kind"]]
        try:
            await self.request("POST", res.path(obj["metadata"].get("namespace")), body=obj,
                               params={"fieldManager": FIELD_MANAGER})
            return True
        except ApiError as e:
            if e.status == 409:
                return False
            raise

    async def apply(self, obj: dict[str, Any], *, force: bool = True,
                    res: Resource | None = None) -> dict[str, Any]:
        """Server-side apply of a whole object we own (one PATCH); `res` for kinds beyond
        KINDS (a traffic provider's route)."""
        res = res or KINDS[obj["kind"]]
        meta = obj["metadata"]
        path = res.path(meta.get("namespace"), meta["name"])
        params = {"fieldManager": FIELD_MANAGER, "force": "true" if force else "false"}
        return dict(await self.request("PATCH", path, body=obj, params=params,
                                       content_type="application/apply-patch+yaml"))

    async def patch(self, res: Resource, namespace: str | None, name: str, patch: dict[str, Any],
                    *, sub: str = "", kind: str = "merge") -> dict[str, Any]:
        """A merge (or JSON) patch, of the object or a subresource such as status (one PATCH)."""
        ctype = {"merge": "application/merge-patch+json",
                 "json": "application/json-patch+json"}[kind]
        return dict(await self.request("PATCH", res.path(namespace, name, sub), body=patch,
                                       content_type=ctype))

    async def set_finalizer(self, res: Resource, obj: dict[str, Any], finalizer: str,
                            present: bool) -> None:
        """Add or remove one finalizer, leaving the others alone (one PATCH, more on conflict).

        The patch carries the resourceVersion it was computed from, so a concurrent change to
        the list is never overwritten: on a conflict the object is read again.
        """
        meta = obj["metadata"]
        ns, name = meta.get("namespace"), meta["name"]
        for _ in range(5):
            have = list(meta.get("finalizers") or [])
            if (finalizer in have) == present:
                return
            if present and meta.get("deletionTimestamp"):
                return  # the API server accepts no new finalizers on an object being deleted
            want = [f for f in have if f != finalizer] + ([finalizer] if present else [])
            try:
                await self.patch(res, ns, name, {"metadata": {
                    "finalizers": want or None, "resourceVersion": meta["resourceVersion"]}})
                return
            except ApiError as e:
                if e.status == 404:
                    return
                if e.status != 409:
                    raise
            fresh = await self.get(res, ns, name)
            if fresh is None:
                return
            meta = fresh["metadata"]
        raise ApiError(409, f"finalizers of {name}: kept changing under five attempts")

    async def event(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        """POST one core/v1 Event about `obj` (one request), as `kubectl describe` shows them.
        An event is a courtesy (the status is the record): a refusal is logged, not raised."""
        meta = obj["metadata"]
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if len(message) > MAX_EVENT_MESSAGE:  # the API server refuses longer ones
            message = message[:MAX_EVENT_MESSAGE - 3] + "..."
        body = {"apiVersion": "v1", "kind": "Event",
                "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
                "involvedObject": {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
                                   "name": meta["name"], "namespace": meta["namespace"],
                                   "uid": meta.get("uid")},
                "type": type_, "reason": reason, "message": message,
                "source": {"component": FIELD_MANAGER}, "reportingComponent": FIELD_MANAGER,
                "reportingInstance": REPORTING_INSTANCE,
                "firstTimestamp": now, "lastTimestamp": now, "count": 1}
        try:
            await self.request("POST", EVENTS.path(meta["namespace"]), body=body)
        except (ApiError, aiohttp.ClientError, TimeoutError) as e:
            logger.warning("%s/%s: event %s not posted: %s", meta["namespace"], meta["name"],
                           reason, e)

    async def delete(self, res: Resource, namespace: str | None, name: str,
                     propagation: str = "Background") -> bool:
        """DELETE; False when it was already gone."""
        try:
            await self.request("DELETE", res.path(namespace, name),
                               body={"propagationPolicy": propagation})
            return True
        except ApiError as e:
            if e.status == 404:
                return False
            raise
