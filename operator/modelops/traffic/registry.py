"""The traffic providers, registered in one place: a policy's provider is the one whose field
is set under spec.strategy.canary.trafficRouting (replicas when none is)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from ..api.updatepolicy import UpdatePolicySpec
from ..resources import Resource
from .base import Provider
from .gateway import GatewayProvider
from .replicas import ReplicasProvider
from .smi import SMIProvider

DEFAULT = ReplicasProvider()
PROVIDERS: dict[str, Provider] = {p.name: p for p in (DEFAULT, GatewayProvider(), SMIProvider())}
# The kinds of route that providers steer, and what they write beside them: the operator
# watches them (handlers.routes).
ROUTE_RESOURCES: tuple[Resource, ...] = tuple(dict.fromkeys(
    r for p in PROVIDERS.values() for r in p.watches))


def provider_for(spec: UpdatePolicySpec) -> Provider:
    c = spec.strategy.canary if spec.strategy else None
    routing = c.traffic_routing if c else None
    if routing is None:
        return DEFAULT
    for name, field in type(routing).model_fields.items():
        if getattr(routing, name) is not None:  # the schema allows exactly one
            return PROVIDERS[field.alias or name]
    return DEFAULT


def by_name(name: str | None) -> Provider:
    return PROVIDERS.get(name or "", DEFAULT)


def name_in(spec: dict[str, Any]) -> str:
    """The provider an untyped spec picks (what index records keep of a policy)."""
    c = (spec.get("strategy") or {}).get("canary") or {}
    return next((k for k in c.get("trafficRouting") or {} if k in PROVIDERS), DEFAULT.name)


def route_key(provider: Provider, spec: UpdatePolicySpec,
              namespace: str) -> tuple[str, str, str] | None:
    """(kind, namespace, name) of the route a policy's provider steers, if it has one."""
    name = provider.route_name(spec)
    if provider.route_resource is None or name is None:
        return None
    return provider.route_resource.kind, namespace, name


def route_key_in(namespace: str, spec: dict[str, Any]) -> tuple[str, str, str] | None:
    """The same, for an untyped spec (None for one that is not valid)."""
    try:
        typed = UpdatePolicySpec.model_validate(spec)
    except ValidationError:
        return None
    return route_key(provider_for(typed), typed, namespace)
