"""After the rollout, on the real node and real traffic: a promoted version whose example
server starts failing is caught by monitoring (a real Prometheus discovering the pods through
the API server), rolled back to the version it replaced, and a real webhook receiver is told
in order. No request fails but the degraded version's own errors, and the Service never has
fewer ready endpoints than the policy's replicas."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.kube import Kube
from tests.support.loadgen import explain, iris_model, now, share, traffic
from tests.support.prometheus import Prometheus
from tests.support.shipped import ShippedOperator
from tests.support.waiting import wait_for
from tests.support.webhook import Receiver

pytestmark = [pytest.mark.integration, pytest.mark.real_node]


@pytest.fixture
def operator(shipped_operator: ShippedOperator) -> ShippedOperator:
    """These run against the operator as users install it (Helm, its image, its pod)."""
    return shipped_operator


REPLICAS = 2


def test_a_version_that_degrades_after_promotion_is_rolled_back_and_notified(
        kube: Kube, namespace: str, operator: Any, pods_prometheus: Prometheus,
        receiver: Receiver) -> None:
    receiver.start()
    m = iris_model(kube, namespace, ["1", "2"], REPLICAS, [], error_rate={"2": 0.4},
                   error_after={"2": 30}, scaleDownDelaySeconds=15,
                   notifications=[{"receiver": receiver.name}],
                   monitoring={"interval": "5s", "failureThreshold": 2, "action": "Rollback",
                               "prometheus": {"address": operator.reach(
                namespace, "prometheus", pods_prometheus.port)},
                               "metrics": [{"name": "errors", "template": "error-rate",
                                            "window": "20s", "max": 0.05}]})
    with traffic(kube, namespace, REPLICAS) as (rec, load):
        start = now()
        m.patch({"targetVersion": "2"})
        m.wait("2 promoted", timeout=180, stableVersion="2", phase="Promoted")
        promoted = now()
        st = m.wait("rolled back by monitoring", timeout=240, stableVersion="1")
        back = now()
        wait_for(lambda: "incoming" not in m.status(), timeout=60, what="settled")
        end = now() + 6
        wait_for(lambda: now() >= end, timeout=10, what="a few seconds on 1")
        answers = load.answers(since=start, until=end)

    reg = st["monitoring"]["lastRegression"]
    assert (reg["version"], reg["action"], reg["to"]) == ("2", "Rollback", "1"), reg
    assert st["history"][0]["reason"] == "MonitoringRegression"
    assert st["hold"]["reason"] == "MonitoringRegression"
    own = [a for a in answers if a.code == 500]
    other = [a for a in answers if a.code not in (200, 500)]
    assert own and not other, explain(other, rec, start)
    assert all(a.t > promoted for a in own)  # it served well first: errors came later
    assert not [a for a in answers if a.t >= back + 3 and a.code != 200]
    assert share([a for a in answers if a.t >= back + 3], "1") == 100
    assert rec.fewest_endpoints(start, end) >= REPLICAS
    got = wait_for(lambda: (r := receiver.reasons()) and "RolledBack" in r and r, timeout=60,
                   what="the receiver told")
    # 1 was no longer warm: the hold is told at once, the rollback once 1's pods are ready.
    want = ["RolloutStarted", "Promoted", "Regression", "Held", "RolledBack"]
    it = iter(got)
    assert all(any(g == w for g in it) for w in want), got
    regression = next(x for x in receiver.messages if x["reason"] == "Regression")
    assert regression["metrics"]["errors"] > 0.05
    print(f"monitoring: errors from {own[0].t - promoted:.1f}s after promotion; rolled back "
          f"{back - own[0].t:.1f}s after the first error; {len(own)} errors of {len(answers)} "
          f"answers, 0 others; receiver got {got}")
