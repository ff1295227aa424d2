"""Gateway API routing: the user's HTTPRoute; we own the backendRefs of its rules."""

from __future__ import annotations

from typing import Any

from ..serving import names
from .base import Backend, serving_selector


class GatewayProvider:
    routed = True

    def stable_selector(self, model: str, stable: str | None) -> dict[str, str]:
        # Callers of the Service (not the route) reach the stable version only.
        sel = serving_selector(model)
        if stable:
            sel[names.VERSION] = stable
        return sel

    def backend_refs(self, stable: Backend | None, canary: Backend | None,
                     weight: int) -> list[dict[str, Any]]:
        refs = []
        if stable:
            refs.append({"kind": "Service", "name": stable.service, "port": stable.port,
                         "weight": 100 - weight if canary else 100})
        if canary:
            refs.append({"kind": "Service", "name": canary.service, "port": canary.port,
                         "weight": weight if stable else 100})
        return refs

    def route_patch(self, route: dict[str, Any] | None, stable: Backend | None,
                    canary: Backend | None, weight: int) -> dict[str, Any] | None:
        if route is None:
            return None
        want = self.backend_refs(stable, canary, weight)
        rules = list((route.get("spec") or {}).get("rules") or [{}])
        if all(_same(r.get("backendRefs") or [], want) for r in rules):
            return None
        return {"spec": {"rules": [{**r, "backendRefs": want} for r in rules]}}

    def route_weight(self, route: dict[str, Any] | None, canary: Backend | None) -> int | None:
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
