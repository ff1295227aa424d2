"""Replica routing: one Service over every serving pod of the model; pods carry the weight."""

from __future__ import annotations

import math
from typing import Any

from ..api.updatepolicy import Outgoing, UpdatePolicySpec
from ..kube import Kube
from ..resources import Resource
from .base import Backend, Split, Want, serving_selector, stable_only


def split(total: int, weight: int) -> tuple[int, int]:
    """(stable, canary) replicas for a canary `weight` (0-100).

    One Service spreads requests over ready pods, so the weight is the canary's share of pods:
    at least one canary pod while the weight is above 0, and at least one stable pod below
    100. At 100 the canary runs at full size beside the whole stable (a surge, as a
    Deployment's rolling update does): the stable leaves only at promotion, once the canary is
    ready, so a canary that never starts never takes the Service's pods away.
    """
    if weight <= 0 or total == 0:
        return total, 0
    canary = max(1, math.ceil(total * weight / 100))
    if weight >= 100:
        return total, min(canary, total)
    canary = min(canary, max(total - 1, 1))
    return max(total - canary, 1), canary


def actual_weight(ready_stable: int, ready_canary: int) -> int:
    """The canary's share of ready pods, in percent (0 when nothing is ready)."""
    ready = ready_stable + ready_canary
    return round(100 * ready_canary / ready) if ready else 0


class ReplicasProvider:
    name = "replicas"
    route_resource: Resource | None = None
    watches: tuple[Resource, ...] = ()

    def route_name(self, spec: UpdatePolicySpec) -> str | None:
        return None

    def sticky_key(self, spec: UpdatePolicySpec) -> tuple[str, str] | None:
        return None

    def stable_selector(self, model: str, stable: str | None, shared: bool) -> dict[str, str]:
        # Alone, the stable version only: a warm previous version's pods stay out of traffic.
        return serving_selector(model) if shared or not stable else stable_only(model, stable)

    def replicas(self, total: int, weight: int) -> tuple[int, int]:
        return split(total, weight)

    def achieved(self, s: Split) -> int:
        return actual_weight(s.ready_stable, s.ready_canary)

    def reached(self, s: Split, want: Want, total: int) -> bool:
        # The weight is in effect when the ready pods are exactly the split: more canary pods
        # (a warm version rolled out again, a step down) or stable pods not yet gone (the
        # surge before they go) are another weight, and a pause timed from then would be.
        stable, canary = split(total, want.weight)
        return s.ready_canary == canary and s.ready_stable == stable

    def waiting_for(self, s: Split) -> str | None:
        return None

    def released(self, s: Split, leaving: Backend | None, total: int) -> bool:
        return s.ready_stable >= total  # the stable serves alone again, whole

    def mirror_released(self, s: Split) -> bool:
        return True  # it never mirrors

    def recheck_in(self, split: Split) -> float | None:
        return None

    def promotable(self, s: Split) -> bool:
        return True

    def problem(self, up: dict[str, Any], spec: UpdatePolicySpec, s: Split) -> str | None:
        return None

    def leaving(self, version: str, replicas: int, whole: bool) -> Outgoing | None:
        # Its pods share the model's Service: they keep their share until the stable is whole
        # again, and go with nothing after (no route lags behind a Service's endpoints).
        return None if whole else Outgoing(version=version, replicas=replicas, serving=True)

    def linger(self, spec: UpdatePolicySpec) -> int:
        return 0

    def blocks_canary(self) -> bool:
        return True  # a canary would share the model's Service with it

    async def set_route(self, kube: Kube, up: dict[str, Any], spec: UpdatePolicySpec,
                        s: Split, want: Want) -> list[dict[str, Any]]:
        return []  # the ModelVersions' reconciles scale the pods (rollout.replicas)
