"""The in-memory views kopf keeps from its watches, handed to the reconcilers as one object.

They are caches of the API, rebuilt on start: reading them costs no request. Each is a
kopf.Index: key -> a collection of values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

NAMES = ("mv_by_name", "mv_by_model", "mv_versions", "mo_deployments", "mo_services", "mo_jobs",
         "mo_nodes", "up_by_name", "up_by_model")


@dataclass(frozen=True)
class Indexes:
    mv_by_name: Any  # (ns, name) -> ModelVersion (slim)
    mv_by_model: Any  # (ns, model) -> ModelVersion (slim)
    mv_versions: Any  # (ns, model, version) -> (creationTimestamp, name)
    mo_deployments: Any  # (ns, name) -> Deployment we manage (slim)
    mo_services: Any  # (ns, name) -> Service we manage (slim)
    mo_jobs: Any  # (ns, owner uid) -> Job summary
    mo_nodes: Any  # node name -> NodeInfo
    up_by_name: Any  # (ns, name) -> UpdatePolicy (slim)
    up_by_model: Any  # (ns, model) -> policy record (see rollout.reconcile.policy_record)

    @classmethod
    def from_kwargs(cls, kw: Mapping[str, Any], state: Any = None) -> Indexes:
        """From a kopf handler's kwargs; kept on `state` for scrape-time metrics."""
        idx = cls(**{n: kw[n] for n in NAMES})
        if state is not None:
            state.indexes = idx
        return idx


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
               "Job": ("conditions",), "Service": ()}


def compact(body: Mapping[str, Any]) -> dict[str, Any]:
    """A child (Deployment, Service) as an index keeps it: metadata, the status the plans
    read, and the spec as JSON text. Parsed, a Deployment's spec is ~14 KB of Python objects;
    as text about 2 KB, and it is parsed again only when a reconcile compares it."""
    meta = body["metadata"]
    status = body.get("status") or {}
    keep = ("name", "namespace", "uid", "generation", "resourceVersion", "labels",
            "annotations", "ownerReferences", "deletionTimestamp")
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
