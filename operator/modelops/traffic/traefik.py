"""Traefik's own mirroring and stickiness for the gatewayAPI provider (implementation:
Traefik). Pure.

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

Stickiness (sessionAffinity): Traefik implements no sessionPersistence, but a TraefikService of
kind weighted with a sticky cookie splits by weight and sends a client carrying the cookie to
the backend it names (the cookie holds a hash of the backend's name, so it survives a change
of weights). While a canary has a weight, the policy's `<route>-sticky` carries the weights and
the route names it alone. Traefik reports nothing on a TraefikService, so a weight written
there counts WRITTEN_FOR seconds after the write (the annotation WRITTEN_AT), and the
TraefikService goes only WRITTEN_FOR seconds after the gateway accepted a route that no longer
names it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..api.conditions import now_iso, parse_time
from ..api.routing import SessionAffinity
from ..resources import Resource
from ..serving import names
from .base import Backend

TRAEFIKSERVICES = Resource("traefik.io", "v1alpha1", "traefikservices", "TraefikService")
MAX_BODY = 4 * 1024 * 1024  # requests larger than this are not mirrored (their body is kept)
WRITTEN_FOR = 5.0
WRITTEN_AT = "modelops.io/written-at"  # when we last changed the object's spec


def mirror_name(route: str) -> str:
    return f"{route[:56]}-mirror"


def sticky_name(route: str) -> str:
    return f"{route[:56]}-sticky"


def service_ref(name: str) -> dict[str, Any]:
    return {"group": TRAEFIKSERVICES.group, "kind": TRAEFIKSERVICES.kind, "name": name}


def named(route: dict[str, Any] | None) -> set[str]:
    """The TraefikServices a route names."""
    return {ref.get("name") for rule in ((route or {}).get("spec") or {}).get("rules") or []
            for ref in rule.get("backendRefs") or [] if ref.get("kind") == TRAEFIKSERVICES.kind}


def names_mirror(route: dict[str, Any] | None, sticky: dict[str, Any] | None = None) -> bool:
    """Whether a route names its mirroring TraefikService, itself or through its sticky one."""
    if route is None:
        return False
    name = route["metadata"]["name"]
    there = named(route)
    return mirror_name(name) in there or (
        sticky_name(name) in there and any(m[1] == mirror_name(name) for m in members(sticky)))


def stamped(obj: dict[str, Any], at: datetime) -> dict[str, Any]:
    """`obj` saying that it was written at `at`."""
    meta = obj.get("metadata") or {}
    return {**obj, "metadata": {**meta, "annotations": {**(meta.get("annotations") or {}),
                                                        WRITTEN_AT: now_iso(at)}}}


def unsettled_for(obj: dict[str, Any] | None, at: datetime | None) -> float | None:
    """Seconds until `obj` is settled (None: it is, or it is not there)."""
    written = (((obj or {}).get("metadata") or {}).get("annotations") or {}).get(WRITTEN_AT)
    if not written or at is None:
        return None
    left = WRITTEN_FOR - (at - parse_time(str(written))).total_seconds()
    return left if left > 0 else None


def settled(obj: dict[str, Any] | None, at: datetime | None) -> bool:
    """Whether Traefik has had WRITTEN_FOR seconds to apply what we last wrote to `obj`
    (True for an object we never stamped)."""
    return obj is not None and unsettled_for(obj, at) is None


def members(ts: dict[str, Any] | None) -> list[tuple[str, str, int]]:
    """(kind, name, weight) of a weighted TraefikService's services."""
    weighted = (((ts or {}).get("spec") or {}).get("weighted") or {}).get("services") or []
    return [(m.get("kind") or "Service", m["name"], int(m.get("weight", 1))) for m in weighted]


def refs_members(refs: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    """Route backendRefs as the members of a weighted TraefikService."""
    return [(r.get("kind") or "Service", r["name"], int(r.get("weight", 1))) for r in refs]


def share(ts: dict[str, Any] | None, service: str) -> int:
    """A Service's percent of a weighted TraefikService's weights."""
    ms = members(ts)
    total = sum(w for _, _, w in ms)
    mine = sum(w for kind, name, w in ms if kind == "Service" and name == service)
    return round(100 * mine / total) if total else 0


def sticky_service(up: dict[str, Any], model: str, route: str, refs: list[dict[str, Any]],
                   affinity: SessionAffinity) -> dict[str, Any]:
    """The weighted TraefikService with a sticky cookie that carries `refs` (the weights the
    route would carry itself)."""
    cookie: dict[str, Any] = {"name": affinity.cookie_name, "httpOnly": True,
                              "sameSite": "lax"}
    if affinity.max_age_seconds:
        cookie["maxAge"] = affinity.max_age_seconds
    services = [{"kind": kind, "name": name, "weight": weight,
                 **({"port": ref["port"]} if kind == "Service" else {})}
                for (kind, name, weight), ref in zip(refs_members(refs), refs, strict=True)]
    return {
        "apiVersion": TRAEFIKSERVICES.api_version, "kind": TRAEFIKSERVICES.kind,
        "metadata": {"name": sticky_name(route), "namespace": up["metadata"]["namespace"],
                     "labels": names.labels(model, None, "sticky"),
                     "ownerReferences": [names.owner_reference(up)]},
        "spec": {"weighted": {"services": services, "sticky": {"cookie": cookie}}},
    }


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
