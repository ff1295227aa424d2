"""Replica math for replica-based traffic splitting: a table of named cases."""

from __future__ import annotations

import pytest

from modelops.api.updatepolicy import UpdatePolicyStatus
from modelops.rollout.policy import policy_record
from modelops.rollout.replicas import in_traffic, version_replicas
from modelops.traffic.gateway import GatewayProvider
from modelops.traffic.replicas import ReplicasProvider, actual_weight


@pytest.mark.parametrize(("total", "weight", "routed", "expected"), [
    pytest.param(4, 0, False, (4, 0), id="no-canary"),
    pytest.param(4, 10, False, (3, 1), id="small-weight-still-one-canary-pod"),
    pytest.param(4, 25, False, (3, 1), id="quarter"),
    pytest.param(4, 50, False, (2, 2), id="half"),
    pytest.param(4, 90, False, (1, 3), id="stable-keeps-one-pod-below-100"),
    pytest.param(4, 100, False, (4, 4), id="full-is-a-surge"),
    pytest.param(1, 10, False, (1, 1), id="single-replica-surges"),
    pytest.param(10, 25, False, (7, 3), id="rounds-canary-up"),
    pytest.param(0, 50, False, (0, 0), id="scaled-to-zero"),
    pytest.param(4, 10, True, (4, 1), id="routed-stable-stays-full"),
    pytest.param(4, 100, True, (4, 4), id="routed-full"),
])
def test_split(total: int, weight: int, routed: bool, expected: tuple[int, int]) -> None:
    provider = GatewayProvider() if routed else ReplicasProvider()
    assert provider.replicas(total, weight) == expected


@pytest.mark.parametrize(("stable", "canary", "weight"), [
    (3, 1, 25), (2, 2, 50), (0, 0, 0), (0, 2, 100), (4, 0, 0), (2, 1, 33)])
def test_actual_weight(stable: int, canary: int, weight: int) -> None:
    assert actual_weight(stable, canary) == weight


def record(stable: str = "1", canary: str | None = "2", weight: int = 50,
           traffic: str | None = "replicas", **more: object) -> dict[str, object]:
    return {"replicas": 4, "stable": stable, "canary": canary, "weight": weight,
            "traffic": traffic, **more}


def ready_all(_: str) -> int:
    return 4


def test_the_first_version_runs_whole_before_it_is_promoted() -> None:
    # A policy that has promoted nothing yet: its target is not scaled to zero while it waits
    # (it would then be "Ready" with no pods, and promoted with none); the others are.
    first = record(stable=None, canary=None, weight=0, first="1")  # type: ignore[arg-type]
    assert version_replicas(first, "1", ready_all) == 4
    assert version_replicas(first, "2", ready_all) == 0


def test_version_replicas_other_versions_get_none() -> None:
    assert version_replicas(record(), "1", ready_all) == 2
    assert version_replicas(record(traffic=None), "2", ready_all) == 2
    assert version_replicas(record(), "0", ready_all) == 0
    assert version_replicas(record(canary=None), "1", ready_all) == 4
    assert version_replicas(record(traffic="gatewayAPI"), "1", ready_all) == 4


