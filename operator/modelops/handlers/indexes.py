"""What each watched kind keeps in the indexes, and under which keys.

Every watch handler files its object first (`file`), then acts. Not kopf's own indexes: at
start-up kopf holds every object's handlers, each with its whole body, until all objects of
all indexed kinds are indexed, and its readiness check wakes every waiting object each time
one more is done. With 15,000 objects that was 450 MiB and minutes of CPU before the first
reconcile. handlers.sync says instead when the first listing is in.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from typing import Any

import kopf

from ..indexes import compact
from ..rollout.policy import policy_record, route_key
from ..serving.names import MANAGED_BY, OPERATOR
from ..state import State
from ..traffic.registry import ROUTE_RESOURCES
from ..versions.reconcile import job_summary, slim
from ..versions.validate import NodeInfo

MV = ("modelops.io", "v1alpha1", "modelversions")
UP = ("modelops.io", "v1alpha1", "updatepolicies")
OURS = {MANAGED_BY: OPERATOR}
Entry = tuple[str, Hashable, Any]


def _mv(ns: str | None, mv: dict[str, Any]) -> Iterator[Entry]:
    meta, spec = mv["metadata"], mv["spec"]
    yield "mv_by_name", (ns, meta["name"]), mv
    yield "mv_by_model", (ns, spec.get("model")), mv
    yield "mv_versions", (ns, spec.get("model"), spec.get("version")), (
        meta.get("creationTimestamp") or "", meta["name"])


def _up(ns: str | None, up: dict[str, Any]) -> Iterator[Entry]:
    meta = up["metadata"]
    yield "up_by_name", (ns, meta["name"]), up
    for key, record in policy_record(ns, meta["name"], meta, up["spec"], up["status"]).items():
        yield "up_by_model", key, record
    route = route_key(ns, up["spec"])
    if route is not None:
        yield "up_by_route", route, meta["name"]


def _child(index: str) -> Callable[[str | None, dict[str, Any]], Iterator[Entry]]:
    def entries(ns: str | None, obj: dict[str, Any]) -> Iterator[Entry]:
        yield index, (ns, obj["metadata"]["name"]), obj
    return entries


def _job(ns: str | None, job: dict[str, Any]) -> Iterator[Entry]:
    summary = job_summary(job)
    for ref in job["metadata"].get("ownerReferences") or []:
        if ref.get("kind") == "ModelVersion":
            yield "mo_jobs", (ns, ref["uid"]), summary


def _route(ns: str | None, route: dict[str, Any]) -> Iterator[Entry]:
    yield "routes", (route.get("kind"), ns, route["metadata"]["name"]), route


def _node(_: str | None, node: dict[str, Any]) -> Iterator[Entry]:
    yield "mo_nodes", node["metadata"]["name"], node["info"]


# kind -> (the form kept in memory, where it is filed)
KEPT: dict[str, Callable[[Any, State], dict[str, Any]]] = {
    "ModelVersion": lambda body, _: slim(body),
    "UpdatePolicy": lambda body, _: slim(body),
    "Deployment": lambda body, _: compact(body),
    "Service": lambda body, _: compact(body),
    "Job": lambda body, _: compact(body),
    **{r.kind: (lambda body, _: compact(body)) for r in ROUTE_RESOURCES},
    "Node": lambda body, state: {
        "metadata": {"name": body["metadata"]["name"]},
        "info": NodeInfo.from_node(dict(body), state.settings.gpu_resource)},
}
FILED: dict[str, Callable[[str | None, dict[str, Any]], Iterator[Entry]]] = {
    "ModelVersion": _mv, "UpdatePolicy": _up, "Deployment": _child("mo_deployments"),
    "Service": _child("mo_services"), "Job": _job, "Node": _node,
    **{r.kind: _route for r in ROUTE_RESOURCES},
}


def file(state: State, kind: str, type: str | None, body: kopf.Body) -> dict[str, Any]:
    """File a watch event's object in the indexes (or take it out: DELETED); the form kept."""
    kept = KEPT[kind](body, state)
    uid, ns = body["metadata"]["uid"], body["metadata"].get("namespace")
    if type == "DELETED":
        state.indexes.refile(uid, (), present=False)
    else:
        state.indexes.refile(uid, FILED[kind](ns, kept))
    return kept
