"""Start-up: open the reconcile gate once the indexes hold everything that exists.

kopf lists each watched kind and sends every object as an event; nothing tells a handler that
a listing is over. So we count for ourselves: a metadata-only listing of the same kinds gives
the uids that exist, and the gate opens when each of them has been filed (handlers.indexes).
An object deleted between that count and kopf's listing never arrives; when the wait stops
making progress the count is taken again, and what was deleted drops out of it.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import os
import sys
import time

from ..kube import ApiError
from ..resources import DEPLOYMENTS, JOBS, MODELVERSIONS, NODES, SERVICES, UPDATEPOLICIES, Resource
from ..serving.names import MANAGED_BY, OPERATOR
from ..state import State
from ..traffic.registry import ROUTE_RESOURCES

logger = logging.getLogger(__name__)
NAMESPACES = Resource("", "v1", "namespaces", "Namespace")
OURS = f"{MANAGED_BY}={OPERATOR}"
# What the handlers watch, with the same label filters (handlers.children, handlers.nodes).
WATCHED: tuple[tuple[Resource, str | None, bool], ...] = (  # (resource, labels, namespaced)
    (MODELVERSIONS, None, True), (UPDATEPOLICIES, None, True), (DEPLOYMENTS, OURS, True),
    (SERVICES, OURS, True), (JOBS, OURS, True), (NODES, None, False))
POLL = 0.2  # seconds between looks at how many are filed
STALL_MAX = 60.0  # seconds: the longest wait between two counts when nothing arrives


def kopf_namespaces(argv: list[str]) -> list[str]:
    """The namespace patterns given to `kopf run` (-n/--namespace); none: all namespaces."""
    out, args = [], iter(argv)
    for a in args:
        if a in ("-n", "--namespace"):
            out.append(next(args, ""))
        elif a.startswith("--namespace="):
            out.append(a.split("=", 1)[1])
        elif a.startswith("-n") and not a.startswith("--"):
            out.append(a[2:].lstrip("="))
    return [p for p in out if p]


def namespace_matches(name: str, pattern: str) -> bool:
    """kopf's documented rules for a `--namespace` pattern (kopf keeps its own matcher
    private): comma-separated globs, `!` excludes; a leading exclusion implies a `*` before
    it; the first glob includes, later inclusions only re-include what an exclusion took."""
    globs = [g.strip() for g in pattern.split(",")]
    if not globs or globs[0].startswith("!"):
        globs.insert(0, "*")
    matches = first = fnmatch.fnmatch(name, globs[0])
    for glob in globs[1:]:
        if glob.startswith("!"):
            matches = matches and not fnmatch.fnmatch(name, glob.lstrip("!"))
        else:
            matches = matches or (first and fnmatch.fnmatch(name, glob))
    return matches


async def namespaces(state: State) -> list[str | None]:
    """Where to count: [None] (all namespaces) or the namespaces kopf watches."""
    patterns = kopf_namespaces(sys.argv)
    if os.environ.get("KOPF_RUN_NAMESPACE"):  # kopf's own legacy spelling
        patterns.append(os.environ["KOPF_RUN_NAMESPACE"])
    if not patterns:
        return [None]
    if not any(c in p for p in patterns for c in "*?,!"):
        return list(patterns)
    # Globs: the namespaces that exist now, matched by kopf's own rules.
    names = [ns["metadata"]["name"] for ns in await state.kube.list(NAMESPACES)]
    return [n for n in names if any(namespace_matches(n, p) for p in patterns)]


async def census(state: State) -> set[str]:
    """The uids of every object the handlers watch, as of now."""
    uids: set[str] = set()
    where = await namespaces(state)
    for res, labels, namespaced in WATCHED:
        for ns in where if namespaced else [None]:
            uids |= await state.kube.list_uids(res, ns, labels)
    for res in ROUTE_RESOURCES:
        for ns in where:
            try:
                uids |= await state.kube.list_uids(res, ns)
            except ApiError as e:
                # Not installed (404) or not granted (403): kopf watches none of them either.
                if e.status not in (403, 404):
                    raise
    return uids


async def open_gate_when_listed(state: State) -> None:
    """Set state.synced once everything that exists has been filed; log what it took."""
    started = time.monotonic()
    stall, backoff, total, said = 0.0, 2.0, 0, started
    waiting: set[str] | None = None
    while not state.synced.is_set():
        if waiting is None or stall >= backoff:
            if waiting is not None:
                backoff = min(backoff * 2, STALL_MAX)
            try:
                waiting = await census(state)
            except Exception as e:  # any failure: no reconcile runs until this succeeds
                logger.warning("start-up: counting what exists failed (%s: %s); again in %.0fs",
                               type(e).__name__, e, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, STALL_MAX)
                continue
            total, stall = len(waiting), 0.0
        before = len(waiting)
        waiting = {uid for uid in waiting if uid not in state.cache.indexes.filed}
        if not waiting:
            state.synced.set()
            logger.info("indexes hold all %d objects after %.1fs; reconciling", total,
                        time.monotonic() - started)
            return
        stall = 0.0 if len(waiting) < before else stall + POLL
        if time.monotonic() - said >= 10:  # a big cluster takes a while: say how far we are
            said = time.monotonic()
            logger.info("start-up: %d of %d objects listed", total - len(waiting), total)
        await asyncio.sleep(POLL)
