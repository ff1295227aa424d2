"""Rollouts judged by the requests clients send: a load generator on the real node calls the
model's stable Service all along, and every answer says which version gave it.

For each rollout: no request fails for any reason but the canary's own errors, the canary's
share of the answers at each step is the weight the policy reports, and the Service never has
fewer ready endpoints than the policy's replicas.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.support.kube import Kube
from tests.support.loadgen import Answer, explain, iris_model, now, share, step_windows, traffic
from tests.support.prometheus import Prometheus
from tests.support.shipped import ShippedOperator
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.real_node]


@pytest.fixture
def operator(shipped_operator: ShippedOperator) -> ShippedOperator:
    """These run against the operator as users install it (Helm, its image, its pod)."""
    return shipped_operator


REPLICAS = 3
STEPS = [{"setWeight": 33}, {"pause": {"duration": "12s"}},
         {"setWeight": 67}, {"pause": {"duration": "12s"}}]


def failures(answers: list[Answer]) -> list[Answer]:
    return [a for a in answers if a.code != 200]


def test_steps_a_crash_a_promotion_and_a_rollback_on_real_traffic(
        kube: Kube, namespace: str, operator: Any) -> None:
    m = iris_model(kube, namespace, ["1", "2"], REPLICAS, STEPS)
    with traffic(kube, namespace, REPLICAS) as (rec, load):
        start = now()
        m.patch({"targetVersion": "2"})
        m.wait("in the first pause", timeout=180, currentStepIndex=1)
        operator.kill()  # mid-step: the pause goes on from status when it is back
        time.sleep(3)
        operator.start()
        m.wait("v2 promoted", timeout=240, phase="Promoted", stableVersion="2")
        promoted = now()
        time.sleep(6)
        m.patch({"targetVersion": "1"})  # back while v1 is still warm: instant
        m.wait("back on v1", timeout=60, phase="RolledBack", stableVersion="1")
        back = now()
        time.sleep(6)
        end = now()
        answers = load.answers(since=start, until=end)

    assert len(answers) > 20 * (end - start) * 0.8, "the load generator fell behind"
    assert not failures(answers), explain(failures(answers), rec, start)
    during = [s for s in rec.samples if start <= s.t <= end]
    assert min(s.endpoints for s in during) >= REPLICAS, [
        (round(s.t - start, 1), s.phase, s.weight, s.endpoints) for s in during
        if s.endpoints < REPLICAS]
    # Each timed pause: the canary's share of the answers is the weight the policy reports.
    checked = []
    for step, actual, window in step_windows(rec, answers, "2", {1, 3}, min_s=8):
        assert len(window) >= 100, (step, len(window))
        checked.append((step, actual, round(share(window, "2"), 1), len(window)))
        assert abs(share(window, "2") - actual) <= 15, checked
    assert {c[0] for c in checked} == {1, 3}, checked
    # Promoted: only v2 answers; rolled back: only v1 (the Service selects one version).
    assert share([a for a in answers if promoted + 2 <= a.t < promoted + 6], "2") == 100
    assert share([a for a in answers if back + 2 <= a.t < end], "1") == 100
    print(f"real traffic: {len(answers)} answers, 0 failed; per-step shares {checked}; "
          f"min ready endpoints {min(s.endpoints for s in during)}")


def test_a_canary_failing_40_percent_is_rolled_back_and_only_its_own_requests_fail(
        kube: Kube, namespace: str, operator: Any, pods_prometheus: Prometheus) -> None:
    m = iris_model(kube, namespace, ["1", "2"], REPLICAS, [{"setWeight": 33}, {"pause": {}}],
                   error_rate={"2": 0.4},
                   analysis={"interval": "5s", "failureLimit": 0, "inconclusiveLimit": 20,
                             "prometheus": {"address": operator.reach(
                namespace, "prometheus", pods_prometheus.port)},
                             "metrics": [{"name": "errors", "template": "error-rate",
                                          "window": "20s", "max": 0.05}]})
    with traffic(kube, namespace, REPLICAS) as (rec, load):
        start = now()
        m.patch({"targetVersion": "2"})
        st = m.wait("rolled back by analysis", timeout=240, phase="RolledBack")
        rolled_back = now()
        wait_for(lambda: "outgoing" not in m.status(), timeout=120,
                 what="the canary drained once v1 was whole")
        time.sleep(8)
        end = now()
        answers = load.answers(since=start, until=end)

    assert st["history"][0]["reason"] == "AnalysisFailed", st["history"][0]
    assert "errors=" in st["history"][0]["message"]
    own = [a for a in answers if a.code == 500]
    other = [a for a in answers if a.code not in (200, 500)]
    assert own and not other, explain(other, rec, start)  # only the canary's own errors
    first, last = own[0].t, own[-1].t
    assert not [a for a in answers if a.t > end - 5 and (a.code != 200 or a.version != "1")]
    assert rec.fewest_endpoints(start, end) >= REPLICAS
    print(f"automatic rollback: {len(own)} canary errors of {len(answers)} answers, 0 others; "
          f"errors for {last - first:.1f}s from the first, gone {last - rolled_back:.1f}s "
          "after the rollback was written")


def test_an_abort_drains_the_canary_without_a_failed_request(
        kube: Kube, namespace: str, operator: Any) -> None:
    m = iris_model(kube, namespace, ["1", "2"], REPLICAS, [{"setWeight": 33}, {"pause": {}}])
    with traffic(kube, namespace, REPLICAS) as (rec, load):
        start = now()
        m.patch({"targetVersion": "2"})
        st = m.wait("paused at 33%", timeout=180, phase="Paused", currentStepIndex=1)
        time.sleep(12)
        m.act("abort")
        aborted = now()
        m.wait("aborted", timeout=60, phase="Degraded")
        wait_for(lambda: "outgoing" not in m.status(), timeout=120,
                 what="the canary drained once 1 was whole")
        time.sleep(6)
        end = now()
        answers = load.answers(since=start, until=end)

    assert not failures(answers), explain(failures(answers), rec, start)
    assert rec.fewest_endpoints(start, end) >= REPLICAS
    [(_, actual, window)] = step_windows(rec, [a for a in answers if a.t < aborted], "2", {1},
                                         min_s=8)
    assert actual == st["actualCanaryWeight"] == 33
    assert len(window) >= 150 and abs(share(window, "2") - actual) <= 15, (
        share(window, "2"), actual, len(window))
    assert share([a for a in answers if a.t >= end - 5], "1") == 100  # all back on 1
    assert m.status()["history"][0]["outcome"] == "Aborted"
    print(f"abort: {len(answers)} answers, 0 failed; canary share before the abort "
          f"{share(window, '2'):.1f}% (weight {actual}%)")


def test_a_rollback_to_a_version_scaled_to_zero_brings_it_up_before_it_takes_traffic(
        kube: Kube, namespace: str, operator: Any) -> None:
    m = iris_model(kube, namespace, ["1", "2"], REPLICAS, [], scaleDownDelaySeconds=5)
    m.patch({"targetVersion": "2"})
    m.wait("2 promoted", timeout=240, phase="Promoted", stableVersion="2")
    wait_for(lambda: "outgoing" not in m.status() and m.replicas("1") == 0, timeout=120,
             what="1 scaled to 0 once its warm time was over")
    with traffic(kube, namespace, REPLICAS) as (rec, load):
        start = now()
        m.act("rollback:1")
        m.wait("back on 1", timeout=240, stableVersion="1")
        back = now()
        time.sleep(6)
        end = now()
        answers = load.answers(since=start, until=end)

    assert not failures(answers), explain(failures(answers), rec, start)
    assert rec.fewest_endpoints(start, end) >= REPLICAS
    # 1 started from nothing: it took a while, and 2 answered everything meanwhile.
    assert back - start > 5
    assert share([a for a in answers if a.t < back - 1], "2") == 100
    assert share([a for a in answers if back + 2 <= a.t < end], "1") == 100
    print(f"cold rollback: {len(answers)} answers, 0 failed; 1 came up and took over in "
          f"{back - start:.1f}s")
