"""Traefik's own mirroring for the gatewayAPI provider (implementation: Traefik). Pure.

Traefik's Gateway API provider implements no RequestMirror filter (its features list at
v3.7), but an HTTPRoute may name a TraefikService as a backend, and a TraefikService of kind
mirroring sends every request to a main Service and copies a percentage to mirrors, whose
answers it drops. While a setMirror step holds, the policy owns one, `<route>-mirror` (main:
the stable's Service; mirror: the comparer's), which the route names in the stable's place.
It is written with the comparer and goes with it (shadow.sync), never while a route Traefik
still applies names it: a route whose backend is missing answers 404 for every request. For
the same reason a route names it only WRITTEN_FOR seconds after it was written: Traefik's
Gateway API and CRD providers apply their configurations independently (each after a 2 s
throttle), and a route that reaches the router before the TraefikService does is dropped.
"""

from __future__ import annotations

from typing import Any

from ..kube import Resource
from ..serving import names
from .base import Backend

TRAEFIKSERVICES = Resource("traefik.io", "v1alpha1", "traefikservices", "TraefikService")
MAX_BODY = 4 * 1024 * 1024  # requests larger than this are not mirrored (their body is kept)
WRITTEN_FOR = 5.0


def mirror_name(route: str) -> str:
    return f"{route[:56]}-mirror"


def service_ref(name: str) -> dict[str, Any]:
    return {"group": TRAEFIKSERVICES.group, "kind": TRAEFIKSERVICES.kind, "name": name}


def names_mirror(route: dict[str, Any] | None) -> bool:
    """Whether a route names a TraefikService (ours: its mirror)."""
    return any(ref.get("kind") == TRAEFIKSERVICES.kind
               for rule in ((route or {}).get("spec") or {}).get("rules") or []
               for ref in rule.get("backendRefs") or [])


def traefik_service(up: dict[str, Any], model: str, route: str, stable: Backend,
                    comparer: Backend, percent: int) -> dict[str, Any]:
    return {
        "apiVersion": TRAEFIKSERVICES.api_version, "kind": TRAEFIKSERVICES.kind,
        "metadata": {"name": mirror_name(route), "namespace": up["metadata"]["namespace"],
                     "labels": names.labels(model, None, "mirror"),
                     "ownerReferences": [names.owner_reference(up)]},
        "spec": {"mirroring": {
            "kind": "Service", "name": stable.service, "port": stable.port,
            "mirrorBody": True, "maxBodySize": MAX_BODY,
            "mirrors": [{"kind": "Service", "name": comparer.service, "port": comparer.port,
                         "percent": percent}]}},
    }
