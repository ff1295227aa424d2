"""Traefik's own mirroring for the gatewayAPI provider (implementation: Traefik).

Traefik's Gateway API provider implements no RequestMirror filter (its features list at
v3.7), but an HTTPRoute may name a TraefikService as a backend, and a TraefikService of kind
mirroring sends every request to a main Service and copies a percentage to mirrors, whose
answers it drops. While a setMirror step holds, the policy owns one (main: the stable's
Service; mirror: the comparer's), which the route names in the stable's place.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ..kube import Kube, Resource
from ..serving import names
from .base import Split, Want

TRAEFIKSERVICES = Resource("traefik.io", "v1alpha1", "traefikservices", "TraefikService")
MAX_BODY = 4 * 1024 * 1024  # requests larger than this are not mirrored (their body is kept)


def mirror_spec(s: Split, want: Want) -> dict[str, Any] | None:
    """What mirrors `want.mirror` percent of the stable's requests to the comparer (None: no
    mirror now)."""
    if not (want.mirror and want.shadow and s.stable and s.canary and s.ready_canary > 0
            and s.ready_shadow > 0):
        return None
    return {"mirroring": {
        "kind": "Service", "name": s.stable.service, "port": s.stable.port,
        "mirrorBody": True, "maxBodySize": MAX_BODY,
        "mirrors": [{"kind": "Service", "name": want.shadow.service, "port": want.shadow.port,
                     "percent": want.mirror}]}}


def mirror_name(route: str, spec: dict[str, Any]) -> str:
    """Named by its content: the route names the one that mirrors as wanted, so knowing it
    exists takes no read (it is written before the route names it)."""
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:8]
    return f"{route[:45]}-mirror-{digest}"


def service_ref(name: str) -> dict[str, Any]:
    return {"group": TRAEFIKSERVICES.group, "kind": TRAEFIKSERVICES.kind, "name": name}


def named(route: dict[str, Any] | None) -> set[str]:
    """Our TraefikServices a route names."""
    return {ref["name"] for rule in ((route or {}).get("spec") or {}).get("rules") or []
            for ref in rule.get("backendRefs") or []
            if ref.get("kind") == TRAEFIKSERVICES.kind and "-mirror-" in ref.get("name", "")}


async def before(kube: Kube, up: dict[str, Any], model: str, route: dict[str, Any], s: Split,
                 want: Want) -> None:
    """Write the mirroring TraefikService the route is about to name."""
    spec = mirror_spec(s, want)
    if spec is None:
        return
    name = mirror_name(route["metadata"]["name"], spec)
    if name in named(route):
        return
    await kube.apply({
        "apiVersion": TRAEFIKSERVICES.api_version, "kind": TRAEFIKSERVICES.kind,
        "metadata": {"name": name, "namespace": up["metadata"]["namespace"],
                     "labels": names.labels(model, None, "mirror"),
                     "ownerReferences": [names.owner_reference(up)]},
        "spec": spec}, res=TRAEFIKSERVICES)


async def after(kube: Kube, old: dict[str, Any], new: dict[str, Any]) -> None:
    """Delete what the route named before and names no more. (Killed in between, one is left
    behind until the policy goes: its owner.)"""
    for name in sorted(named(old) - named(new)):
        await kube.delete(TRAEFIKSERVICES, old["metadata"]["namespace"], name)
