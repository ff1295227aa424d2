"""Replica routing: one Service over every serving pod of the model; pods carry the weight."""

from __future__ import annotations

from typing import Any

from .base import Backend, serving_selector


class ReplicasProvider:
    routed = False

    def stable_selector(self, model: str, stable: str | None) -> dict[str, str]:
        return serving_selector(model)

    def route_patch(self, route: dict[str, Any] | None, stable: Backend | None,
                    canary: Backend | None, weight: int) -> dict[str, Any] | None:
        return None

    def route_weight(self, route: dict[str, Any] | None, canary: Backend | None) -> int | None:
        return None
