"""The traffic providers, registered in one place: a policy's provider is the one whose field
is set under spec.strategy.canary.trafficRouting (replicas when none is)."""

from __future__ import annotations

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
