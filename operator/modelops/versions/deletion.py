"""Whether a ModelVersion may go away now: not while a policy routes traffic to it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def policy_usage(namespace: str | None, name: str, spec: dict[str, Any],
                 status: dict[str, Any]) -> dict[Any, Any]:
    """Index entry of an UpdatePolicy: which versions of its model it serves now."""
    serving = {v for v in (status.get("stableVersion"), status.get("canaryVersion")) if v}
    return {(namespace, spec.get("model")): (name, tuple(sorted(serving)))}


def deletion_blocker(version: str, usages: Iterable[tuple[str, tuple[str, ...]]]) -> str | None:
    """A message saying why the version must stay, or None when it may be deleted."""
    for policy, versions in usages:
        if version in versions:
            return (f"UpdatePolicy {policy!r} routes traffic to version {version!r}; roll it "
                    "to another version (or delete the policy) and the deletion will finish")
    return None
