"""Bad answers from Prometheus never promote a canary: NaN, several series, no data (from a
real Prometheus) and a Prometheus that hangs (a black-hole socket) all pause the rollout as
inconclusive, with the reason in status."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from tests.support.kube import Kube
from tests.support.operator import OperatorProcess
from tests.support.prometheus import Prometheus
from tests.support.rollout import Model
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def black_hole() -> Iterator[str]:
    """Accepts connections and never answers: a Prometheus stuck past the query timeout."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield f"http://127.0.0.1:{s.getsockname()[1]}"


CASES = {
    "nan": ("vector(0) / vector(0)", "NaN"),
    "many-series": ('label_replace(vector(1), "a", "x", "", "") or '
                    'label_replace(vector(2), "a", "y", "", "")', "2 series"),
    "no-data": ('metric_that_does_not_exist{model="{{model}}"}', "no data"),
    "hung": ("vector(0)", "did not answer within"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_garbage_pauses_and_never_promotes(kube: Kube, operator: OperatorProcess,
                                           prometheus: Prometheus, black_hole: str,
                                           namespace: str, case: str) -> None:
    query, reason = CASES[case]
    m = Model(kube, namespace)
    m.version("1")
    m.version("2")
    m.policy(targetVersion="1", replicas=2,
             strategy={"canary": {"steps": [{"setWeight": 50}, {"pause": {"duration": "2s"}}]}},
             analysis={"interval": "1s", "inconclusiveLimit": 1,
                       "prometheus": {"address": black_hole if case == "hung"
                                      else prometheus.address},
                       "metrics": [{"name": "m", "query": query, "max": 1}]})
    m.wait("stable on 1", stableVersion="1", phase="Promoted")
    m.patch({"targetVersion": "2"})
    st = m.wait("paused as inconclusive", timeout=40, phase="Paused")
    assert "inconclusive" in st["pauseReason"]
    assert reason in st["analysis"]["metrics"][0]["message"], st["analysis"]
    time.sleep(4)  # longer than the step's pause: still no promotion
    st = m.status()
    assert st["phase"] == "Paused" and st["stableVersion"] == "1" and st["canaryVersion"] == "2"
    wait_for(lambda: m.replicas("2") <= 1, what="canary never beyond its step")
