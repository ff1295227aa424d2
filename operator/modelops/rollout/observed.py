"""What one round of the rollout machine reads (Observed) and returns (Decision). Pure data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..api.updatepolicy import UpdatePolicyStatus
from ..traffic.base import Backend
from .target import VersionInfo


@dataclass
class Observed:
    versions: dict[str, VersionInfo]
    ready: dict[str, int] = field(default_factory=dict)  # ready serving replicas per version
    route: dict[str, Any] | None = None  # the traffic provider's route, as last seen
    measurement: list[dict[str, Any]] | None = None  # one analysis round taken just now
    monitoring: list[dict[str, Any]] | None = None  # one monitoring round taken just now
    shadow: Backend | None = None  # the comparer's Service (setMirror steps)
    shadow_ready: int = 0  # its ready pods
    shadow_exists: bool = False  # its Deployment exists
    mirror_written: bool = True  # Traefik: the mirroring TraefikService may be named
    sticky: dict[str, Any] | None = None  # Traefik: the sticky TraefikService, as last seen


@dataclass
class Decision:
    typed: UpdatePolicyStatus
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (type, reason, message)
    requeue_after: float | None = None

    @property
    def status(self) -> dict[str, Any]:
        """As written to the API."""
        return self.typed.dump()
