"""The traffic-provider interface, and the model's stable Service, which every provider keeps.

A provider owns everything that varies with how weights become traffic: which object carries
the weight (its route, watched like any child), the weight in effect now, writing a new weight,
checking that it took, and how many replicas each version needs. The rollout asks the
provider of a policy (traffic.registry) and never which provider it has.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from ..api.routing import HeaderMatch
from ..api.updatepolicy import Outgoing, UpdatePolicySpec, UpdatePolicyStatus
from ..kube import Kube
from ..resources import Resource
from ..serving import names
from ..serving.builders import SERVING_LABEL


@dataclass(frozen=True)
class Backend:
    """One version's own Service, which routes name as a backend."""

    version: str
    service: str
    port: int


@dataclass(frozen=True)
class Split:
    """What a provider sees of one model at one moment."""

    stable: Backend | None
    canary: Backend | None
    ready_stable: int = 0  # ready serving pods of each
    ready_canary: int = 0
    route: dict[str, Any] | None = None  # the provider's route as last seen (None: not found)
    ready_shadow: int = 0  # ready pods of the comparer mirrored requests go to
    sticky: dict[str, Any] | None = None  # Traefik: the policy's sticky TraefikService, as seen
    at: datetime | None = None  # the moment (None: long after every write)


@dataclass(frozen=True)
class Want:
    """What the route should carry now: the canary's weight, the requests matched to it by
    header or cookie (setHeaderRoute), and the share copied to the comparer (setMirror)."""

    weight: int
    headers: tuple[HeaderMatch, ...] = ()
    mirror: int = 0
    shadow: Backend | None = None  # the comparer's Service, while mirroring
    implementation: str = "Standard"  # the gatewayAPI dialect (api.routing.Implementation)
    mirror_written: bool = True  # Traefik: its mirroring TraefikService is there to name
    sticky: bool = False  # weights through a sticky TraefikService (sessionAffinity)

    @property
    def load(self) -> int:
        """The share of requests the canary sees, in percent: what its pods are sized for."""
        return load_weight(self.weight, self.mirror, bool(self.headers))


def load_weight(weight: int, mirror: int, headers: bool) -> int:
    """A canary that only header-matched requests reach still needs a pod."""
    return max(weight, mirror, 1 if headers else 0)


def want_for(spec: UpdatePolicySpec, st: UpdatePolicyStatus, shadow: Backend | None,
             mirror_written: bool = True) -> Want:
    """What the policy's route should carry, from its status (the steps set it there)."""
    c = spec.strategy.canary if spec.strategy else None
    gw = c.traffic_routing.gateway_api if c and c.traffic_routing else None
    return Want(weight=st.canary_weight or 0, headers=tuple(st.header_route or ()),
                mirror=st.mirror_percent or 0, shadow=shadow if st.mirror_percent else None,
                implementation=gw.implementation if gw else "Standard",
                mirror_written=mirror_written,
                sticky=bool(gw and gw.session_affinity and gw.implementation == "Traefik"))


class Provider(Protocol):
    name: str  # its field under spec.strategy.canary.trafficRouting
    route_resource: Resource | None  # the kind of its route; None: the pods carry the weight
    watches: tuple[Resource, ...]  # what it reads as watched: its route and what it writes

    def route_name(self, spec: UpdatePolicySpec) -> str | None:
        """The name of the route this policy steers (in the policy's namespace)."""

    def sticky_key(self, spec: UpdatePolicySpec) -> tuple[str, str] | None:
        """(kind, name) of what the provider writes beside its route for stickiness (seen
        into Split.sticky), if anything."""

    def stable_selector(self, model: str, stable: str | None, shared: bool) -> dict[str, str]:
        """Which pods the model's stable Service sends to; `shared`: while more than one
        version takes traffic (a canary, or a rolled-back canary still draining)."""

    def replicas(self, total: int, weight: int) -> tuple[int, int]:
        """(stable, canary) replicas while the canary has `weight`."""

    def achieved(self, split: Split) -> int | None:
        """The canary weight really in effect (None: not known now; the last word stands)."""

    def reached(self, split: Split, want: Want, total: int) -> bool:
        """Whether `want` is in effect, with the pods it needs ready."""

    def waiting_for(self, split: Split) -> str | None:
        """What a step that has not reached its weight waits for, beyond pods (a message)."""

    def released(self, split: Split, leaving: Backend | None, total: int) -> bool:
        """Whether a version leaving the traffic (a rolled-back canary, a previous stable) no
        longer takes any: its pods may go."""

    def mirror_released(self, split: Split) -> bool:
        """Whether the route mirrors to nothing any more, as the gateway applies it (the
        comparer of a setMirror step may go)."""

    def recheck_in(self, split: Split) -> float | None:
        """Seconds until what the provider waits for may have come by time alone (a write the
        gateway reports nothing on, counted a while after it), if anything."""

    def promotable(self, split: Split) -> bool:
        """Whether the canary at full size may take over (the route, if any, is there)."""

    def problem(self, up: dict[str, Any], spec: UpdatePolicySpec, split: Split) -> str | None:
        """Why this policy cannot be served as it stands (a user's input to fix), if so."""

    # -- hand-over (rollout.handover asks; the answers differ by where the weight lives) ----
    def leaving(self, version: str, replicas: int, whole: bool) -> Outgoing | None:
        """What to keep of a version that leaves the traffic now (a canary that ends without
        promotion, a stable handing over with no warm time): still serving until released,
        or nothing. `whole`: the version that stays has all its replicas ready."""

    def linger(self, spec: UpdatePolicySpec) -> int:
        """Seconds a released version stays up, warm, before its pods go."""

    def blocks_canary(self) -> bool:
        """Whether a version still up (warm or draining) must be gone before a canary starts."""

    async def set_route(self, kube: Kube, up: dict[str, Any], spec: UpdatePolicySpec,
                        split: Split, want: Want) -> list[dict[str, Any]]:
        """Make the route carry `want`; the objects written, as the API server answered."""


