"""How many replicas each version of a policy-managed model runs. Pure.

The one writer of a version Deployment's replicas is its ModelVersion's reconcile; it asks
this module, from the policy's record (rollout.policy), how many replicas its version gets.
The split itself belongs to the policy's traffic provider (pods carry the weight, or a route
does). Every change is a surge, never a gap (as a Deployment with maxUnavailable 0): the model
never has fewer ready serving pods than the policy asks for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..api.updatepolicy import UpdatePolicyStatus
from ..traffic.registry import by_name


def version_replicas(policy: dict[str, Any], version: str, ready: Callable[[str], int]) -> int:
    """Replicas for one version under `policy` (a record); `ready(version)` is how many of a
    version's serving pods are ready now."""
    total, stable, canary = policy["replicas"], policy["stable"], policy["canary"]
    outgoing = policy.get("outgoing") or {}
    if version in (policy.get("incoming"), policy.get("first")):
        # A rollback target comes up beside the stable before it takes over; the first
        # version comes up whole before it is promoted.
        return int(total)
    if version == outgoing.get("version") and version not in (stable, canary):
        # A rolled-back canary keeps its pods (and its share) until the stable is back at
        # full size; the previous stable stays warm until the policy lets it go.
        return int(outgoing.get("replicas") or 0)
    s, c = by_name(policy.get("traffic")).replicas(total, policy["weight"] if canary else 0)
    if version == canary:
        # A step down gives pods back to the stable: the canary keeps the ready pods it has
        # until the stable's are ready to take their share (never grows for a missing stable).
        return max(c, min(ready(canary), total - ready(stable))) if stable else c
    if version == stable:
        # The stable gives up pods only for canary pods that are ready to take them; but it
        # never grows past its share for canary pods that are only starting (a scaler raising
        # the total mid-canary): the pods it keeps are ones that serve now.
        return max(s, min(total - min(ready(canary), c), ready(stable))) if canary else s
    return 0


def in_traffic(st: UpdatePolicyStatus) -> list[str]:
    """The versions that take traffic now: stable, canary, and a rolled-back canary that
    serves until the stable is back. A warm previous stable (out of traffic) is not among
    them, as an HPA should not count pods that carry no load."""
    out = [v for v in (st.stable_version, st.canary_version) if v]
    if st.outgoing and st.outgoing.serving and st.outgoing.version not in out:
        out.append(st.outgoing.version)
    return out
