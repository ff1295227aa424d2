"""Setting up a model with a stable version and a policy, for rollout tests and the demo."""

from __future__ import annotations

import time
from typing import Any

from .kube import GROUP, VERSION, Kube
from .manifests import served
from .waiting import wait_for

ERROR_RATE = (
    'sum(rate(http_requests_total{namespace="{{namespace}}",model="{{model}}",'
    'version="{{canaryVersion}}",code=~"5.."}[5s])) / '
    'sum(rate(http_requests_total{namespace="{{namespace}}",model="{{model}}",'
    'version="{{canaryVersion}}"}[5s]))')


def analysis(address: str, interval: str = "2s", failure_limit: int = 0,
             inconclusive_limit: int = 1, max_error: float = 0.05) -> dict[str, Any]:
    return {"interval": interval, "failureLimit": failure_limit,
            "inconclusiveLimit": inconclusive_limit, "prometheus": {"address": address},
            "metrics": [{"name": "error-rate", "query": ERROR_RATE, "max": max_error}]}


class Model:
    """A model `m` in a namespace, with its UpdatePolicy `m`."""

    def __init__(self, kube: Kube, ns: str, model: str = "m") -> None:
        self.kube, self.ns, self.model = kube, ns, model

    def version(self, v: str, replicas: int = 1) -> None:
        self.kube.create(self.ns, served(f"{self.model}-v{v}", self.model, v,
                                         replicas=replicas))

    def policy(self, **spec: Any) -> None:
        self.kube.create(self.ns, {"apiVersion": "modelops.io/v1alpha1", "kind": "UpdatePolicy",
                                   "metadata": {"name": self.model},
                                   "spec": {"model": self.model, **spec}})

    def patch(self, spec: dict[str, Any] | None = None,
              annotations: dict[str, Any] | None = None) -> None:
        body: dict[str, Any] = {}
        if spec:
            body["spec"] = spec
        if annotations:
            body["metadata"] = {"annotations": annotations}
        self.kube.custom.patch_namespaced_custom_object(GROUP, VERSION, self.ns,
                                                        "updatepolicies", self.model, body)

    def act(self, action: str) -> None:
        self.patch(annotations={"modelops.io/action": action})

    def status(self) -> dict[str, Any]:
        return (self.kube.get_up(self.ns, self.model) or {}).get("status") or {}

    def wait(self, what: str, timeout: float = 60, **fields: Any) -> dict[str, Any]:
        """Until every field of status has its value (or passes it, for a callable)."""
        def match() -> dict[str, Any] | None:
            st = self.status()
            return st if all(v(st.get(k)) if callable(v) else st.get(k) == v
                             for k, v in fields.items()) else None
        return wait_for(match, timeout=timeout, what=f"{what} ({fields}); last: {self.status()}")

    def replicas(self, v: str) -> int:
        dep = self.kube.apps.read_namespaced_deployment(f"{self.model}-{v}", self.ns)
        return int(dep.spec.replicas)

    def watch(self, until: Any, timeout: float = 90) -> list[tuple[Any, ...]]:
        """Record (step, weight, actual, phase) each time it changes, until `until(status)`."""
        seen: list[tuple[Any, ...]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.status()
            row = (st.get("currentStepIndex"), st.get("canaryWeight"),
                   st.get("actualCanaryWeight"), st.get("phase"))
            if not seen or seen[-1] != row:
                seen.append(row)
            if until(st):
                return seen
            time.sleep(0.1)
        raise AssertionError(f"rollout did not finish; seen {seen}")


def stable_on_v1(kube: Kube, ns: str, **policy: Any) -> Model:
    """Model `m` with versions 1 and 2 and a policy of 4 replicas, all of them on version 1."""
    m = Model(kube, ns)
    m.version("1")
    m.version("2")
    m.policy(targetVersion="1", replicas=4, **policy)
    m.wait("version 1 stable", stableVersion="1", phase="Promoted")
    wait_for(lambda: m.replicas("1") == 4 and m.replicas("2") == 0, what="4 replicas on v1")
    return m