C = TypeVar("C")


class RoutedProvider(Generic[C]):
    """What the providers whose weights live in a route (not in pods) share: the route sets
    the weights, so the stable keeps all its replicas and its Service selects the stable only;
    a version leaving the weights still takes traffic until the gateway has applied the route
    without it, and stays warm scaleDownDelaySeconds more (a gateway applies a route a moment
    after it accepts it; Argo Rollouts waits likewise)."""

    field: str  # its attribute of api.updatepolicy.TrafficRouting

    def config(self, spec: UpdatePolicySpec) -> C | None:
        c = spec.strategy.canary if spec.strategy else None
        routing = c.traffic_routing if c else None
        return getattr(routing, self.field) if routing else None

    def sticky_key(self, spec: UpdatePolicySpec) -> tuple[str, str] | None:
        return None

    def stable_selector(self, model: str, stable: str | None, shared: bool) -> dict[str, str]:
        return stable_only(model, stable)

    def replicas(self, total: int, weight: int) -> tuple[int, int]:
        return routed_replicas(total, weight)

    def mirror_released(self, split: Split) -> bool:
        return True  # it never mirrors

    def recheck_in(self, split: Split) -> float | None:
        return None

    def promotable(self, split: Split) -> bool:
        return split.route is not None

    def problem(self, up: dict[str, Any], spec: UpdatePolicySpec, split: Split) -> str | None:
        return None

    def leaving(self, version: str, replicas: int, whole: bool) -> Outgoing | None:
        return Outgoing(version=version, replicas=replicas, serving=True)

    def linger(self, spec: UpdatePolicySpec) -> int:
        return spec.scale_down_delay_seconds

    def blocks_canary(self) -> bool:
        return False


def routed_replicas(total: int, weight: int) -> tuple[int, int]:
    """With a router the route sets the weights: stable keeps all its replicas and the
    canary gets its share (at least one)."""
    if weight <= 0 or total == 0:
        return total, 0
    return total, min(max(1, math.ceil(total * weight / 100)), total)


def service_name(spec: UpdatePolicySpec) -> str:
    return (spec.service.name if spec.service and spec.service.name else None) or spec.model


def stable_service(up: dict[str, Any], spec: UpdatePolicySpec, provider: Provider,
                   stable: str | None, shared: bool) -> dict[str, Any]:
    """The Service clients call; owned by the policy, so it goes when the policy goes."""
    port = spec.service.port if spec.service else 80
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": service_name(spec), "namespace": up["metadata"]["namespace"],
                     "labels": names.labels(spec.model, None, "stable-service"),
                     "ownerReferences": [names.owner_reference(up)]},
        "spec": {"type": "ClusterIP",
                 "selector": provider.stable_selector(spec.model, stable, shared),
                 "ports": [{"name": "http", "port": port, "targetPort": "http",
                            "protocol": "TCP"}]},
    }


def serving_selector(model: str) -> dict[str, str]:
    return {names.MODEL: model, SERVING_LABEL: "true"}


def serving_label_selector(model: str) -> str:
    """The model's serving pods, all versions, as a label selector string (scale's)."""
    return ",".join(f"{k}={v}" for k, v in sorted(serving_selector(model).items()))


def stable_only(model: str, stable: str | None) -> dict[str, str]:
    """A router's stable Service: callers of the Service (not the route) reach stable only."""
    sel = serving_selector(model)
    if stable:
        sel[names.VERSION] = stable
    return sel


def routed_achieved(split: Split, route_weight: int) -> int:
    """A route's weight counts once a canary pod can take it."""
    return route_weight if split.ready_canary > 0 or route_weight == 0 else 0


def carried_weight(split: Split, weight: int, total: int) -> int:
    """The weight a route may give the canary now: all of `weight` once the canary has the
    ready pods it needs for it, else only what its ready pods carry at the stable's load per
    pod. A route never sends a share to pods that are not there (a 100% step with one ready
    pod of three would put all traffic on that pod); it rises as they become ready."""
    if weight <= 0 or total <= 0:
        return 0
    if split.ready_canary >= routed_replicas(total, weight)[1]:
        return weight
    return min(weight, 100 * split.ready_canary // total)


def routed_reached(split: Split, route_weight: int | None, weight: int, total: int) -> bool:
    return route_weight == weight and (
        weight == 0 or split.ready_canary >= routed_replicas(total, weight)[1])
