"""High availability: two operators in one kopf peering; one acts, the other takes over."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import ha
from tests.support.identity import ChartIdentity
from tests.support.kube import Kube
from tests.support.operator import OperatorProcess

pytestmark = pytest.mark.integration

@pytest.fixture(scope="module")
def ha_kubeconfig(kube: Kube, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The chart's identity with ha.enabled: the replicas act with the RBAC it grants."""
    identity = ChartIdentity(kube, "suite-ha", "modelops-suite-ha", "--set", "ha.enabled=true")
    identity.install()
    yield identity.kubeconfig(tmp_path_factory.mktemp("ha") / "kubeconfig")
    identity.remove()


@pytest.fixture
def peering(kube: Kube, operator: OperatorProcess, namespace: str) -> Iterator[str]:
    """A cluster peering of this test's own; the session's standalone operator steps aside so
    that only the peered replicas act."""
    with ha.peering(kube, f"ha-{namespace[-5:]}") as name:
        operator.stop()
        try:
            yield name
        finally:
            operator.start()


def test_one_replica_acts_and_a_standby_takes_over(kube: Kube, operator: OperatorProcess,
                                                   namespace: str, peering: str,
                                                   ha_kubeconfig: str) -> None:
    leader, standby = (ha.replica(ha_kubeconfig, operator.log_dir, peering, p)
                       for p in (200, 100))
    try:
        ha.leader_serves(kube, namespace, leader, standby, "ha")
        assert "ha-v1: applying Deployment" in leader.log_text()
        assert "ha-v1" not in standby.log_text(), "the paused standby acted too"
        assert "Resuming operations" not in standby.log_text()
        took = ha.handover(kube, namespace, leader, "ha")
        assert "Resuming operations after the pause" in standby.log_text()
        assert "ha-v2: applying Deployment" in standby.log_text()
        print(f"\nHA handover after SIGKILL: {took:.1f}s (peering lifetime {ha.LIFETIME}s)")
    finally:
        leader.stop()
        standby.stop()
