"""How many replicas each version of a policy-managed model runs. Pure.

The one writer of a version Deployment's replicas is its ModelVersion's reconcile; it asks
this module, from the policy's status, how many replicas its version gets.
"""

from __future__ import annotations

import math


def split(total: int, weight: int, routed: bool) -> tuple[int, int]:
    """(stable, canary) replicas for a canary `weight` (0-100).

    With replica routing one Service spreads requests over ready pods, so the weight is the
    canary's share of pods: at least one canary pod while the weight is above 0, and at least
    one stable pod below 100. At 100 the canary runs at full size beside the whole stable (a
    surge, as a Deployment's rolling update does): the stable leaves only at promotion, once
    the canary is ready, so a canary that never starts never takes the Service's pods away.
    With a traffic router (Gateway API) the route sets the weights, so stable keeps all its
    replicas and the canary gets its share (at least one).
    """
    if weight <= 0 or total == 0:
        return total, 0
    canary = max(1, math.ceil(total * weight / 100))
    if routed or weight >= 100:
        return total, min(canary, total)
    canary = min(canary, max(total - 1, 1))
    return max(total - canary, 1), canary


def actual_weight(ready_stable: int, ready_canary: int) -> int:
    """The canary's share of ready pods, in percent (0 when nothing is ready)."""
    ready = ready_stable + ready_canary
    return round(100 * ready_canary / ready) if ready else 0


def version_replicas(total: int, stable: str | None, canary: str | None, weight: int,
                     routed: bool, version: str) -> int:
    """Replicas for one version: stable and canary share `total`; any other version gets 0."""
    s, c = split(total, weight if canary else 0, routed)
    if version == canary:
        return c
    if version == stable:
        return s
    return 0