@pytest.mark.parametrize(("rec", "version", "canary_ready", "replicas"), [
    pytest.param(record(), "1", 0, 4, id="stable-keeps-all-until-canary-pods-are-ready"),
    pytest.param(record(), "1", 1, 3, id="stable-gives-one-pod-per-ready-canary-pod"),
    pytest.param(record(), "1", 2, 2, id="stable-at-its-share-once-the-canary-is-ready"),
    pytest.param(record(), "2", 0, 2, id="canary-gets-its-share-at-once"),
    pytest.param(record(canary=None, outgoing={"version": "2", "replicas": 2,
                                               "serving": True}),
                 "2", 0, 2, id="rolled-back-canary-keeps-its-pods-while-it-drains"),
    pytest.param(record(stable="2", canary=None, outgoing={"version": "1", "replicas": 4,
                                                           "serving": False}),
                 "1", 0, 4, id="previous-stable-stays-warm"),
    pytest.param(record(stable="2", canary=None, outgoing={"version": "1", "replicas": 0,
                                                           "serving": False}),
                 "1", 0, 0, id="warm-time-over"),
    pytest.param(record(canary=None, incoming="0"), "0", 0, 4,
                 id="rollback-target-comes-up-beside-the-stable"),
    pytest.param(record(canary=None, incoming="0"), "1", 0, 4,
                 id="stable-keeps-all-while-the-rollback-target-comes-up"),
])
def test_every_change_is_a_surge(rec: dict[str, object], version: str, canary_ready: int,
                                 replicas: int) -> None:
    # The stable (1) has all its 4 pods ready; the others have `canary_ready`.
    assert version_replicas(rec, version, lambda v: 4 if v == "1" else canary_ready) == replicas


@pytest.mark.parametrize(("ready", "stable", "canary"), [
    pytest.param({"1": 1, "2": 3}, 2, 3, id="canary-keeps-its-pods-until-the-stable-has-more"),
    pytest.param({"1": 2, "2": 3}, 2, 2, id="then-gives-back-one-per-ready-stable-pod"),
    pytest.param({"1": 2, "2": 2}, 2, 2, id="both-at-the-step"),
    pytest.param({"1": 0, "2": 2}, 2, 2, id="a-missing-stable-never-grows-the-canary"),
])
def test_a_step_down_is_a_surge_too(ready: dict[str, int], stable: int, canary: int) -> None:
    # From 75% (1 stable, 3 canary of 4) down to 50%.
    rec = record(weight=50)
    assert version_replicas(rec, "1", ready.__getitem__) == stable
    assert version_replicas(rec, "2", ready.__getitem__) == canary


def test_a_policy_names_its_first_version_until_one_is_promoted() -> None:
    spec = {"model": "m", "targetVersion": "1"}
    [before] = policy_record("ns", "m", {}, spec, {}).values()
    [after] = policy_record("ns", "m", {}, {**spec, "targetVersion": "2"},
                            {"stableVersion": "1"}).values()
    assert before["first"] == "1" and after["first"] is None


@pytest.mark.parametrize(("total", "ready", "stable", "canary"), [
    pytest.param(8, {"1": 3, "2": 1}, 6, 2,
                 id="scaled-up-both-grow-to-their-share-none-beyond"),
    pytest.param(8, {"1": 7, "2": 2}, 6, 2, id="then-both-at-the-step"),
    pytest.param(4, {"1": 6, "2": 2}, 3, 1, id="scaled-down-both-to-the-step-at-once"),
    pytest.param(2, {"1": 3, "2": 1}, 1, 1, id="down-to-two-still-one-canary-pod"),
])
def test_scaling_mid_canary_keeps_the_step(total: int, ready: dict[str, int], stable: int,
                                           canary: int) -> None:
    # The scale subresource (kubectl scale, an HPA, KEDA) writes the total in the middle of a
    # 25% step: the split follows the weight; the stable never grows past its share while
    # the canary's new pods start (the answered share would swing to the stable).
    rec = {**record(weight=25), "replicas": total}
    assert version_replicas(rec, "1", ready.__getitem__) == stable
    assert version_replicas(rec, "2", ready.__getitem__) == canary


def test_the_versions_in_traffic_are_the_scale_subresources_replicas() -> None:
    st = UpdatePolicyStatus.model_validate
    assert in_traffic(st({"stableVersion": "1", "canaryVersion": "2"})) == ["1", "2"]
    # A warm previous stable carries no load: an HPA must not count it.
    assert in_traffic(st({"stableVersion": "2", "outgoing": {
        "version": "1", "replicas": 4, "serving": False}})) == ["2"]
    assert in_traffic(st({"stableVersion": "1", "outgoing": {
        "version": "2", "replicas": 1, "serving": True}})) == ["1", "2"]
    assert in_traffic(st({})) == []
