"""kopf index registrations: the operator's cache of everything it reads.

All are coroutines: kopf runs a plain function in a thread pool, and a hop to a thread for
each index of each event was a fifth of the operator's CPU in a burst.
"""

from __future__ import annotations

from typing import Any

import kopf

from ..indexes import compact
from ..rollout.policy import policy_record
from ..serving.names import MANAGED_BY, OPERATOR
from ..versions.reconcile import job_summary, slim
from ..versions.validate import NodeInfo

MV = ("modelops.io", "v1alpha1", "modelversions")
UP = ("modelops.io", "v1alpha1", "updatepolicies")
OURS = {MANAGED_BY: OPERATOR}
Entry = dict[Any, Any]

# The slim copy of the ModelVersion being indexed, by (uid, resourceVersion): both its
# indexes and its event handler share one object rather than a copy each.
_last_mv: tuple[tuple[str, str], dict[str, Any]] | None = None


def slim_mv(body: kopf.Body) -> dict[str, Any]:
    global _last_mv
    meta = body["metadata"]
    key = (meta.get("uid", ""), meta.get("resourceVersion", ""))
    if _last_mv is None or _last_mv[0] != key:
        _last_mv = (key, slim(body))
    return _last_mv[1]


@kopf.index(*MV)
async def mv_by_name(namespace: str | None, name: str, body: kopf.Body, **_: Any) -> Entry:
    return {(namespace, name): slim_mv(body)}


@kopf.index(*MV)
async def mv_by_model(namespace: str | None, spec: kopf.Spec, body: kopf.Body,
                      **_: Any) -> Entry:
    return {(namespace, spec.get("model")): slim_mv(body)}


@kopf.index(*MV)
async def mv_versions(namespace: str | None, meta: kopf.Meta, spec: kopf.Spec,
                      **_: Any) -> Entry:
    return {(namespace, spec.get("model"), spec.get("version")):
            (meta.get("creationTimestamp") or "", meta["name"])}


@kopf.index("apps", "v1", "deployments", labels=OURS)
async def mo_deployments(namespace: str | None, name: str, body: kopf.Body,
                         **_: Any) -> Entry:
    return {(namespace, name): compact(body)}


@kopf.index("", "v1", "services", labels=OURS)
async def mo_services(namespace: str | None, name: str, body: kopf.Body, **_: Any) -> Entry:
    return {(namespace, name): compact(body)}


@kopf.index("batch", "v1", "jobs", labels=OURS)
async def mo_jobs(namespace: str | None, body: kopf.Body, meta: kopf.Meta, **_: Any) -> Entry:
    owners = [r["uid"] for r in meta.get("ownerReferences") or []
              if r.get("kind") == "ModelVersion"]
    return {(namespace, uid): job_summary(body) for uid in owners}


@kopf.index("", "v1", "nodes")
async def mo_nodes(name: str, body: kopf.Body, memo: kopf.Memo, **_: Any) -> Entry:
    return {name: NodeInfo.from_node(dict(body), memo.state.settings.gpu_resource)}


@kopf.index(*UP)
async def up_by_name(namespace: str | None, name: str, body: kopf.Body, **_: Any) -> Entry:
    return {(namespace, name): slim(body)}


@kopf.index(*UP)
async def up_by_model(namespace: str | None, name: str, meta: kopf.Meta, spec: kopf.Spec,
                      status: kopf.Status, **_: Any) -> Entry:
    return policy_record(namespace, name, dict(meta), dict(spec), dict(status))
