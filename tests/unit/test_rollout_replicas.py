"""Replica math for replica-based traffic splitting: a table of named cases."""

from __future__ import annotations

import pytest

from modelops.rollout.replicas import version_replicas
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


def test_version_replicas_other_versions_get_none() -> None:
    assert version_replicas(4, "1", "2", 50, "replicas", "1") == 2
    assert version_replicas(4, "1", "2", 50, None, "2") == 2
    assert version_replicas(4, "1", "2", 50, "replicas", "0") == 0
    assert version_replicas(4, "1", None, 50, "replicas", "1") == 4
    assert version_replicas(4, "1", "2", 50, "gatewayAPI", "1") == 4
