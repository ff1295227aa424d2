"""Rollouts through a real gateway: Traefik (built here, hack/cluster/gateway.py) carries every
request from a load generator on the real node to the versions' pods, by the HTTPRoute the
gatewayAPI provider writes.

- exact weights: one pod per version, and 1%, 5% and 50% of at least 1,000 answers each;
- a header route: only requests with the header (then a cookie) reach the canary, and the
  route loses the rule when the rollout is aborted; then weights with session affinity: a
  client keeps the version it was given through the 20% and 50% steps;
- shadow steps: every request mirrored to the comparer, which asks both versions and compares
  their answers; a canary that answers 30% of inputs differently is rolled back by the
  `agreement` template, one that agrees is promoted, and clients only ever see the stable.
No request fails in any of them.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.support import gateway
from tests.support.kube import Kube
from tests.support.loadgen import Answer, iris_model, now
from tests.support.prometheus import Prometheus
from tests.support.shipped import ShippedOperator
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.real_node]
TRAEFIK = {"gatewayAPI": {"httpRoute": "iris", "implementation": "Traefik"}}


@pytest.fixture
def operator(shipped_operator: ShippedOperator) -> ShippedOperator:
    """These run against the operator as users install it (Helm, its image, its pod)."""
    return shipped_operator


def failed(answers: list[Answer], start: float = 0.0) -> list[str]:
    return [f"+{a.t - start:.1f}s {a.code} {a.error}" for a in answers if a.code != 200][:10]


def share(answers: list[Answer], version: str) -> float:
    return 100.0 * sum(a.version == version for a in answers) / len(answers)


# A gateway applies a route a moment after it says it accepted it (Traefik: its
# providersThrottleDuration, 2 s by default): windows start this long after a step is reached.
APPLIED = 3.0


def settled(load: Any, t0: float, t1: float) -> list[Answer]:
    """The answers to requests sent between t0 and t1, once the last of them is in."""
    time.sleep(1.5)
    return list(load.answers(since=t0, until=t1))


def test_exact_weights_with_one_pod_per_version(kube: Kube, namespace: str,
                                                operator: Any) -> None:
    gateway.route(kube, namespace)
    steps = [{"setWeight": 1}, {"pause": {}}, {"setWeight": 5}, {"pause": {}},
             {"setWeight": 50}, {"pause": {}}]
    m = iris_model(kube, namespace, ["1", "2"], 1, steps, routing=TRAEFIK)
    gateway.wait_accepted(kube, namespace)
    load = gateway.load(kube, namespace, rate=100)
    measured = []
    try:
        start = now()
        m.patch({"targetVersion": "2"})
        for index, weight in ((1, 1), (3, 5), (5, 50)):
            m.wait(f"{weight}% in effect", timeout=180, phase="Paused",
                   currentStepIndex=index, actualCanaryWeight=weight)
            # The canary's pods are sized by the step: one, whatever the weight.
            assert (m.replicas("1"), m.replicas("2")) == (1, 1)
            time.sleep(APPLIED)
            t0 = now()
            time.sleep(6)  # 600 requests: Traefik's weighted round robin is exact
            window = settled(load, t0, now())
            ok = [a for a in window if a.code == 200]
            measured.append((weight, round(share(ok, "2"), 2), len(ok)))
            assert len(ok) >= 500, measured
            assert abs(share(ok, "2") - weight) <= 2, measured
            m.act("promote")
        m.wait("promoted", timeout=120, phase="Promoted", stableVersion="2")
        time.sleep(3)
        answers = settled(load, start, now())
    finally:
        load.stop()
    assert not failed(answers), failed(answers)
    print(f"gateway weights (weight, canary share %, answers): {measured}; "
          f"{len(answers)} answers, 0 failed")


def test_header_routes_then_sticky_weights_reach_the_canary_as_asked(
        kube: Kube, namespace: str, operator: Any) -> None:
    """Header then cookie routes, then weights with session affinity: a client keeps the
    version it was first given from the 20% step through the 50% one."""
    begin = now()
    gateway.route(kube, namespace)
    steps = [{"setHeaderRoute": {"match": [{"headerName": "X-Tester", "headerValue": "yes"}]}},
             {"pause": {}},
             {"setHeaderRoute": {"match": [{"cookieName": "beta", "cookieValue": "on"}]}},
             {"pause": {}}, {"setWeight": 20}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]
    sticky = {"gatewayAPI": {**TRAEFIK["gatewayAPI"],
                             "sessionAffinity": {"cookieName": "iris-version"}}}
    m = iris_model(kube, namespace, ["1", "2"], 1, steps, routing=sticky)
    gateway.wait_accepted(kube, namespace)
    loads = {"users": gateway.load(kube, namespace, rate=10, name="users"),
             "testers": gateway.load(kube, namespace, rate=10, name="testers",
                                     headers={"X-Tester": "yes"}),
             "beta": gateway.load(kube, namespace, rate=10, name="beta",
                                  headers={"Cookie": "theme=dark; beta=on"}),
             "clients": gateway.load(kube, namespace, rate=30, name="clients", clients=30)}
    seen: dict[str, dict[str, set[str | None]]] = {}
    marks: dict[str, float] = {}
    kept: dict[int, dict[str, set[str | None]]] = {}  # client -> step -> versions (cookie sent)
    got: dict[str, dict[str, list[Answer]]] = {}

    def answers(t0: float, t1: float) -> dict[str, list[Answer]]:
        time.sleep(1.5)  # the last of them in
        return {k: list(g.answers(since=t0, until=t1)) for k, g in loads.items()}

    def step(name: str, index: int, **expect: Any) -> None:
        m.wait(f"{name} in effect", timeout=180, phase="Paused", currentStepIndex=index,
               **expect)
        marks[name] = now()
        time.sleep(APPLIED)
        t0 = now()
        time.sleep(8)
        got[name] = answers(t0, now())
        seen[name] = {k: {a.version for a in v} for k, v in got[name].items()}
        for a in got[name]["clients"]:
            if a.cookie and a.client is not None:
                kept.setdefault(a.client, {}).setdefault(name, set()).add(a.version)

    try:
        start = now()
        marks["set-up"] = begin
        m.patch({"targetVersion": "2"})
        step("header", 1)
        assert gateway.ours(kube, namespace) == ["modelops-header-0"]
        assert m.status()["canaryWeight"] == 0 and m.replicas("2") == 1
        m.act("promote")
        step("cookie", 3)
        m.act("promote")
        step("20%", 5, actualCanaryWeight=20)
        # The route names the policy's sticky TraefikService alone; it carries the weights.
        assert [r["name"] for r in gateway.rules(kube, namespace)[0]["backendRefs"]] == [
            "iris-sticky"]
        m.act("promote")
        step("50%", 7, actualCanaryWeight=50)
        marks["abort"] = now()
        m.act("abort")
        m.wait("aborted", timeout=60, phase="Degraded", stableVersion="1")
        wait_for(lambda: gateway.ours(kube, namespace) == [], timeout=30,
                 what="the header rule gone from the route")
        gateway.wait_accepted(kube, namespace)  # and applied
        t0 = now()
        time.sleep(6)
        seen["aborted"] = {k: {a.version for a in v} for k, v in answers(t0, now()).items()}
        wait_for(lambda: kube.kubectl("get", "traefikservice", "iris-sticky", "-n", namespace,
                                      "--ignore-not-found", "-o", "name").stdout == "",
                 timeout=30, what="the sticky TraefikService gone after the rollout")
        everything = answers(start, now())
    finally:
        for g in loads.values():
            g.stop()
    marks = {k: round(v - start, 1) for k, v in marks.items()}
    bad = {k: failed(v, start) for k, v in everything.items()}
    # Requests without the cookie (users, and testers once their header route is gone) get
    # the weights. Together: Traefik's weighted round robin is deterministic, and two loads
    # at the same rate take turns (at 50% one would get only v1, the other only v2).
    free_20, free_50 = (share([a for k in ("users", "testers") for a in got[s][k]
                               if a.code == 200], "2") for s in ("20%", "50%"))
    assert seen["header"] == {"users": {"1"}, "testers": {"2"}, "beta": {"1"},
                              "clients": {"1"}}, seen
    assert seen["cookie"] == {"users": {"1"}, "testers": {"1"}, "beta": {"2"},
                              "clients": {"1"}}, seen
    assert seen["aborted"] == {"users": {"1"}, "testers": {"1"}, "beta": {"1"},
                               "clients": {"1"}}, seen
    # Every client kept one version through both weighted steps, and both versions had some.
    moved = {c: v for c, v in kept.items() if len(v.get("20%", set()) | v.get("50%", set())) != 1}
    assert len(kept) == 30 and not moved, (moved, kept)
    given = [next(iter(v["20%"])) for v in kept.values()]
    assert 0 < given.count("2") < 30, given
    assert 10 <= free_20 <= 30 and 40 <= free_50 <= 60, (free_20, free_50)
    assert not any(bad.values()), (bad, marks)
    print(f"header routes: {seen}; sticky: {given.count('2')} of 30 clients on v2 at 20% kept "
          f"it at 50%; requests without the cookie on v2: {free_20:.0f}% at 20%, {free_50:.0f}% at "
          f"50%; {sum(map(len, everything.values()))} answers, 0 failed; steps at {marks}")


def test_a_shadow_step_rolls_back_a_canary_that_disagrees_and_promotes_one_that_agrees(
        kube: Kube, namespace: str, operator: Any, pods_prometheus: Prometheus) -> None:
    gateway.route(kube, namespace)
    analysis = {"interval": "5s", "failureLimit": 2, "inconclusiveLimit": 30,
                "prometheus": {"address": operator.reach(namespace, "prometheus",
                                                         pods_prometheus.port)},
                "metrics": [{"name": "agreement", "template": "agreement", "window": "20s",
                             "min": 0.95}]}
    steps = [{"setMirror": {"percent": 100}}, {"pause": {"duration": "30s"}}]
    m = iris_model(kube, namespace, ["1", "2", "3"], 1, steps, disagree={"2": 0.3},
                   routing=TRAEFIK, analysis=analysis)
    gateway.wait_accepted(kube, namespace)
    load = gateway.load(kube, namespace, rate=40, seed=7)
    try:
        start = now()
        m.patch({"targetVersion": "2"})
        st = m.wait("v2 rolled back", timeout=240, phase="RolledBack", stableVersion="1")
        wrong = st["history"][0]
        m.patch({"targetVersion": "3"})
        st = m.wait("v3 promoted", timeout=240, phase="Promoted", stableVersion="3")
        agreed = [x["value"] for x in st["analysis"]["metrics"] if x["name"] == "agreement"]
        wait_for(lambda: kube.kubectl("get", "deployment", "iris-shadow", "-n", namespace,
                                      "--ignore-not-found", "-o", "name").stdout == "",
                 timeout=60, what="the comparer gone after the rollout")
        answers = settled(load, start, now())
    finally:
        load.stop()
    assert wrong["reason"] == "AnalysisFailed", wrong
    value = float(wrong["message"].split("agreement=")[1].split()[0])
    assert 0.62 <= value <= 0.78, wrong  # the canary disagrees on 30% of inputs
    assert agreed and agreed[0] >= 0.95, st["analysis"]
    # Mirrored answers never reach clients: every answer came from the stable v1 until v3
    # was promoted.
    before = [a for a in answers if a.t < now() - 5 and a.version not in ("1", "3")]
    assert not before, before[:5]
    assert not failed(answers), failed(answers)
    print(f"shadow: v2 rolled back at agreement {value:.3f} (it disagrees on 30%), v3 promoted "
          f"at {agreed[0]:.3f}; {len(answers)} client answers, 0 failed, none from v2")
