"""Keep a policy's comparer as its status says: running while a setMirror step holds (the
mirror percent in status), deleted once it does not."""

from __future__ import annotations

from typing import Any

from ..api.updatepolicy import UpdatePolicySpec
from ..desired import needs_apply, stamp
from ..kube import KINDS
from ..state import State
from ..traffic.base import Backend
from . import children


async def sync_shadow(state: State, up: dict[str, Any], spec: UpdatePolicySpec, mirror: int,
                      stable: Backend | None, canary: Backend | None, runtime: str) -> None:
    """`mirror`: the percent mirrored now (0: none); `runtime`: the canary's."""
    ns, policy = up["metadata"]["namespace"], up["metadata"]["name"]
    name = children.name(policy)
    have = {kind: state.cache.child(index, kind, ns, name)
            for kind, index in (("Deployment", "mo_deployments"), ("Service", "mo_services"))}
    if not (mirror and stable and canary):
        for kind, obj in have.items():
            if obj is not None:
                await state.kube.delete(KINDS[kind], ns, name)
        return
    dep = state.cache.child("mo_deployments", "Deployment", ns, canary.service)
    placement = (((dep or {}).get("spec") or {}).get("template") or {}).get("spec") or {}
    for obj in children.manifests(up, spec, stable, canary, runtime, state.settings.shadow_image,
                                  placement):
        obj = stamp(obj)
        if needs_apply(obj, have[obj["kind"]]):
            await state.kube.apply(obj)
