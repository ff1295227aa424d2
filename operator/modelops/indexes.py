"""The in-memory views of what the operator watches, and the forms objects are kept in.

They are filled through modelops.cache (handlers.indexes says what goes where) and rebuilt on
start: reading them costs no request. Each index maps a key to the collection of values filed
under it, one per object.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any


class Index(Mapping[Hashable, Collection[Any]]):
    """key -> the values filed under it, at most one per object (by uid)."""

    def __init__(self) -> None:
        self._data: dict[Hashable, dict[str, Any]] = {}

    def __getitem__(self, key: Hashable) -> Collection[Any]:
        return self._data[key].values()

    def __iter__(self) -> Iterator[Hashable]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def put(self, uid: str, key: Hashable, value: Any) -> None:
        self._data.setdefault(key, {})[uid] = value

    def drop(self, uid: str, key: Hashable) -> None:
        under = self._data.get(key)
        if under is not None:
            under.pop(uid, None)
            if not under:
                del self._data[key]


@dataclass
class Indexes:
    mv_by_name: Index = field(default_factory=Index)  # (ns, name) -> ModelVersion (slim)
    mv_by_model: Index = field(default_factory=Index)  # (ns, model) -> ModelVersion (slim)
    mv_versions: Index = field(default_factory=Index)  # (ns, model, version) -> (created, name)
    mo_deployments: Index = field(default_factory=Index)  # (ns, name) -> our Deployment, compact
    mo_services: Index = field(default_factory=Index)  # (ns, name) -> our Service, compact
    mo_jobs: Index = field(default_factory=Index)  # (ns, owner uid) -> Job summary
    mo_job_owner: Index = field(default_factory=Index)  # (ns, Job name) -> its version's name
    mo_workloads: Index = field(default_factory=Index)  # (ns, Job name) -> Kueue's Workload
    mo_nodes: Index = field(default_factory=Index)  # node name -> NodeInfo
    up_by_name: Index = field(default_factory=Index)  # (ns, name) -> UpdatePolicy (slim)
    mv_infos: Index = field(default_factory=Index)  # (ns, model) -> rollout.target.VersionInfo
    up_by_model: Index = field(default_factory=Index)  # (ns, model) -> rollout.policy record
    up_by_route: Index = field(default_factory=Index)  # (kind, ns, route) -> policy name
    routes: Index = field(default_factory=Index)  # (kind, ns, name) -> a provider's route, compact
    # uid -> where the object is filed now, so that its next version replaces it.
    filed: dict[str, list[tuple[str, Hashable]]] = field(default_factory=dict)

    def refile(self, uid: str, entries: Iterable[tuple[str, Hashable, Any]],
               present: bool = True) -> None:
        """File an object under these (index name, key, value)s instead of where it was, or
        forget it (present=False: it was deleted)."""
        for name, key in self.filed.pop(uid, ()):
            getattr(self, name).drop(uid, key)
        where = []
        for name, key, value in entries:
            getattr(self, name).put(uid, key, value)
            where.append((name, key))
        if present:  # even when filed nowhere: start-up waits for every object to be seen
            self.filed[uid] = where


def first(index: Any, key: Any) -> Any:
    """The one value under a key, or None."""
    for value in index.get(key, []) if key in index else []:
        return value
    return None


def values(index: Any, key: Any) -> list[Any]:
    """A copy of the values under a key: the index changes under an `await`, so loops that
    await must not iterate it live."""
    return list(index.get(key, [])) if key in index else []


# What the plans read of a child's status (versions.plan, versions.reconcile.job_summary,
# rollout); the rest of it is neither kept nor a reason to reconcile.
STATUS_READ = {"Deployment": ("observedGeneration", "replicas", "readyReplicas",
                              "updatedReplicas", "availableReplicas"),
               "Job": ("conditions",), "Service": (),
               # A route's gateway says in status.parents whether it accepted it (Gateway API).
               "HTTPRoute": ("parents",)}


def compact(body: Mapping[str, Any]) -> dict[str, Any]:
    """A child (Deployment, Service) as an index keeps it: metadata, the status the plans
    read, and the spec as JSON text. Parsed, a Deployment's spec is ~14 KB of Python objects;
    as text about 2 KB, and it is parsed again only when a reconcile compares it."""
    meta = body["metadata"]
    status = body.get("status") or {}
    keep = ("name", "namespace", "uid", "generation", "resourceVersion", "creationTimestamp",
            "labels", "annotations", "ownerReferences", "deletionTimestamp")
    return {"apiVersion": body.get("apiVersion"), "kind": body.get("kind"),
            "metadata": {k: meta[k] for k in keep if k in meta},
            "specJSON": json.dumps(body.get("spec") or {}, separators=(",", ":")),
            "status": {k: status[k] for k in STATUS_READ.get(body.get("kind") or "", ())
                       if k in status}}


def child(index: Any, key: Any) -> dict[str, Any] | None:
    """The one child under a key, whole again (its spec parsed), or None."""
    c = first(index, key)
    if c is None:
        return None
    out = {k: v for k, v in c.items() if k != "specJSON"}
    out["spec"] = json.loads(c["specJSON"])
    return out


def slim(body: Any) -> dict[str, Any]:
    """The parts of an object we keep in memory (no managedFields)."""
    meta = body["metadata"]
    keep = ("name", "namespace", "uid", "generation", "resourceVersion", "creationTimestamp",
            "deletionTimestamp", "finalizers", "labels", "annotations", "ownerReferences")
    return {
        "apiVersion": body.get("apiVersion"), "kind": body.get("kind"),
        "metadata": {k: meta[k] for k in keep if k in meta},
        "spec": dict(body.get("spec") or {}),
        "status": dict(body.get("status") or {}),
    }


def job_summary(body: Any) -> dict[str, Any]:
    """What the plan reads of a Job: its name, owner, terminal conditions, and whether it is
    suspended (waiting for Kueue)."""
    meta = body["metadata"]
    return {"metadata": {"name": meta["name"], "namespace": meta.get("namespace"),
                         "ownerReferences": meta.get("ownerReferences")},
            "suspend": bool((body.get("spec") or json.loads(body.get("specJSON") or "{}")
                             ).get("suspend")),  # (whole, or as compact() keeps it)
            "status": {"conditions": (body.get("status") or {}).get("conditions") or []}}


WORKLOAD_CONDITIONS = ("QuotaReserved", "Admitted", "Evicted", "Preempted", "PodsReady",
                       "Finished")


def workload_summary(body: Any) -> dict[str, Any]:
    """What the plan reads of Kueue's Workload for one of our Jobs: its queue, the
    ClusterQueue that admitted it, and its conditions (Kueue's reasons and messages)."""
    meta, st = body["metadata"], body.get("status") or {}
    return {"metadata": {"name": meta["name"], "namespace": meta.get("namespace"),
                         "uid": meta["uid"],
                         "job": next((r.get("name") for r in meta.get("ownerReferences") or []
                                      if r.get("kind") == "Job"), None)},
            "queue": (body.get("spec") or {}).get("queueName"),
            "clusterQueue": (st.get("admission") or {}).get("clusterQueue"),
            "conditions": [{k: c.get(k) for k in ("type", "status", "reason", "message",
                                                  "lastTransitionTime")}
                           for c in st.get("conditions") or []
                           if c.get("type") in WORKLOAD_CONDITIONS]}
