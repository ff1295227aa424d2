"""Autoscaling on the real node: a policy's spec.autoscaling becomes a KEDA ScaledObject (KEDA
built here, on the real node, behind the API server's aggregation layer) that follows the
requests in flight the example server reports to a real Prometheus. Load comes from a load
generator pod that ramps up and down; replicas rise with it and fall back after the
stabilization window, no request fails, and in the middle of a canary the split holds."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.support.kube import Kube
from tests.support.loadgen import LoadGen, Recorder, explain, iris_model, now, share
from tests.support.prometheus import Prometheus
from tests.support.rollout import Model
from tests.support.shipped import ShippedOperator
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration
LATENCY = 0.5  # seconds each answer takes: requests overlap in a pod as on a heavier model


@pytest.fixture
def operator(shipped_operator: ShippedOperator) -> ShippedOperator:
    """These run against the operator as users install it (Helm, its image, its pod)."""
    return shipped_operator


def autoscaling(operator: Any, namespace: str, prom: Prometheus, **more: Any) -> dict[str, Any]:
    return {"minReplicas": 1, "maxReplicas": 4, "scaleDownStabilizationSeconds": 20,
            "metrics": [{"template": "requests-in-flight", "target": 2}],
            "prometheus": {"address": operator.reach(namespace, "prometheus", prom.port)},
            **more}


def ready(kube: Kube, ns: str, version: str) -> tuple[int, int]:
    dep = kube.apps.read_namespaced_deployment(f"iris-{version}", ns)
    return int(dep.spec.replicas), int(dep.status.ready_replicas or 0)


def scaler_on(m: Model) -> None:
    def on() -> bool:
        st = m.status()
        conds = {c["type"]: c["status"] for c in st.get("conditions", [])}
        return st.get("scaler") == "iris" and conds.get("Autoscaling") == "True"
    wait_for(on, timeout=60, what=f"the ScaledObject in place; last {m.status()}")


def test_replicas_follow_requests_in_flight_up_and_back_down_without_a_failed_request(
        kube: Kube, namespace: str, operator: Any, autoscalers: None,
        pods_prometheus: Prometheus) -> None:
    m = iris_model(kube, namespace, ["1"], 1, latency=LATENCY,
                   autoscaling=autoscaling(operator, namespace, pods_prometheus))
    scaler_on(m)
    rec = Recorder(kube, namespace, "iris", "iris")
    try:
        # The Service is new: load once kube-proxy has its endpoint (until then it refuses).
        wait_for(lambda: rec.samples and rec.samples[-1].endpoints >= 1, timeout=60,
                 what="v1 behind the Service")
        time.sleep(1.5)
        # 12 requests a second of half a second each: about 6 in flight, 2 per pod asked.
        start = now()
        heavy = LoadGen(kube, namespace, "iris", 80, "iris", rate=12, name="heavy",
                        open_loop=True)
        wait_for(lambda: ready(kube, namespace, "1")[1] >= 3, timeout=240,
                 what=f"3 or more ready pods under load; last {m.status()}")
        grown = now()
        assert m.status()["replicas"] >= 3
        time.sleep(10)
        ramped = now()
        up_answers = heavy.answers(since=start, until=ramped)  # its log goes with its pod
        heavy.stop()
        # A light closed-loop client (one request at a time) keeps asking while it shrinks.
        light = LoadGen(kube, namespace, "iris", 80, "iris", rate=4, name="light")
        wait_for(lambda: ready(kube, namespace, "1") == (1, 1), timeout=240,
                 what=f"back to 1 pod after the window; last {m.status()}")
        shrunk = now()
        time.sleep(5)
        end = now()
        down_answers = light.answers(since=ramped, until=end)
        light.stop()
    finally:
        rec.stop()
    bad = [a for a in up_answers + down_answers if a.code != 200]
    assert not bad, explain(bad, rec, start)
    assert len(up_answers) > 12 * (ramped - start) * 0.8, "the load generator fell behind"
    assert len(down_answers) >= 2 * (end - ramped) * 0.8, "the light client fell behind"
    # It fell only after the stabilization window (20 s) from when the load stopped.
    assert shrunk - ramped >= 20
    print(f"autoscaling: 1 -> 3+ ready pods {grown - start:.1f}s after the load step; back to 1 "
          f"{shrunk - ramped:.1f}s after it stopped; {len(up_answers) + len(down_answers)} "
          "answers, 0 failed")


def test_scaling_mid_canary_keeps_the_answered_share_at_the_step(
        kube: Kube, namespace: str, operator: Any, autoscalers: None,
        pods_prometheus: Prometheus) -> None:
    m = iris_model(kube, namespace, ["1", "2"], 2, [{"setWeight": 50}, {"pause": {}}],
                   latency=LATENCY, autoscaling=autoscaling(
                       operator, namespace, pods_prometheus, minReplicas=2))
    scaler_on(m)
    m.patch({"targetVersion": "2"})
    m.wait("paused at 50%", timeout=180, phase="Paused", currentStepIndex=1,
           actualCanaryWeight=50)
    rec = Recorder(kube, namespace, "iris", "iris")
    try:
        start = now()
        # About 8 in flight: 4 pods asked, 2 of each version at the 50% step.
        load = LoadGen(kube, namespace, "iris", 80, "iris", rate=16, name="heavy",
                       open_loop=True)
        wait_for(lambda: ready(kube, namespace, "1")[1] + ready(kube, namespace, "2")[1] >= 4,
                 timeout=240, what=f"4 ready pods under load; last {m.status()}")
        scaled = now()
        time.sleep(30)
        end = now()
        answers = load.answers(since=start, until=end)
        load.stop()
    finally:
        rec.stop()
    st = m.status()
    assert st["currentStepIndex"] == 1 and st["canaryVersion"] == "2", st
    assert (ready(kube, namespace, "1")[0], ready(kube, namespace, "2")[0]) == (2, 2)
    bad = [a for a in answers if a.code != 200]
    assert not bad, explain(bad, rec, start)
    during, after = (share([a for a in answers if t0 <= a.t < t1], "2")
                     for t0, t1 in ((start, scaled), (scaled + 2, end)))
    # The canary answers its step's share while the model grows and once it has grown. Each
    # request picks an endpoint at random: over all ~900 answers 5 points are 3 standard
    # errors; the parts, with fewer answers each, get 10.
    whole = share(answers, "2")
    assert abs(whole - 50) <= 5, (whole, during, after, len(answers))
    assert abs(during - 50) <= 10 and abs(after - 50) <= 10, (during, after)
    print(f"scaling mid-canary: 2 -> 4 pods in {scaled - start:.1f}s at the 50% step; canary "
          f"share {whole:.1f}% ({during:.1f}% while scaling, {after:.1f}% after); "
          f"{len(answers)} answers, 0 failed")
