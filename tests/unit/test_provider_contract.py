"""What every registered traffic provider promises the rollout, checked for each one the same
way (a new provider is held to it by being registered): the replicas it asks for, what it
reports with no route, the stable Service it keeps, and that a plain spec naming it is valid."""

from __future__ import annotations

from typing import Any

import pytest

from modelops.api.updatepolicy import UpdatePolicySpec
from modelops.serving import names
from modelops.traffic.base import Backend, Split, Want
from modelops.traffic.registry import PROVIDERS, ROUTE_RESOURCES, provider_for

V1, V2 = Backend("1", "m-1", 8080), Backend("2", "m-2", 8080)
UP = {"apiVersion": "modelops.io/v1alpha1", "kind": "UpdatePolicy",
      "metadata": {"name": "m", "namespace": "ns", "uid": "u-1"}}
SETTINGS: dict[str, dict[str, Any]] = {"gatewayAPI": {"httpRoute": "r"}}  # required fields


def spec_for(name: str) -> UpdatePolicySpec:
    canary: dict[str, Any] = {"steps": [{"setWeight": 50}]}
    if name != "replicas":
        canary["trafficRouting"] = {name: SETTINGS.get(name, {})}
    return UpdatePolicySpec.model_validate({"model": "m", "strategy": {"canary": canary}})


@pytest.fixture(params=sorted(PROVIDERS))
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_a_spec_naming_it_picks_it_and_is_valid(name: str) -> None:
    p = PROVIDERS[name]
    spec = spec_for(name)
    assert provider_for(spec) is p and p.name == name
    assert p.problem(UP, spec, Split(V1, None)) is None
    route = p.route_name(spec)
    assert (route is None) == (p.route_resource is None)
    if p.route_resource is not None:
        assert p.route_resource in p.watches and set(p.watches) <= set(ROUTE_RESOURCES)


@pytest.mark.parametrize("total", [1, 2, 3, 10])
def test_replicas_never_fewer_than_asked_and_a_canary_with_weight_gets_a_pod(
        name: str, total: int) -> None:
    p = PROVIDERS[name]
    for weight in range(0, 101):
        stable, canary = p.replicas(total, weight)
        assert stable >= 0 and canary >= 0
        if weight == 0:
            assert (stable, canary) == (total, 0)
        else:
            assert canary >= 1, (weight, stable, canary)
        assert stable + canary >= total, (weight, stable, canary)
        assert canary <= total and stable <= total


def test_without_a_route_or_canary_nothing_is_claimed(name: str) -> None:
    p = PROVIDERS[name]
    only_stable = Split(V1, None, ready_stable=2)
    achieved = p.achieved(only_stable)
    assert achieved in (None, 0)
    assert p.reached(only_stable, Want(weight=0), 2) in (True, False)
    assert p.released(only_stable, V2, 2)  # a version with no route and no weight takes none
    assert p.mirror_released(only_stable)
    # A canary whose pods are not ready never counts as carrying its weight.
    cold = Split(V1, V2, ready_stable=2, ready_canary=0)
    assert not p.reached(cold, Want(weight=50), 2)


def test_the_stable_service_selects_the_models_serving_pods(name: str) -> None:
    p = PROVIDERS[name]
    for stable, shared in (("1", False), ("1", True), (None, False)):
        sel = p.stable_selector("m", stable, shared)
        assert sel[names.MODEL] == "m"
        if stable and not shared:  # traffic on one version: only its pods
            assert sel.get(names.VERSION) in (None, "1")
        if p.route_resource is not None and stable:
            assert sel.get(names.VERSION) == "1"  # a router's weights live in the route


def test_a_leaving_version_is_kept_serving_or_let_go_never_anything_else(name: str) -> None:
    p = PROVIDERS[name]
    spec = spec_for(name)
    for replicas in (1, 3):
        for whole in (True, False):
            out = p.leaving("2", replicas, whole)
            assert out is None or (out.version, out.replicas, out.serving) == ("2", replicas, True)
            if not whole:  # the stable is short of pods: the leaving one keeps its share
                assert out is not None
    assert 0 <= p.linger(spec) <= spec.scale_down_delay_seconds
    if p.route_resource is not None:
        # A route may still name it after the write: released by the route, never at once.
        assert p.leaving("2", 1, whole=True) is not None and not p.blocks_canary()
    else:
        # Pods that share the model's Service: gone once the stable is whole, and a canary
        # never joins the Service while another version is still in it.
        assert p.leaving("2", 1, whole=True) is None and p.blocks_canary()
