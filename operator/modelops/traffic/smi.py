"""SMI TrafficSplit routing: a TrafficSplit the policy owns, from the model's Service (its root)
to the versions' own Services, weighted by the steps. A mesh that implements SMI (Linkerd's
SMI extension, Open Service Mesh, ...) makes the weights traffic; without one, callers of the
root Service reach the stable version only."""

from __future__ import annotations

from typing import Any

from ..api.updatepolicy import SMIRouting, UpdatePolicySpec
from ..kube import Kube
from ..resources import Resource
from ..serving import names
from .base import (
    Backend,
    RoutedProvider,
    Split,
    Want,
    carried_weight,
    routed_achieved,
    routed_reached,
    service_name,
)

TRAFFICSPLITS = Resource("split.smi-spec.io", "v1alpha4", "trafficsplits", "TrafficSplit")


def backends(s: Split, weight: int) -> list[dict[str, Any]]:
    out = []
    if s.stable:
        out.append({"service": s.stable.service, "weight": 100 - weight if s.canary else 100})
    if s.canary:
        out.append({"service": s.canary.service, "weight": weight if s.stable else 100})
    return out


def split_weight(route: dict[str, Any] | None, canary_service: str | None) -> int | None:
    """The canary's share of the split's weights (None: no split)."""
    if route is None:
        return None
    refs = (route.get("spec") or {}).get("backends") or []
    total = sum(float(b.get("weight") or 0) for b in refs)
    for b in refs:
        if canary_service and b.get("service") == canary_service and total:
            return round(100 * float(b.get("weight") or 0) / total)
    return 0


def owned_by(route: dict[str, Any], up: dict[str, Any]) -> bool:
    uid = up["metadata"].get("uid")
    return any(r.get("uid") == uid for r in route["metadata"].get("ownerReferences") or [])


class SMIProvider(RoutedProvider[SMIRouting]):
    name = "smi"
    field = "smi"
    route_resource: Resource | None = TRAFFICSPLITS
    watches: tuple[Resource, ...] = (TRAFFICSPLITS,)

    def route_name(self, spec: UpdatePolicySpec) -> str | None:
        smi = self.config(spec)
        if smi is None:
            return None
        return smi.traffic_split_name or service_name(spec)

    def _weight(self, s: Split) -> int | None:
        return split_weight(s.route, s.canary.service if s.canary else None)

    def achieved(self, s: Split) -> int:
        return routed_achieved(s, self._weight(s) or 0)

    def reached(self, s: Split, want: Want, total: int) -> bool:
        return routed_reached(s, self._weight(s), want.weight, total)

    def waiting_for(self, s: Split) -> str | None:
        return None if s.route is not None else "the TrafficSplit to be written"

    def released(self, s: Split, leaving: Backend | None, total: int) -> bool:
        return leaving is None or s.route is None or all(
            b.get("service") != leaving.service
            for b in (s.route.get("spec") or {}).get("backends") or [])

    def problem(self, up: dict[str, Any], spec: UpdatePolicySpec, s: Split) -> str | None:
        if s.route is not None and not owned_by(s.route, up):
            return (f"TrafficSplit {s.route['metadata']['name']!r} exists and is not owned by "
                    "this policy; name another with trafficRouting.smi.trafficSplitName")
        return None

    def desired(self, up: dict[str, Any], spec: UpdatePolicySpec, s: Split,
                weight: int) -> dict[str, Any]:
        smi = self.config(spec)
        root = smi.root_service if smi else None
        return {
            "apiVersion": TRAFFICSPLITS.api_version, "kind": TRAFFICSPLITS.kind,
            "metadata": {"name": self.route_name(spec), "namespace": up["metadata"]["namespace"],
                         "labels": names.labels(spec.model, None, "traffic-split"),
                         "ownerReferences": [names.owner_reference(up)]},
            "spec": {"service": root or service_name(spec),
                     "backends": backends(s, weight)},
        }

    async def set_route(self, kube: Kube, up: dict[str, Any], spec: UpdatePolicySpec,
                        s: Split, route: Want) -> list[dict[str, Any]]:
        if s.stable is None or self.problem(up, spec, s):
            return []
        want = self.desired(up, spec, s, carried_weight(s, route.weight, spec.replicas))
        have = (s.route or {}).get("spec") or {}
        if s.route is not None and have.get("service") == want["spec"]["service"] and [
                (b.get("service"), float(b.get("weight") or 0)) for b in have.get(
                    "backends") or []] == [(b["service"], b["weight"]) for b in want["spec"][
                    "backends"]]:
            return []
        return [await kube.apply(want, res=TRAFFICSPLITS)]
