"""The API server restarts in the middle of a rollout: the operator reconnects and converges."""

from __future__ import annotations

import pytest

from tests.support.faults import restart_apiserver
from tests.support.kube import Kube
from tests.support.manifests import served
from tests.support.operator import OperatorProcess
from tests.support.rollout import stable_on_v1
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


def test_rollout_survives_an_api_server_restart(kube: Kube, operator: OperatorProcess,
                                                namespace: str) -> None:
    m = stable_on_v1(kube, namespace, strategy={"canary": {"steps": [
        {"setWeight": 50}, {"pause": {"duration": "5s"}}]}})
    m.patch({"targetVersion": "2"})
    m.wait("in the pause", currentStepIndex=1)
    away = restart_apiserver(kube)
    st = m.wait("promoted after the restart", timeout=120, phase="Promoted", stableVersion="2")
    assert [h["version"] for h in st["history"]] == ["2", "1"]
    # Watches were re-established: a version created now is noticed and served.
    kube.create(namespace, served("late-v1", "late", "1"))
    wait_for(lambda: ((kube.get_mv(namespace, "late-v1") or {}).get("status") or {})
             .get("phase") == "Ready", timeout=120, what="a new version served after restart")
    assert operator.proc is not None and operator.proc.poll() is None
    print(f"\nAPI server away for {away:.1f}s; rollout promoted and watches resumed")
