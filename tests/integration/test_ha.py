"""High availability: two operators in one kopf peering; one acts, the other takes over."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from tests.support.identity import ChartIdentity
from tests.support.kube import Kube
from tests.support.manifests import served
from tests.support.operator import OperatorProcess
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

LIFETIME = 5  # seconds; the chart's default is 20


def phase(kube: Kube, ns: str, name: str) -> str | None:
    return ((kube.get_mv(ns, name) or {}).get("status") or {}).get("phase")


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
    name = f"ha-{namespace[-5:]}"
    kube.kubectl("apply", "--server-side", "-f", "-", stdin=json.dumps({
        "apiVersion": "kopf.dev/v1", "kind": "ClusterKopfPeering", "metadata": {"name": name}}))
    operator.stop()
    try:
        yield name
    finally:
        operator.start()
        kube.kubectl("delete", "clusterkopfpeering", name, "--wait=false", check=False)


def replica(kubeconfig: str, operator: OperatorProcess, peering: str, priority: int
            ) -> OperatorProcess:
    return OperatorProcess(kubeconfig, operator.log_dir,
                           env={"MODELOPS_PEERING_LIFETIME": str(LIFETIME)},
                           extra_args=[f"--peering={peering}", f"--priority={priority}"])


def test_one_replica_acts_and_a_standby_takes_over(kube: Kube, operator: OperatorProcess,
                                                   namespace: str, peering: str,
                                                   ha_kubeconfig: str) -> None:
    leader, standby = (replica(ha_kubeconfig, operator, peering, p) for p in (200, 100))
    leader.start()
    try:
        leader.wait_for_log("Resuming operations after the pause")  # kopf starts paused
        standby.start()
        kube.create(namespace, served("ha-v1", "ha", "1"))
        wait_for(lambda: phase(kube, namespace, "ha-v1") == "Ready", what="served by the leader")
        assert "ha-v1: applying Deployment" in leader.log_text()
        assert "ha-v1" not in standby.log_text(), "the paused standby acted too"
        assert "Resuming operations" not in standby.log_text()

        leader.kill()  # SIGKILL: its peering record is not withdrawn, it has to expire
        dead = time.monotonic()
        kube.create(namespace, served("ha-v2", "ha", "2"))
        wait_for(lambda: phase(kube, namespace, "ha-v2") == "Ready", timeout=60,
                 what="served by the standby after the leader died")
        handover = time.monotonic() - dead
        assert "Resuming operations after the pause" in standby.log_text()
        assert "ha-v2: applying Deployment" in standby.log_text()
        print(f"\nHA handover after SIGKILL: {handover:.1f}s (peering lifetime {LIFETIME}s)")
    finally:
        leader.stop()
        standby.stop()
