"""Keep a policy's comparer, and Traefik's mirror to it, as the rollout says: running while a
setMirror step holds and a while after (rollout.routing.keeps_shadow), then deleted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..api.updatepolicy import UpdatePolicySpec
from ..desired import needs_apply, stamp
from ..kube import ApiError
from ..resources import KINDS
from ..state import State
from ..traffic.base import Backend
from ..traffic.traefik import TRAEFIKSERVICES, mirror_name, settled, stamped, traefik_service
from . import children


async def sync_shadow(state: State, up: dict[str, Any], spec: UpdatePolicySpec, keep: bool,
                      mirror: int, stable: Backend | None, canary: Backend | None,
                      runtime: str, ready: int, now: datetime) -> None:
    """`keep`: the comparer runs; `mirror`: the percent mirrored now; `runtime`: the canary's;
    `ready`: the comparer's ready pods."""
    ns, policy = up["metadata"]["namespace"], up["metadata"]["name"]
    name = children.name(policy)
    have = {"Deployment": state.cache.deployment(ns, name),
            "Service": state.cache.service(ns, name)}
    c = spec.strategy.canary if spec.strategy else None
    gw = c.traffic_routing.gateway_api if c and c.traffic_routing else None
    mirror_ts = mirror_name(gw.http_route) if gw and gw.implementation == "Traefik" else None
    if not keep:
        if have["Deployment"] is not None and mirror_ts:  # it goes with the comparer
            await _delete_mirror(state, ns, mirror_ts)
        for kind, obj in have.items():
            if obj is not None:
                await state.kube.delete(KINDS[kind], ns, name)
        return
    if not (stable and canary):  # the rollout is over; it stays until the gateway moved on
        return
    dep = state.cache.deployment(ns, canary.service)
    placement = (((dep or {}).get("spec") or {}).get("template") or {}).get("spec") or {}
    for obj in children.manifests(up, spec, stable, canary, runtime, state.settings.shadow_image,
                                  placement):
        obj = stamp(obj)
        if needs_apply(obj, have[obj["kind"]]):
            await state.kube.apply(obj)
    if gw and mirror_ts and mirror and ready:  # written before the route names it
        ts = stamp(traefik_service(up, spec.model, gw.http_route, stable,
                                   children.backend(policy, canary.version), mirror))
        if needs_apply(ts, state.cache.route(TRAEFIKSERVICES.kind, ns, mirror_ts)):
            state.cache.answered(await state.kube.apply(stamped(ts, now), res=TRAEFIKSERVICES))


async def _delete_mirror(state: State, ns: str, name: str) -> None:
    try:
        await state.kube.delete(TRAEFIKSERVICES, ns, name)
    except ApiError as e:
        if e.status != 404:  # 404: Traefik's CRDs gone with it; nothing left
            raise
    state.cache.applied.pop((TRAEFIKSERVICES.kind, ns, name), None)


def mirror_written(state: State, up: dict[str, Any], spec: UpdatePolicySpec,
                   now: datetime) -> bool:
    """Whether a route may name the policy's mirroring TraefikService: we last wrote it at
    least traefik.WRITTEN_FOR seconds ago (always, where the gateway is not Traefik)."""
    c = spec.strategy.canary if spec.strategy else None
    gw = c.traffic_routing.gateway_api if c and c.traffic_routing else None
    if not gw or gw.implementation != "Traefik":
        return True
    ts = state.cache.route(TRAEFIKSERVICES.kind, up["metadata"]["namespace"],
                           mirror_name(gw.http_route))
    return settled(ts, now)
