"""What each watched kind keeps in the cache, where it is filed, and what a reconcile reads of
it (modelops.cache applies these rules; handlers.events calls it for every watch event).

Not kopf's own indexes: at start-up kopf holds every object's handlers, each with its whole
body, until all objects of all indexed kinds are indexed, and its readiness check wakes every
waiting object each time one more is done. With 15,000 objects that was 450 MiB and minutes
of CPU before the first reconcile. handlers.sync says instead when the first listing is in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ..cache import Entry, Rule, child_reads
from ..indexes import compact, job_summary, slim, workload_summary
from ..rollout.policy import policy_record
from ..rollout.target import version_info
from ..serving.names import MANAGED_BY, OPERATOR
from ..traffic.registry import ROUTE_RESOURCES, route_key_in
from ..training.queueing import KUEUE_API
from ..versions.validate import NodeInfo

MV = ("modelops.io", "v1alpha1", "modelversions")
UP = ("modelops.io", "v1alpha1", "updatepolicies")
WORKLOADS = (*KUEUE_API.split("/"), "workloads")  # Kueue's, for our queued Jobs
OURS = {MANAGED_BY: OPERATOR}


def _mv(ns: str | None, mv: dict[str, Any]) -> Iterator[Entry]:
    meta, spec = mv["metadata"], mv["spec"]
    yield "mv_by_name", (ns, meta["name"]), mv
    yield "mv_by_model", (ns, spec.get("model")), mv
    yield "mv_versions", (ns, spec.get("model"), spec.get("version")), (
        meta.get("creationTimestamp") or "", meta["name"])
    info = version_info(mv)  # validated once per event, not once per policy round
    if info is not None:
        yield "mv_infos", (ns, spec.get("model")), info


def _up(ns: str | None, up: dict[str, Any]) -> Iterator[Entry]:
    meta = up["metadata"]
    yield "up_by_name", (ns, meta["name"]), up
    for key, record in policy_record(ns, meta["name"], meta, up["spec"], up["status"]).items():
        yield "up_by_model", key, record
    route = route_key_in(ns or "", up["spec"])
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
            yield "mo_job_owner", (ns, job["metadata"]["name"]), ref["name"]


def _workload(ns: str | None, wl: dict[str, Any]) -> Iterator[Entry]:
    if wl["metadata"]["job"]:
        yield "mo_workloads", (ns, wl["metadata"]["job"]), wl


def _route(ns: str | None, route: dict[str, Any]) -> Iterator[Entry]:
    yield "routes", (route.get("kind"), ns, route["metadata"]["name"]), route


def _node(_: str | None, node: dict[str, Any]) -> Iterator[Entry]:
    yield "mo_nodes", node["metadata"]["name"], node["info"]


def rules(gpu_resource: str) -> dict[str, Rule]:
    """kind -> its Rule. A version's plan reads its spec (the generation says when it
    changed), deletion and finalizers, and the status only we write; a policy's round reads
    its spec, its annotations (actions) and deletion."""
    mv_reads = lambda o: (o["metadata"].get("generation"),  # noqa: E731
                          o["metadata"].get("deletionTimestamp"),
                          o["metadata"].get("finalizers"))
    up_reads = lambda o: (o["metadata"].get("generation"),  # noqa: E731
                          o["metadata"].get("annotations"),
                          o["metadata"].get("deletionTimestamp"))
    node_rule = Rule(
        keep=lambda body: {"metadata": {"name": body["metadata"]["name"],
                                        "uid": body["metadata"]["uid"]},
                           "info": NodeInfo.from_node(dict(body), gpu_resource)},
        entries=_node, reads=lambda o: o["info"])
    return {
        "ModelVersion": Rule(slim, _mv, mv_reads, status_ours=True),
        "UpdatePolicy": Rule(slim, _up, up_reads, status_ours=True),
        "Deployment": Rule(compact, _child("mo_deployments"), child_reads),
        "Service": Rule(compact, _child("mo_services"), child_reads),
        "Job": Rule(compact, _job, child_reads),
        "Node": node_rule,
        "Workload": Rule(workload_summary, _workload,
                         lambda o: (o["queue"], o["clusterQueue"], repr(o["conditions"]))),
        **{r.kind: Rule(compact, _route, child_reads) for r in ROUTE_RESOURCES},
    }
