"""Each traffic provider, in named tables: the weight it reads, when a weight counts as
reached, when the canary may take over, its route, and the registry that picks it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from modelops.api.routing import HeaderMatch
from modelops.api.updatepolicy import TrafficRouting, UpdatePolicySpec
from modelops.traffic.base import Backend, Split, Want, carried_weight
from modelops.traffic.gateway import (
    GatewayProvider,
    accepted,
    backend_refs,
    desired_rules,
    refusal,
    same_rules,
)
from modelops.traffic.registry import PROVIDERS, ROUTE_RESOURCES, by_name, provider_for
from modelops.traffic.replicas import ReplicasProvider
from modelops.traffic.smi import SMIProvider, backends
from modelops.traffic.traefik import traefik_service

V1, V2 = Backend("1", "m-1", 8080), Backend("2", "m-2", 8080)
UP = {"apiVersion": "modelops.io/v1alpha1", "kind": "UpdatePolicy",
      "metadata": {"name": "m", "namespace": "ns", "uid": "u-1"}}


def spec(routing: dict[str, Any] | None = None, **extra: Any) -> UpdatePolicySpec:
    canary: dict[str, Any] = {"steps": [{"setWeight": 50}]}
    if routing is not None:
        canary["trafficRouting"] = routing
    return UpdatePolicySpec.model_validate({"model": "m", "strategy": {"canary": canary},
                                            **extra})


V3 = Backend("2", "m-shadow", 80)  # the comparer


def httproute(*refs: tuple[str, int], accepted: bool = True, generation: int = 1,
              resolved: str = "True") -> dict[str, Any]:
    """A route, as stored once a gateway accepted it (`accepted`: at its generation)."""
    conds = [{"type": "Accepted", "status": "True", "observedGeneration": generation},
             {"type": "ResolvedRefs", "status": resolved, "reason": "BackendNotFound",
              "message": "no m-9", "observedGeneration": generation}]
    return {"kind": "HTTPRoute", "metadata": {"name": "r", "namespace": "ns",
                                              "generation": generation + (not accepted)},
            "spec": {"rules": [{"backendRefs": [{"name": n, "port": 8080, "weight": w}
                                                for n, w in refs]}]},
            "status": {"parents": [{"controllerName": "traefik.io/gateway-controller",
                                    "conditions": conds}]}}


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
    assert p.reached(s, Want(weight), 4) is reached
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
    pytest.param(httproute(("m-1", 100), ("m-2", 0)), 0, 0, 0, True, id="all-stable"),
    pytest.param(httproute(("m-1", 80), ("m-2", 20)), 1, 20, 20, True, id="twenty"),
    pytest.param(httproute(("m-1", 80), ("m-2", 20)), 0, 20, 0, False,
                 id="weight-without-a-ready-pod-is-not-traffic"),
    pytest.param(httproute(("m-1", 100)), 1, 20, 0, False, id="route-not-written-yet"),
    pytest.param(httproute(("m-1", 1), ("m-2", 3)), 3, 75, 75, False,
                 id="weights-not-100-are-rewritten"),
    pytest.param(httproute(("m-1", 25), ("m-2", 75)), 1, 75, 75, False,
                 id="weight-without-the-pods-it-needs-is-not-reached"),
    pytest.param(httproute(("m-1", 80), ("m-2", 20), accepted=False), 1, 20, None, False,
                 id="written-but-not-yet-accepted-is-not-known"),
    pytest.param(httproute(("m-1", 80), ("m-2", 20), resolved="False"), 1, 20, None, False,
                 id="refused-by-the-gateway"),
    pytest.param(None, 1, 20, None, False, id="no-route"),
])
def test_gateway_provider(route: dict[str, Any] | None, ready_canary: int, weight: int,
                          achieved: int | None, reached: bool) -> None:
    p, s = GatewayProvider(), Split(V1, V2, 4, ready_canary, route)
    assert p.achieved(s) == achieved
    assert p.reached(s, Want(weight), 4) is reached
    assert p.promotable(s) is (route is not None)
    assert p.problem(UP, spec(), s) is None
    assert (p.waiting_for(s) is None) is (route is not None and achieved is not None)


def test_what_the_gateway_says_against_a_route_is_the_wait_message() -> None:
    route = httproute(("m-1", 80), resolved="False")
    assert not accepted(route)
    assert refusal(route) == "ResolvedRefs: BackendNotFound no m-9"
    assert "no m-9" in (GatewayProvider().waiting_for(Split(V1, V2, 4, 1, route)) or "")


class Recording:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    async def patch(self, *args: Any) -> dict[str, Any]:
        self.calls.append(("patch", args[-1]))
        return {"metadata": {"name": "r", "namespace": "ns"}, **args[-1]}

    async def apply(self, obj: dict[str, Any], **_: Any) -> dict[str, Any]:
        self.calls.append(("apply", obj))
        return obj

    async def delete(self, res: Any, ns: str, name: str) -> bool:
        self.calls.append(("delete", name))
        return True


def set_route(route: dict[str, Any] | None, want: Want, ready_canary: int = 4,
              shadow: int = 1) -> list[tuple[str, Any]]:
    kube = Recording()
    s = Split(V1, V2, 4, ready_canary, route, shadow)
    asyncio.run(GatewayProvider().set_route(kube, UP, spec(replicas=4),  # type: ignore[arg-type]
                                            s, want))
    return kube.calls


def refs(rule: dict[str, Any]) -> list[tuple[str, int]]:
    return [(r["name"], r["weight"]) for r in rule["backendRefs"]]


@pytest.mark.parametrize(("route", "weight", "patched"), [
    pytest.param(httproute(("placeholder", 1)), 20, [("m-1", 80), ("m-2", 20)], id="first"),
    pytest.param(httproute(("m-1", 80), ("m-2", 20)), 20, None, id="already-there"),
    pytest.param(None, 20, None, id="no-route-no-patch"),
])
def test_gateway_route_patch(route: dict[str, Any] | None, weight: int,
                             patched: list[tuple[str, int]] | None) -> None:
    calls = set_route(route, Want(weight))
    assert (refs(calls[0][1]["spec"]["rules"][0]) if calls else None) == patched


def test_gateway_leaves_the_route_alone_until_a_version_serves() -> None:
    kube = Recording()
    s = Split(None, None, 0, 0, httproute(("m", 1)))
    assert asyncio.run(GatewayProvider().set_route(  # a route without backends answers 500
        kube, UP, spec(replicas=4), s, Want(0))) == []  # type: ignore[arg-type]
    assert kube.calls == []


def test_gateway_writes_the_carried_weight_not_the_steps() -> None:
    calls = set_route(httproute(("m-1", 100)), Want(100), ready_canary=1)
    assert refs(calls[0][1]["spec"]["rules"][0]) == [("m-1", 75), ("m-2", 25)]


def test_gateway_backend_refs_without_a_canary_are_all_stable() -> None:
    assert [(r["name"], r["weight"]) for r in backend_refs(
        httproute(), Split(V1, None), Want(30), 30)] == [("m-1", 100)]


TESTER = (HeaderMatch.model_validate({"headerName": "X-Canary", "headerValue": "yes"}),)
COOKIE = (HeaderMatch.model_validate({"cookieName": "beta", "cookieValue": "on"}),)


def test_a_header_route_copies_each_user_rule_with_the_headers_added() -> None:
    route = httproute(("m-1", 100))
    route["spec"]["rules"] = [
        {"matches": [{"path": {"type": "PathPrefix", "value": "/v2"}}],
         "filters": [{"type": "ResponseHeaderModifier"}], "backendRefs": []},
        {"backendRefs": []}]
    rules = desired_rules(route, Split(V1, V2, 4, 1), Want(10, TESTER + COOKIE), 10)
    assert [r.get("name") for r in rules] == [None, None, "modelops-header-0",
                                              "modelops-header-1"]
    assert refs(rules[0]) == refs(rules[1]) == [("m-1", 90), ("m-2", 10)]
    first, second = rules[2], rules[3]
    assert refs(first) == refs(second) == [("m-2", 100)]
    assert first["filters"] == [{"type": "ResponseHeaderModifier"}]  # the user's, kept
    assert first["matches"] == [{"path": {"type": "PathPrefix", "value": "/v2"}, "headers": [
        {"type": "Exact", "name": "X-Canary", "value": "yes"},
        {"type": "RegularExpression", "name": "Cookie", "value": r"(^|;\s*)beta=on(;|$)"}]}]
    assert second["matches"][0]["path"] == {"type": "PathPrefix", "value": "/"}
    # Written once; then the route has it, and taken out when the step says so.
    with_header = {**route, "spec": {"rules": rules}}
    assert same_rules(rules, desired_rules(with_header, Split(V1, V2, 4, 1),
                                           Want(10, TESTER + COOKIE), 10))
    assert GatewayProvider().reached(Split(V1, V2, 4, 1, with_header), Want(10, TESTER + COOKIE),
                                     4)
    assert not GatewayProvider().reached(Split(V1, V2, 4, 1, with_header), Want(10), 4)
    removed = desired_rules(with_header, Split(V1, V2, 4, 1), Want(10), 10)
    assert [r.get("name") for r in removed] == [None, None]


def test_a_header_route_waits_for_one_ready_canary_pod() -> None:
    route = httproute(("m-1", 100), ("m-2", 0))
    # No ready canary pod: no header rule yet (header requests would find no pod).
    assert len(desired_rules(route, Split(V1, V2, 4, 0), Want(0, TESTER), 0)) == 1
    route["spec"]["rules"] = desired_rules(route, Split(V1, V2, 4, 1), Want(0, TESTER), 0)
    assert not GatewayProvider().reached(Split(V1, V2, 4, 0, route), Want(0, TESTER), 4)
    assert GatewayProvider().reached(Split(V1, V2, 4, 1, route), Want(0, TESTER), 4)
    assert GatewayProvider().replicas(4, Want(0, TESTER).load) == (4, 1)


def test_standard_mirroring_is_a_request_mirror_filter_to_the_comparer() -> None:
    want = Want(0, mirror=20, shadow=V3)
    calls = set_route(httproute(("m-1", 100), ("m-2", 0)), want)
    stable = calls[0][1]["spec"]["rules"][0]["backendRefs"][0]
    assert stable["name"] == "m-1" and stable["filters"] == [{"type": "RequestMirror",
        "requestMirror": {"backendRef": {"group": "", "kind": "Service", "name": "m-shadow",
                                         "port": 80}, "percent": 20}}]
    route = httproute(("m-1", 100), ("m-2", 0))
    route["spec"] = calls[0][1]["spec"]
    assert not GatewayProvider().reached(Split(V1, V2, 4, 4, route, 0), want, 4)  # no comparer
    assert GatewayProvider().reached(Split(V1, V2, 4, 4, route, 1), want, 4)


def test_traefik_mirroring_is_a_traefikservice_named_in_the_stables_place() -> None:
    want = Want(10, mirror=50, shadow=V3, implementation="Traefik")
    [(_, patch)] = set_route(httproute(("m-1", 100), ("m-2", 0)), want)
    first = patch["spec"]["rules"][0]["backendRefs"]
    assert [(r["kind"], r["name"], r["weight"]) for r in first] == [
        ("TraefikService", "r-mirror", 90), ("Service", "m-2", 10)]
    ts = traefik_service(UP, "m", "r", V1, V3, 50)  # shadow.sync writes it before
    assert ts["metadata"]["name"] == "r-mirror"
    assert ts["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert ts["spec"]["mirroring"]["name"] == "m-1"
    assert ts["spec"]["mirroring"]["mirrors"] == [{"kind": "Service", "name": "m-shadow",
                                                   "port": 80, "percent": 50}]
    # Not while the comparer (or the canary) has no ready pod: nothing to compare with; nor
    # before the TraefikService has been there a while (Traefik would drop the route).
    assert not set_route(httproute(("m-1", 90), ("m-2", 10)), want, shadow=0)
    fresh = Want(10, mirror=50, shadow=V3, implementation="Traefik", mirror_written=False)
    assert not set_route(httproute(("m-1", 90), ("m-2", 10)), fresh)
    assert not set_route({**httproute(), "spec": patch["spec"]}, fresh)  # named: it stays
    # The comparer may go once the gateway accepted a route that mirrors nowhere.
    route = httproute(("m-1", 90), ("m-2", 10))
    mirrored = {**route, "spec": patch["spec"]}
    p = GatewayProvider()
    assert not p.mirror_released(Split(V1, V2, 4, 1, mirrored))
    assert not p.mirror_released(Split(V1, V2, 4, 1, httproute(("m-1", 90), accepted=False)))
    assert p.mirror_released(Split(V1, V2, 4, 1, route))


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
    assert p.reached(s, Want(weight), 4) is reached
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
    assert {r.kind for r in ROUTE_RESOURCES} == {"HTTPRoute", "TrafficSplit", "TraefikService"}
