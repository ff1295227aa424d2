"""Gateway API routing: the user's HTTPRoute; we own the backendRefs of its rules."""

from __future__ import annotations

from typing import Any

from ..api.updatepolicy import UpdatePolicySpec
from ..kube import Kube, Resource
from .base import (
    Backend,
    Split,
    carried_weight,
    routed_achieved,
    routed_reached,
    routed_replicas,
    stable_only,
)

HTTPROUTES = Resource("gateway.networking.k8s.io", "v1", "httproutes", "HTTPRoute")


def backend_refs(stable: Backend | None, canary: Backend | None,
                 weight: int) -> list[dict[str, Any]]:
    refs = []
    if stable:
        refs.append({"kind": "Service", "name": stable.service, "port": stable.port,
                     "weight": 100 - weight if canary else 100})
    if canary:
        refs.append({"kind": "Service", "name": canary.service, "port": canary.port,
                     "weight": weight if stable else 100})
    return refs


def route_patch(route: dict[str, Any] | None, stable: Backend | None, canary: Backend | None,
                weight: int) -> dict[str, Any] | None:
    """A patch that makes every rule carry `weight` to the canary; None when they do."""
    if route is None:
        return None
    want = backend_refs(stable, canary, weight)
    rules = list((route.get("spec") or {}).get("rules") or [{}])
    if all(_same(r.get("backendRefs") or [], want) for r in rules):
        return None
    return {"spec": {"rules": [{**r, "backendRefs": want} for r in rules]}}


def route_weight(route: dict[str, Any] | None, canary: Backend | None) -> int | None:
    """The canary's weight in the route's first rule that names it (None: no route)."""
    if route is None or canary is None:
        return 0 if route is not None else None
    for rule in (route.get("spec") or {}).get("rules") or []:
        refs = rule.get("backendRefs") or []
        total = sum(int(r.get("weight", 1)) for r in refs)
        for r in refs:
            if r.get("name") == canary.service and total:
                return round(100 * int(r.get("weight", 1)) / total)
    return 0


def _same(have: list[dict[str, Any]], want: list[dict[str, Any]]) -> bool:
    keys = ("name", "port", "weight")
    return [{k: h.get(k) for k in keys} for h in have] == [{k: w.get(k) for k in keys}
                                                            for w in want]


class GatewayProvider:
    name = "gatewayAPI"
    route_resource: Resource | None = HTTPROUTES

    def route_name(self, spec: UpdatePolicySpec) -> str | None:
        c = spec.strategy.canary if spec.strategy else None
        gw = c.traffic_routing.gateway_api if c and c.traffic_routing else None
        return gw.http_route if gw else None

    pods_carry_weight = False

    def stable_selector(self, model: str, stable: str | None, shared: bool) -> dict[str, str]:
        return stable_only(model, stable)

    def replicas(self, total: int, weight: int) -> tuple[int, int]:
        return routed_replicas(total, weight)

    def achieved(self, s: Split) -> int:
        return routed_achieved(s, route_weight(s.route, s.canary) or 0)

    def reached(self, s: Split, weight: int, total: int) -> bool:
        return routed_reached(s, route_weight(s.route, s.canary), weight, total)

    def promotable(self, s: Split) -> bool:
        return s.route is not None

    def problem(self, up: dict[str, Any], spec: UpdatePolicySpec, s: Split) -> str | None:
        return None

    async def set_weight(self, kube: Kube, up: dict[str, Any], spec: UpdatePolicySpec,
                         s: Split, weight: int) -> dict[str, Any] | None:
        patch = route_patch(s.route, s.stable, s.canary,
                            carried_weight(s, weight, spec.replicas))
        if patch is None or s.route is None:
            return None
        meta = s.route["metadata"]
        return await kube.patch(HTTPROUTES, meta["namespace"], meta["name"], patch)
