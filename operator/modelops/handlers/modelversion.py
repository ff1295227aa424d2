"""kopf registrations for ModelVersions and the children they own; each calls the core."""

from __future__ import annotations

from typing import Any

import kopf

from ..serving.names import MANAGED_BY, OPERATOR
from ..versions.deletion import deletion_blocker, policy_usage
from ..versions.reconcile import forget, hold_deletion, job_summary, reconcile, slim
from ..versions.validate import NodeInfo

MV = ("modelops.io", "v1alpha1", "modelversions")
OURS = {MANAGED_BY: OPERATOR}


@kopf.index(*MV)
def mv_by_name(namespace: str | None, name: str, body: kopf.Body, **_: Any) -> dict[Any, Any]:
    return {(namespace, name): slim(body)}


@kopf.index(*MV)
def mv_versions(namespace: str | None, meta: kopf.Meta, spec: kopf.Spec,
                **_: Any) -> dict[Any, Any]:
    return {(namespace, spec.get("model"), spec.get("version")):
            (meta.get("creationTimestamp") or "", meta["name"])}


@kopf.index("apps", "v1", "deployments", labels=OURS)
def mv_deployments(namespace: str | None, name: str, body: kopf.Body, **_: Any) -> dict[Any, Any]:
    return {(namespace, name): slim(body)}


@kopf.index("", "v1", "services", labels=OURS)
def mv_services(namespace: str | None, name: str, body: kopf.Body, **_: Any) -> dict[Any, Any]:
    return {(namespace, name): slim(body)}


@kopf.index("batch", "v1", "jobs", labels=OURS)
def mv_jobs(namespace: str | None, body: kopf.Body, meta: kopf.Meta, **_: Any) -> dict[Any, Any]:
    owners = [r["uid"] for r in meta.get("ownerReferences") or []
              if r.get("kind") == "ModelVersion"]
    return {(namespace, uid): job_summary(body) for uid in owners}


@kopf.index("", "v1", "nodes")
def mv_nodes(name: str, body: kopf.Body, memo: kopf.Memo, **_: Any) -> dict[Any, Any]:
    return {name: NodeInfo.from_node(dict(body), memo.state.settings.gpu_resource)}


async def _reconcile(mv: dict[str, Any], memo: kopf.Memo, kw: dict[str, Any]) -> None:
    await reconcile(memo.state, mv, deployments=kw["mv_deployments"],
                    services=kw["mv_services"], versions=kw["mv_versions"], nodes=kw["mv_nodes"],
                    jobs=kw["mv_jobs"])


@kopf.on.resume(*MV)
@kopf.on.create(*MV)
@kopf.on.update(*MV, field="spec")
async def mv_changed(body: kopf.Body, memo: kopf.Memo, **kw: Any) -> None:
    await _reconcile(slim(body), memo, kw)


@kopf.timer(*MV, interval=300, initial_delay=300)
async def mv_resync(body: kopf.Body, memo: kopf.Memo, **kw: Any) -> None:
    await _reconcile(slim(body), memo, kw)


@kopf.on.event("apps", "v1", "deployments", labels=OURS)
@kopf.on.event("", "v1", "services", labels=OURS)
@kopf.on.event("batch", "v1", "jobs", labels=OURS)
async def child_changed(namespace: str | None, meta: kopf.Meta, memo: kopf.Memo,
                        **kw: Any) -> None:
    """A child changed or vanished: bring its ModelVersion's world back to the plan."""
    mv_by_name: kopf.Index[Any, Any] = kw["mv_by_name"]
    for ref in meta.get("ownerReferences") or []:
        if ref.get("kind") != "ModelVersion":
            continue
        for mv in mv_by_name.get((namespace, ref["name"]), []):
            if mv["metadata"]["uid"] == ref.get("uid"):
                await _reconcile(mv, memo, kw)


@kopf.on.event(*MV)
async def mv_gone(type: str, namespace: str | None, spec: kopf.Spec, memo: kopf.Memo,
                  **kw: Any) -> None:
    """A deleted version frees its (model, version): a waiting duplicate may take it."""
    if type != "DELETED":
        return
    versions: kopf.Index[Any, Any] = kw["mv_versions"]
    by_name: kopf.Index[Any, Any] = kw["mv_by_name"]
    for _, name in versions.get((namespace, spec.get("model"), spec.get("version")), []):
        for mv in by_name.get((namespace, name), []):
            await _reconcile(mv, memo, kw)


@kopf.index("modelops.io", "v1alpha1", "updatepolicies")
def up_usage(namespace: str | None, name: str, spec: kopf.Spec, status: kopf.Status,
             **_: Any) -> dict[Any, Any]:
    return policy_usage(namespace, name, dict(spec), dict(status))


@kopf.on.delete(*MV)
async def mv_deleted(namespace: str | None, name: str, uid: str, spec: kopf.Spec,
                     body: kopf.Body, memo: kopf.Memo, **kw: Any) -> None:
    """The finalizer holds a version that a policy still routes traffic to."""
    usage: kopf.Index[Any, Any] = kw["up_usage"]
    blocker = deletion_blocker(spec.get("version", ""),
                               usage.get((namespace, spec.get("model")), []))
    if blocker:
        await hold_deletion(memo.state, slim(body), blocker)
        raise kopf.TemporaryError(blocker, delay=15)
    forget(memo.state, uid, namespace or "", name)
