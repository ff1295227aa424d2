"""The provider interface and the model's stable Service, which every provider keeps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ..api.updatepolicy import UpdatePolicySpec
from ..serving import names
from ..serving.builders import SERVING_LABEL


@dataclass(frozen=True)
class Backend:
    version: str
    service: str
    port: int


class Provider(Protocol):
    routed: bool

    def stable_selector(self, model: str, stable: str | None) -> dict[str, str]:
        """Which pods the model's stable Service sends to."""

    def route_patch(self, route: dict[str, Any] | None, stable: Backend | None,
                    canary: Backend | None, weight: int) -> dict[str, Any] | None:
        """A patch that makes the route carry `weight` to the canary; None when it does."""

    def route_weight(self, route: dict[str, Any] | None, canary: Backend | None) -> int | None:
        """The canary weight in effect in the route, if the provider has one."""


def service_name(spec: UpdatePolicySpec) -> str:
    return (spec.service.name if spec.service and spec.service.name else None) or spec.model


def stable_service(up: dict[str, Any], spec: UpdatePolicySpec, provider: Provider,
                   stable: str | None) -> dict[str, Any]:
    """The Service clients call; owned by the policy, so it goes when the policy goes."""
    port = spec.service.port if spec.service else 80
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": service_name(spec), "namespace": up["metadata"]["namespace"],
                     "labels": names.labels(spec.model, None, "stable-service"),
                     "ownerReferences": [names.owner_reference(up)]},
        "spec": {"type": "ClusterIP", "selector": provider.stable_selector(spec.model, stable),
                 "ports": [{"name": "http", "port": port, "targetPort": "http",
                            "protocol": "TCP"}]},
    }


def serving_selector(model: str) -> dict[str, str]:
    return {names.MODEL: model, SERVING_LABEL: "true"}
