"""Each traffic provider, in named tables: the weight it reads, when a weight counts as
reached, when the canary may take over, its route, and the registry that picks it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from modelops.api.updatepolicy import TrafficRouting, UpdatePolicySpec
from modelops.traffic.base import Backend, Split, carried_weight
from modelops.traffic.gateway import GatewayProvider, backend_refs, route_patch
from modelops.traffic.registry import PROVIDERS, ROUTE_RESOURCES, by_name, provider_for
from modelops.traffic.replicas import ReplicasProvider
from modelops.traffic.smi import SMIProvider, backends

V1, V2 = Backend("1", "m-1", 8080), Backend("2", "m-2", 8080)
UP = {"apiVersion": "modelops.io/v1alpha1", "kind": "UpdatePolicy",
      "metadata": {"name": "m", "namespace": "ns", "uid": "u-1"}}


def spec(routing: dict[str, Any] | None = None, **extra: Any) -> UpdatePolicySpec:
    canary: dict[str, Any] = {"steps": [{"setWeight": 50}]}
    if routing is not None:
        canary["trafficRouting"] = routing
    return UpdatePolicySpec.model_validate({"model": "m", "strategy": {"canary": canary},
                                            **extra})


def httproute(*refs: tuple[str, int]) -> dict[str, Any]:
    return {"kind": "HTTPRoute", "metadata": {"name": "r", "namespace": "ns"},
            "spec": {"rules": [{"backendRefs": [{"name": n, "port": 8080, "weight": w}
                                                for n, w in refs]}]}}


def trafficsplit(*refs: tuple[str, float], owner: str | None = "u-1") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "m", "namespace": "ns"}
    if owner:
        meta["ownerReferences"] = [{"kind": "UpdatePolicy", "name": "m", "uid": owner}]
    return {"kind": "TrafficSplit", "metadata": meta,
            "spec": {"service": "m", "backends": [{"service": n, "weight": w} for n, w in refs]}}


# -- replicas: the pods carry the weight -----------------------------------------------------
@pytest.mark.parametrize(("ready", "weight", "achieved", "reached"), [
    pytest.param((4, 0), 0, 0, True, id="all-stable"),
    pytest.param((3, 1), 25, 25, True, id="quarter-ready"),
    pytest.param((4, 0), 25, 0, False, id="canary-pod-not-ready-yet"),
    pytest.param((2, 1), 50, 33, False, id="half-needs-two-canary-pods"),
    pytest.param((4, 4), 100, 50, True, id="full-size-is-a-surge"),
    pytest.param((0, 0), 50, 0, False, id="nothing-ready"),
    pytest.param((4, 4), 25, 50, False, id="more-canary-pods-than-its-share"),
    pytest.param((4, 1), 25, 20, False, id="stable-not-shrunk-yet-is-another-weight"),
])
def test_replicas_provider(ready: tuple[int, int], weight: int, achieved: int,
                           reached: bool) -> None:
    p, s = ReplicasProvider(), Split(V1, V2, *ready)
    assert p.achieved(s) == achieved
    assert p.reached(s, weight, 4) is reached
    assert p.promotable(s) and p.route_name(spec()) is None and p.route_resource is None
    # Shared by two versions (a canary) the Service spreads over the model's pods; alone, it
    # selects the stable version (a warm previous version stays out of traffic).
    assert p.stable_selector("m", "1", True) == {"modelops.io/model": "m",
                                                 "modelops.io/serving": "true"}
    assert p.stable_selector("m", "1", False) == {"modelops.io/model": "m",
                                                  "modelops.io/serving": "true",
                                                  "modelops.io/version": "1"}


# -- gatewayAPI: a user's HTTPRoute ------------------------------------------------------------
@pytest.mark.parametrize(("route", "ready_canary", "weight", "achieved", "reached"), [
    pytest.param(httproute(("m-1", 100)), 0, 0, 0, True, id="all-stable"),
    pytest.param(httproute(("m-1", 80), ("m-2", 20)), 1, 20, 20, True, id="twenty"),
    pytest.param(httproute(("m-1", 80), ("m-2", 20)), 0, 20, 0, False,
                 id="weight-without-a-ready-pod-is-not-traffic"),
    pytest.param(httproute(("m-1", 100)), 1, 20, 0, False, id="route-not-written-yet"),
    pytest.param(httproute(("m-1", 1), ("m-2", 3)), 3, 75, 75, True, id="weights-not-100"),
    pytest.param(httproute(("m-1", 1), ("m-2", 3)), 1, 75, 75, False,
                 id="weight-without-the-pods-it-needs-is-not-reached"),
    pytest.param(None, 1, 20, 0, False, id="no-route"),
])
def test_gateway_provider(route: dict[str, Any] | None, ready_canary: int, weight: int,
                          achieved: int, reached: bool) -> None:
    p, s = GatewayProvider(), Split(V1, V2, 4, ready_canary, route)
    assert p.achieved(s) == achieved
    assert p.reached(s, weight, 4) is reached
    assert p.promotable(s) is (route is not None)
    assert p.problem(UP, spec(), s) is None


@pytest.mark.parametrize(("route", "weight", "patched"), [
    pytest.param(httproute(("placeholder", 1)), 20, [("m-1", 80), ("m-2", 20)], id="first"),
    pytest.param(httproute(("m-1", 80), ("m-2", 20)), 20, None, id="already-there"),
    pytest.param(None, 20, None, id="no-route-no-patch"),
])
def test_gateway_route_patch(route: dict[str, Any] | None, weight: int,
                             patched: list[tuple[str, int]] | None) -> None:
    patch = route_patch(route, V1, V2, weight)
    got = None if patch is None else [(r["name"], r["weight"])
                                      for r in patch["spec"]["rules"][0]["backendRefs"]]
    assert got == patched


@pytest.mark.parametrize(("ready_canary", "weight", "carried"), [
    pytest.param(0, 25, 0, id="no-ready-pod-no-share"),
    pytest.param(1, 25, 25, id="one-pod-carries-a-quarter-of-four"),
    pytest.param(1, 100, 25, id="full-size-step-rises-with-the-pods"),
    pytest.param(3, 100, 75, id="three-of-four"),
    pytest.param(4, 100, 100, id="all-ready"),
    pytest.param(1, 30, 25, id="thirty-needs-two-pods"),
    pytest.param(2, 30, 30, id="two-pods-carry-thirty"),
    pytest.param(4, 0, 0, id="zero-is-zero"),
])
def test_a_route_carries_only_what_the_ready_canary_pods_can_take(
        ready_canary: int, weight: int, carried: int) -> None:
    assert carried_weight(Split(V1, V2, 4, ready_canary), weight, 4) == carried


def test_gateway_writes_the_carried_weight_not_the_steps() -> None:
    class Recording:
        patches: list[Any] = []

        async def patch(self, *args: Any) -> dict[str, Any]:
            self.patches.append(args[-1])
            return {}

    kube = Recording()
    s = Split(V1, V2, 4, 1, httproute(("m-1", 100)))
    asyncio.run(GatewayProvider().set_weight(kube, UP, spec(replicas=4), s,  # type: ignore[arg-type]
                                             100))
    assert [(r["name"], r["weight"]) for r in kube.patches[0]["spec"]["rules"][0][
        "backendRefs"]] == [("m-1", 75), ("m-2", 25)]


def test_gateway_backend_refs_without_a_canary_are_all_stable() -> None:
    assert [(r["name"], r["weight"]) for r in backend_refs(V1, None, 30)] == [("m-1", 100)]


# -- smi: a TrafficSplit the policy owns ---------------------------------------------------------
@pytest.mark.parametrize(("route", "ready_canary", "weight", "achieved", "reached", "problem"), [
    pytest.param(trafficsplit(("m-1", 100)), 0, 0, 0, True, False, id="all-stable"),
    pytest.param(trafficsplit(("m-1", 75), ("m-2", 25)), 1, 25, 25, True, False, id="quarter"),
    pytest.param(trafficsplit(("m-1", 75), ("m-2", 25)), 0, 25, 0, False, False,
                 id="no-ready-canary-pod"),
    pytest.param(trafficsplit(("m-1", 0.5), ("m-2", 0.5)), 2, 50, 50, True, False,
                 id="fractional-weights"),
    pytest.param(None, 1, 25, 0, False, False, id="not-created-yet"),
    pytest.param(trafficsplit(("x", 100), owner="someone"), 1, 25, 0, False, True,
                 id="someone-elses-split"),
])
def test_smi_provider(route: dict[str, Any] | None, ready_canary: int, weight: int,
                      achieved: int, reached: bool, problem: bool) -> None:
    p, s = SMIProvider(), Split(V1, V2, 4, ready_canary, route)
    assert p.achieved(s) == achieved
    assert p.reached(s, weight, 4) is reached
    assert (p.problem(UP, spec({"smi": {}}), s) is not None) is problem


@pytest.mark.parametrize(("routing", "name", "root"), [
    pytest.param({}, "m", "m", id="defaults-to-the-model-service"),
    pytest.param({"trafficSplitName": "ts", "rootService": "apex"}, "ts", "apex", id="named"),
])
def test_smi_desired_split(routing: dict[str, Any], name: str, root: str) -> None:
    p = SMIProvider()
    want = p.desired(UP, spec({"smi": routing}), Split(V1, V2, 4, 1), 30)
    assert want["metadata"]["name"] == name and want["spec"]["service"] == root
    assert want["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert want["spec"]["backends"] == [{"service": "m-1", "weight": 70},
                                        {"service": "m-2", "weight": 30}]
    assert backends(Split(V1, None), 30) == [{"service": "m-1", "weight": 100}]


# -- the registry -----------------------------------------------------------------------------
def test_every_router_field_has_a_provider_and_is_picked_by_it() -> None:
    fields = [f.alias or n for n, f in TrafficRouting.model_fields.items()]
    assert sorted(fields) == sorted(PROVIDERS)
    for wire in fields:
        body = {"httpRoute": "r"} if wire == "gatewayAPI" else {}
        assert provider_for(spec({wire: body})).name == wire
    assert provider_for(spec()).name == "replicas"  # no trafficRouting
    assert by_name(None).name == by_name("unknown").name == "replicas"
    assert {r.kind for r in ROUTE_RESOURCES} == {"HTTPRoute", "TrafficSplit"}
