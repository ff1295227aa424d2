"""Whether a ModelVersion may go away now: not while a policy routes traffic to it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# Only versions that a policy routes traffic to carry it: any other version goes at once, its
# children with it through garbage collection, and costs no finalizer write when created.
PROTECTION = "modelops.io/traffic-protection"


def deletion_blocker(version: str, policies: Iterable[dict[str, Any]]) -> str | None:
    """A message saying why the version must stay, or None when it may be deleted."""
    for p in policies:
        if p.get("deleting"):  # a policy on its way out (say, its namespace) holds nothing
            continue
        out = p.get("outgoing") or {}
        draining = out.get("version") if out.get("serving") else None
        if version in (p.get("stable"), p.get("canary"), draining):
            return (f"UpdatePolicy {p['name']!r} routes traffic to version {version!r}; roll it "
                    "to another version (or delete the policy) and the deletion will finish")
    return None
