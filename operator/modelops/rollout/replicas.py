"""How many replicas each version of a policy-managed model runs. Pure.

The one writer of a version Deployment's replicas is its ModelVersion's reconcile; it asks
this module, from the policy's status, how many replicas its version gets. The split itself
belongs to the policy's traffic provider (pods carry the weight, or a route does).
"""

from __future__ import annotations

from ..traffic.registry import by_name


def version_replicas(total: int, stable: str | None, canary: str | None, weight: int,
                     provider: str | None, version: str) -> int:
    """Replicas for one version: stable and canary share `total`; any other version gets 0."""
    s, c = by_name(provider).replicas(total, weight if canary else 0)
    if version == canary:
        return c
    if version == stable:
        return s
    return 0
