"""kopf index registrations: the operator's cache of everything it reads."""

from __future__ import annotations

from typing import Any

import kopf

from ..rollout.policy import policy_record
from ..serving.names import MANAGED_BY, OPERATOR
from ..versions.reconcile import job_summary, slim
from ..versions.validate import NodeInfo

MV = ("modelops.io", "v1alpha1", "modelversions")
UP = ("modelops.io", "v1alpha1", "updatepolicies")
OURS = {MANAGED_BY: OPERATOR}


@kopf.index(*MV)
def mv_by_name(namespace: str | None, name: str, body: kopf.Body, **_: Any) -> dict[Any, Any]:
    return {(namespace, name): slim(body)}


@kopf.index(*MV)
def mv_by_model(namespace: str | None, spec: kopf.Spec, body: kopf.Body,
                **_: Any) -> dict[Any, Any]:
    return {(namespace, spec.get("model")): slim(body)}


@kopf.index(*MV)
def mv_versions(namespace: str | None, meta: kopf.Meta, spec: kopf.Spec,
                **_: Any) -> dict[Any, Any]:
    return {(namespace, spec.get("model"), spec.get("version")):
            (meta.get("creationTimestamp") or "", meta["name"])}


@kopf.index("apps", "v1", "deployments", labels=OURS)
def mo_deployments(namespace: str | None, name: str, body: kopf.Body, **_: Any) -> dict[Any, Any]:
    return {(namespace, name): slim(body)}


@kopf.index("", "v1", "services", labels=OURS)
def mo_services(namespace: str | None, name: str, body: kopf.Body, **_: Any) -> dict[Any, Any]:
    return {(namespace, name): slim(body)}


@kopf.index("batch", "v1", "jobs", labels=OURS)
def mo_jobs(namespace: str | None, body: kopf.Body, meta: kopf.Meta, **_: Any) -> dict[Any, Any]:
    owners = [r["uid"] for r in meta.get("ownerReferences") or []
              if r.get("kind") == "ModelVersion"]
    return {(namespace, uid): job_summary(body) for uid in owners}


@kopf.index("", "v1", "nodes")
def mo_nodes(name: str, body: kopf.Body, memo: kopf.Memo, **_: Any) -> dict[Any, Any]:
    return {name: NodeInfo.from_node(dict(body), memo.state.settings.gpu_resource)}


@kopf.index(*UP)
def up_by_name(namespace: str | None, name: str, body: kopf.Body, **_: Any) -> dict[Any, Any]:
    return {(namespace, name): slim(body)}


@kopf.index(*UP)
def up_by_model(namespace: str | None, name: str, meta: kopf.Meta, spec: kopf.Spec,
                status: kopf.Status, **_: Any) -> dict[Any, Any]:
    return policy_record(namespace, name, dict(meta), dict(spec), dict(status))
