"""Convergence at scale, idle cost, API efficiency and startup, for N served ModelVersions.

The baseline creates the very same children (the operator's own pure planner builds them)
with the same HTTP client and concurrency, and waits for the same Deployments to be ready: the
ratio operator / baseline is what the operator adds over the API server's own limit.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from harness import (
    Audit,
    Proc,
    control_plane_cpu,
    count,
    cpu_since,
    fresh_namespace,
    log,
    operator,
    percentile,
    wait_gone,
)
from kubernetes import watch
from tests.support.kube import GROUP, VERSION, Kube

from modelops.kube import Kube as AsyncKube
from modelops.settings import Settings
from modelops.versions.plan import Observed, plan

CONCURRENCY = 64  # the operator's own HTTP connection limit (modelops.kube)


def manifest(i: int) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "ModelVersion",
            "metadata": {"name": f"m{i}-v1"},
            "spec": {"model": f"m{i}", "version": "1", "artifact": {"uri": f"s3://b/m{i}/1/"},
                     "serving": {"image": "example.com/server:1", "replicas": 1,
                                 "resources": {"cpu": "10m", "memory": "32Mi"}}}}


def children(ns: str, i: int) -> list[dict[str, Any]]:
    """What the operator would apply for manifest(i), built by its own planner."""
    mv = manifest(i)
    mv["metadata"].update(namespace=ns, uid="00000000-0000-0000-0000-000000000000",
                          generation=1)
    out = plan(mv, Observed(), Settings(), datetime.now(UTC)).apply
    for obj in out:
        obj["metadata"].pop("ownerReferences", None)  # no owner: the GC would delete them
    return out


async def _burst(kubeconfig: str, ns: str, n: int,
                 objects: Callable[[int], list[dict[str, Any]]], create: bool) -> dict[int, float]:
    os.environ["KUBECONFIG"] = kubeconfig  # the client logs in the way kopf does, from here
    client = AsyncKube(timeout=300)
    sem = asyncio.Semaphore(CONCURRENCY)
    done: dict[int, float] = {}

    async def one(i: int) -> None:
        async with sem:
            for obj in objects(i):
                obj["metadata"]["namespace"] = ns
                await (client.create(obj) if create else client.apply(obj))
            done[i] = time.monotonic()

    try:
        await asyncio.gather(*(one(i) for i in range(n)))
    finally:
        await client.close()
    return done


class ReadyWatch(threading.Thread):
    """Records the first moment each object of a namespace meets `ready`."""

    def __init__(self, kube: Kube, ns: str, kind: str, n: int) -> None:
        super().__init__(daemon=True)
        self.kube, self.ns, self.kind, self.n = kube, ns, kind, n
        self.ready: dict[str, float] = {}
        self.stop = False

    def _list(self, **kw: Any) -> Any:
        if self.kind == "ModelVersion":
            return self.kube.custom.list_namespaced_custom_object(
                GROUP, VERSION, self.ns, "modelversions", **kw)
        return self.kube.apps.list_namespaced_deployment(self.ns, **kw)

    def _is_ready(self, obj: dict[str, Any]) -> bool:
        # Objects arrive as plain dicts: the watch cannot read a return type from our wrapper.
        st = obj.get("status") or {}
        if self.kind == "ModelVersion":
            return bool(st.get("phase") == "Ready")
        return bool((st.get("readyReplicas") or 0) >= (obj["spec"].get("replicas") or 1))

    def run(self) -> None:
        while not self.stop and len(self.ready) < self.n:
            try:
                for ev in watch.Watch().stream(self._list, timeout_seconds=60):
                    obj = ev["object"]
                    if ev["type"] == "ERROR":
                        log(f"watch error: {str(obj)[:200]}")
                        break
                    name = obj["metadata"]["name"]
                    if name not in self.ready and self._is_ready(obj):
                        self.ready[name] = time.monotonic()
                    if self.stop or len(self.ready) >= self.n:
                        return
            except Exception as e:  # a dropped watch is re-opened, and lists again
                log(f"watch: {e}; again")

    def wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.ready) < self.n and time.monotonic() < deadline:
            time.sleep(0.2)
        self.stop = True
        if len(self.ready) < self.n:
            raise RuntimeError(f"only {len(self.ready)}/{self.n} ready after {timeout:.0f}s")


def _latencies(created: dict[int, float], ready: dict[str, float], name: Callable[[int], str],
               t0: float) -> dict[str, float]:
    lat = [ready[name(i)] - created[i] for i in created]
    # Done means every object exists and every Deployment is ready: the baseline's last
    # Services can be still on their way when its Deployments are ready.
    done = max(*ready.values(), *created.values())
    return {"total_s": done - t0, "p50_s": percentile(lat, 0.5),
            "p99_s": percentile(lat, 0.99)}


def baseline(kube: Kube, kubeconfig: str, n: int) -> dict[str, Any]:
    ns = fresh_namespace(kube, f"bench-base-{n}")
    w = ReadyWatch(kube, ns, "Deployment", n)
    w.start()
    t0, cp0 = time.monotonic(), control_plane_cpu()
    created = asyncio.run(_burst(kubeconfig, ns, n, lambda i: children(ns, i), create=False))
    w.wait(timeout=120 + n * 0.5)
    out: dict[str, Any] = _latencies(created, w.ready, lambda i: f"m{i}-1", t0)
    out["control_plane_cpu_s"] = cpu_since(cp0)
    wait_gone(kube, ns)
    return out


def converge(kube: Kube, admin: str, sa: str, n: int, idle_s: float, audit: Audit,
             restart: bool = True, **env: str) -> dict[str, Any]:
    """Operator from a clean start: burst of N, converge, idle window, restart (startup).
    `env` goes to the operator's process (PYTHONPATH: another checkout's operator)."""
    ns = fresh_namespace(kube, f"bench-op-{n}")
    op = operator(sa, **env)
    assert op.proc is not None
    proc = Proc(op.proc.pid)
    try:
        w = ReadyWatch(kube, ns, "ModelVersion", n)
        w.start()
        audit.mark()
        cpu0, t0, cp0 = proc.cpu(), time.monotonic(), control_plane_cpu()
        created = asyncio.run(_burst(admin, ns, n, lambda i: [manifest(i)], create=True))
        w.wait(timeout=120 + n * 0.5)
        out: dict[str, Any] = _latencies(created, w.ready, lambda i: f"m{i}-v1", t0)
        out["control_plane_cpu_s"] = cpu_since(cp0)
        api = count(audit.settled())
        out.update(cpu_s=proc.cpu() - cpu0, peak_rss_mib=proc.peak_rss_mib(), api=api,
                   reads_per_mv=api["reads"] / n, writes_per_mv=api["writes"] / n)
        if idle_s:
            time.sleep(5)  # let the burst's tail settle before the quiet window starts
            audit.mark()
            cpu0 = proc.cpu()
            time.sleep(idle_s)
            idle = count(audit.since_mark())
            out["idle"] = {"window_s": idle_s, "requests_per_min": idle["total"] * 60 / idle_s,
                           "writes_per_min": idle["writes"] * 60 / idle_s, "api": idle,
                           "cpu_percent": 100 * (proc.cpu() - cpu0) / idle_s,
                           "rss_mib": proc.rss_mib()}
        if restart:
            out["startup"] = startup(op, sa, n, audit, **env)
            op = out["startup"].pop("operator")
            wait_gone(kube, ns)  # while the operator runs: it removes the versions' finalizers
    finally:
        op.stop()
    return out


def startup(old: Any, sa: str, n: int, audit: Audit, **env: str) -> dict[str, Any]:
    """Restart with N converged objects: time to the first and to the last version handled,
    and what the restart costs the API server."""
    old.stop()
    audit.mark()
    t0 = time.monotonic()
    op = operator(sa, **env)
    first = last = None
    deadline = t0 + 120 + n * 0.2
    while time.monotonic() < deadline:
        done = reconciles(op)
        if done and first is None:
            first = time.monotonic() - t0
        if done >= n:
            last = time.monotonic() - t0
            break
        time.sleep(0.2)
    time.sleep(2)
    api = count(audit.since_mark())
    assert op.proc is not None
    # Steady state: the caches of N converged objects, without a burst's transient peak.
    proc = Proc(op.proc.pid)
    return {"first_s": first, "all_s": last, "api": api, "writes": api["writes"],
            "rss_mib": proc.rss_mib(), "peak_rss_mib": proc.peak_rss_mib(), "operator": op}


def reconciles(op: Any) -> int:
    """ModelVersion reconciles so far, from the operator's own /metrics."""
    try:
        text = op.metrics()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith('modelops_reconcile_duration_seconds_count{kind="ModelVersion"}'):
            return int(float(line.split()[-1]))
    return 0
