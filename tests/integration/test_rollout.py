"""Canary rollouts on the local cluster, analysed by a real Prometheus."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from modelops.api.conditions import parse_time
from tests.support.emitter import Emitter
from tests.support.kube import Kube
from tests.support.operator import OperatorProcess
from tests.support.prometheus import Prometheus
from tests.support.rollout import ERROR_RATE, Model, analysis, stable_on_v1
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration
Emit = Callable[..., Emitter]


def steps(*s: dict[str, object]) -> dict[str, object]:
    return {"canary": {"steps": list(s)}}


def test_first_version_goes_straight_to_full_traffic(kube: Kube, operator: OperatorProcess,
                                                     namespace: str) -> None:
    m = stable_on_v1(kube, namespace)
    st = m.status()
    assert st["history"][0]["reason"] == "FirstVersion" and st["canaryWeight"] == 0
    svc = kube.core.read_namespaced_service("m", namespace)
    # One version serves: the Service selects it (a warm previous one would stay out).
    assert svc.spec.selector == {"modelops.io/model": "m", "modelops.io/serving": "true",
                                 "modelops.io/version": "1"}
    assert svc.metadata.owner_references[0].kind == "UpdatePolicy"
    up = kube.get_up(namespace, "m") or {}

    def conditions() -> dict[str, str]:
        return {c["type"]: c["status"] for c in m.status()["conditions"]}
    wait_for(lambda: conditions() == {"Valid": "True", "Progressing": "False",
                                      "Healthy": "True"}, what="healthy once v1 pods are ready")
    assert m.status()["observedGeneration"] == up["metadata"]["generation"]


def test_healthy_canary_walks_all_steps_and_is_promoted(
        kube: Kube, operator: OperatorProcess, prometheus: Prometheus, emitters: Emit,
        namespace: str) -> None:
    m = stable_on_v1(kube, namespace, analysis=analysis(prometheus.address),
                     strategy=steps({"setWeight": 25}, {"pause": {"duration": "3s"}},
                                    {"setWeight": 50}, {"pause": {"duration": "3s"}}))
    emitters("m", "1")
    emitters("m", "2")
    m.patch({"targetVersion": "2"})
    seen = m.watch(lambda st: st.get("phase") == "Promoted" and st.get("stableVersion") == "2")
    weights = [(w, a) for _, w, a, _ in seen if w]
    assert (25, 25) in weights and (50, 50) in weights, seen
    assert [w for w, _ in weights] == sorted(w for w, _ in weights)  # never backwards
    st = m.status()
    h = st["history"][0]
    assert (h["version"], h["fromVersion"], h["outcome"]) == ("2", "1", "Promoted")
    assert st["analysis"]["phase"] == "Successful"
    assert st["analysis"]["metrics"][0]["name"] == "error-rate"
    assert st["analysis"]["metrics"][0]["value"] == 0
    # All traffic is on v2; v1 stays warm at full size for scaleDownDelaySeconds (30 s).
    wait_for(lambda: m.replicas("2") == 4 and m.replicas("1") == 4, what="v2 whole, v1 warm")
    assert st["outgoing"]["version"] == "1" and not st["outgoing"]["serving"]
    assert kube.core.read_namespaced_service("m", namespace).spec.selector[
        "modelops.io/version"] == "2"
    want = {"RolloutStarted", "WeightSet", "Promoted"}
    wait_for(lambda: want <= {e.reason for e in kube.events(namespace, "m")},
             what=f"events {sorted(want)}")


def test_regression_is_rolled_back_at_its_first_failed_measurement(
        kube: Kube, operator: OperatorProcess, prometheus: Prometheus, emitters: Emit,
        namespace: str) -> None:
    interval = 2.0
    m = stable_on_v1(kube, namespace, analysis=analysis(prometheus.address, interval="2s"),
                     strategy=steps({"setWeight": 50}, {"pause": {}}))
    emitters("m", "1")
    canary = emitters("m", "2")
    m.patch({"targetVersion": "2"})
    m.wait("at the indefinite pause", phase="Paused", currentStepIndex=1)
    canary.set(error_rate=0.5)
    query = ERROR_RATE.replace("{{namespace}}", namespace).replace("{{model}}", "m").replace(
        "{{canaryVersion}}", "2")
    wait_for(lambda: (r := prometheus.query(query)) and float(r[0]["value"][1]) > 0.05,
             timeout=30, interval=0.1, what="the regression visible in Prometheus")
    visible = time.monotonic()
    st = m.wait("rolled back", timeout=30, phase="RolledBack")
    reaction = time.monotonic() - visible
    # How fast is a benchmark's figure (bench/rollout.py), not an assertion here.
    print(f"rollback reaction: {reaction:.2f}s (analysis interval {interval:g}s)")
    assert st["stableVersion"] == "1" and "canaryVersion" not in st and st["canaryWeight"] == 0
    h = st["history"][0]
    assert h["outcome"] == "RolledBack" and h["reason"] == "AnalysisFailed"
    # The value that failed it: over the max, from the canary's errors (a rate window that
    # began before the errors did reads less than 0.5; rate() extrapolation a hair more).
    found = re.search(r"error-rate=([0-9.]+) \(Failed\)", h["message"])
    assert found and 0.05 < float(found.group(1)) < 0.55, h["message"]
    wait_for(lambda: m.replicas("2") == 0 and m.replicas("1") == 4, what="canary scaled down")
    # Events are posted from a queue, a moment after the status they tell of.
    warning = wait_for(lambda: [e for e in kube.events(namespace, "m")
                                if e.reason == "RolledBack"], what="RolledBack event")
    assert warning[0].type == "Warning"
    time.sleep(3)
    assert m.status().get("canaryVersion") is None  # not retried by itself


def test_prometheus_outage_pauses_and_recovery_resumes(
        kube: Kube, operator: OperatorProcess, prometheus: Prometheus, emitters: Emit,
        namespace: str) -> None:
    m = stable_on_v1(kube, namespace,
                     analysis=analysis(prometheus.address, interval="1s", inconclusive_limit=1),
                     strategy=steps({"setWeight": 25}, {"pause": {"duration": "8s"}}))
    emitters("m", "1")
    emitters("m", "2")
    # Data first: a round before the first scrapes would pause on "no data", not the outage.
    query = ERROR_RATE.replace("{{namespace}}", namespace).replace("{{model}}", "m").replace(
        "{{canaryVersion}}", "2")
    wait_for(lambda: prometheus.query(query), timeout=30, what="the canary's data in Prometheus")
    m.patch({"targetVersion": "2"})
    m.wait("in the pause", currentStepIndex=1)
    prometheus.stop()
    try:
        st = m.wait("paused on missing data", timeout=20, phase="Paused")
        assert "inconclusive" in st["pauseReason"]
        assert "unreachable" in st["analysis"]["metrics"][0]["message"]
        time.sleep(10)  # longer than the pause step: still no promotion without data
        assert m.status()["phase"] == "Paused" and m.status()["canaryVersion"] == "2"
    finally:
        prometheus.start()
    m.wait("promoted once data is back", timeout=60, phase="Promoted", stableVersion="2")
    wait_for(lambda: any(e.reason == "Resumed" for e in kube.events(namespace, "m")),
             what="Resumed event")


def test_manual_promote_abort_retry(kube: Kube, operator: OperatorProcess,
                                    namespace: str) -> None:
    m = stable_on_v1(kube, namespace, strategy=steps({"setWeight": 25}, {"pause": {}},
                                                     {"setWeight": 75}, {"pause": {}}))
    m.patch({"targetVersion": "2"})
    m.wait("first pause", phase="Paused", currentStepIndex=1)
    m.act("promote")
    m.wait("second pause", phase="Paused", currentStepIndex=3, canaryWeight=75)
    up = kube.get_up(namespace, "m") or {}
    assert "modelops.io/action" not in (up["metadata"].get("annotations") or {})
    m.act("abort")
    st = m.wait("aborted", phase="Degraded")
    assert st["history"][0]["outcome"] == "Aborted" and st["stableVersion"] == "1"
    wait_for(lambda: m.replicas("2") == 0, what="canary down after abort")
    m.act("retry")
    m.wait("retried", phase="Paused", currentStepIndex=1, canaryVersion="2")
    m.act("promote-full")
    st = m.wait("promoted", phase="Promoted", stableVersion="2")
    assert st["revision"] == 3  # first version, aborted rollout, retried rollout


def test_resume_after_inconclusive_pause(kube: Kube, operator: OperatorProcess,
                                         namespace: str) -> None:
    """A pause for missing data holds the steps where they are, past the end of a timed
    pause; `resume` lets them go on, with the count of gaps started afresh."""
    # Prometheus at an address where nothing listens: every measurement is a gap. The second
    # gap in a row pauses (inconclusiveLimit 1), inside the 15 s pause.
    m = stable_on_v1(kube, namespace,
                     analysis=analysis("http://127.0.0.1:9", interval="5s",
                                       inconclusive_limit=1),
                     strategy=steps({"setWeight": 25}, {"pause": {"duration": "15s"}},
                                    {"setWeight": 50}, {"setWeight": 75}, {"pause": {}}))
    m.patch({"targetVersion": "2"})
    st = m.wait("paused for missing data", timeout=40,
                pauseReason=lambda r: (r or "").startswith("analysis inconclusive"))
    assert st["phase"] == "Paused" and st["currentStepIndex"] == 1, st
    due = parse_time(st["stepStartTime"]).timestamp() + 15
    time.sleep(max(0.0, due - time.time()) + 3)  # the timed pause is over ...
    held = m.status()
    assert held["currentStepIndex"] == 1 and held.get("pauseReason"), held  # ... and held
    m.act("resume")
    st = m.wait("the steps going on", timeout=20, currentStepIndex=4)
    assert st["canaryWeight"] == 75 and st["analysis"]["inconclusive"] <= 1, st
    resumed = [e for e in kube.events(namespace, "m") if e.reason == "Resumed"]
    assert any("resumed by the user" in (e.message or "") for e in resumed), resumed


def test_target_back_to_a_previous_version_is_fast_tracked(
        kube: Kube, operator: OperatorProcess, namespace: str) -> None:
    m = stable_on_v1(kube, namespace, strategy=steps({"setWeight": 50},
                                                     {"pause": {"duration": "1s"}}))
    m.patch({"targetVersion": "2"})
    m.wait("v2 promoted", phase="Promoted", stableVersion="2")
    m.patch({"targetVersion": "1", "strategy": steps({"setWeight": 10}, {"pause": {}})})
    st = m.wait("rolled back", phase="RolledBack", stableVersion="1", timeout=15)
    assert st["history"][0]["reason"] == "TargetRollback"
    assert "canaryVersion" not in st
    # v1 was still warm: the rollback took no time to be whole; now v2 is the warm one.
    wait_for(lambda: m.replicas("1") == 4 and m.replicas("2") == 4, what="all back on v1")
    assert st["outgoing"]["version"] == "2"


def test_operator_killed_mid_step_resumes_at_the_right_moment(
        kube: Kube, operator: OperatorProcess, namespace: str) -> None:
    """A 12 s pause, the operator dead for 6 s of it: the pause ends 12 s after it began (its
    start is in status), not 12 s after the restart (restarted) nor at the restart (skipped)."""
    m = stable_on_v1(kube, namespace, strategy=steps({"setWeight": 25},
                                                     {"pause": {"duration": "12s"}},
                                                     {"setWeight": 50}, {"pause": {}}))
    m.patch({"targetVersion": "2"})
    st = m.wait("in the timed pause", currentStepIndex=1)
    started = parse_time(st["stepStartTime"])
    operator.kill()
    time.sleep(6)
    operator.start()
    restarted = datetime.now(UTC)
    # The next step's start is the moment the pause ended (stamped in seconds).
    after = wait_for(lambda: (x := m.status()).get("currentStepIndex", 0) >= 2 and x,
                     timeout=40, interval=0.1, what="the pause over")
    assert after["currentStepIndex"] == 2, after  # seen as the pause ended
    ended = parse_time(after["stepStartTime"])
    assert 12 <= (ended - started).total_seconds() <= 15, (started, ended)
    assert (restarted - started).total_seconds() >= 6  # the restart was well inside the pause
    st = m.wait("next step", timeout=30, currentStepIndex=3)
    hist = st["history"]
    assert [h["revision"] for h in hist] == [1]  # only the first version; no doubled entries
    assert st["revision"] == 2 and st["canaryWeight"] == 50


def test_gateway_api_route_weights_follow_the_steps(kube: Kube, operator: OperatorProcess,
                                                    namespace: str) -> None:
    kube.kubectl("apply", "-n", namespace, "-f", "-", stdin="""
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: m}
spec:
  parentRefs: [{name: modelops, namespace: traefik}]  # the local cluster's gateway
  hostnames: [m.example]
  rules:
  - matches: [{path: {type: PathPrefix, value: /m}}]
    backendRefs: [{name: placeholder, port: 80}]
""")
    m = stable_on_v1(kube, namespace, strategy={"canary": {
        "steps": [{"setWeight": 20}, {"pause": {}}, {"setWeight": 60}, {"pause": {}}],
        "trafficRouting": {"gatewayAPI": {"httpRoute": "m"}}}})

    def refs() -> list[tuple[str, int]]:
        route = kube.get_json("httproute", "m", "-n", namespace)
        rule = route["spec"]["rules"][0]
        assert rule["matches"][0]["path"]["value"] == "/m"  # the user's part is kept
        return [(r["name"], r["weight"]) for r in rule["backendRefs"]]

    wait_for(lambda: refs() == [("m-1", 100)], what="all on stable")
    m.patch({"targetVersion": "2"})
    m.wait("20%", phase="Paused", currentStepIndex=1, actualCanaryWeight=20)
    assert refs() == [("m-1", 80), ("m-2", 20)]
    assert m.replicas("1") == 4 and m.replicas("2") == 1  # the route splits, not the pods
    m.act("promote")
    m.wait("60%", phase="Paused", currentStepIndex=3, actualCanaryWeight=60)
    assert refs() == [("m-1", 40), ("m-2", 60)]
    # The route is watched: a hand edit wakes the policy (the operator says so) and is put
    # back without waiting for a round (a paused policy has none due for up to a minute).
    noticed = f"{namespace}/m: HTTPRoute m changed outside the operator"
    before = operator.log_text().count(noticed)
    kube.kubectl("patch", "httproute", "m", "-n", namespace, "--type=json", "-p",
                 '[{"op": "replace", "path": "/spec/rules/0/backendRefs", '
                 '"value": [{"name": "placeholder", "port": 80}]}]')
    wait_for(lambda: operator.log_text().count(noticed) > before, what="the edit noticed")
    wait_for(lambda: refs() == [("m-1", 40), ("m-2", 60)], timeout=20,
             what="the route's weights restored")
    m.act("promote")
    m.wait("promoted", phase="Promoted", stableVersion="2")
    wait_for(lambda: refs() == [("m-2", 100)], what="all on v2")
    svc = kube.core.read_namespaced_service("m", namespace)
    assert svc.spec.selector["modelops.io/version"] == "2"


def test_auto_update_rolls_out_a_new_ready_version_without_spec_writes(
        kube: Kube, operator: OperatorProcess, namespace: str) -> None:
    m = Model(kube, namespace)
    m.version("1")
    m.policy(autoUpdate={"enabled": True}, replicas=2,
             strategy=steps({"setWeight": 50}, {"pause": {"duration": "1s"}}))
    m.wait("v1 stable", stableVersion="1", phase="Promoted")
    m.version("2")
    st = m.wait("v2 rolled out by itself", phase="Promoted", stableVersion="2")
    assert st["history"][0]["fromVersion"] == "1"
    up = kube.get_up(namespace, "m") or {}
    assert up["metadata"]["generation"] == 1  # the operator never writes spec
    assert "targetVersion" not in up["spec"]


def test_a_version_that_failed_its_gates_is_never_rolled_out(
        kube: Kube, operator: OperatorProcess, namespace: str) -> None:
    m = stable_on_v1(kube, namespace)
    kube.create(namespace, {
        "apiVersion": "modelops.io/v1alpha1", "kind": "ModelVersion",
        "metadata": {"name": "m-v3"},
        "spec": {"model": "m", "version": "3", "artifact": {"uri": "s3://m/3"},
                 "serving": {"image": "srv"},
                 "evaluation": {"image": "eval", "command": ["python", "eval.py"],
                                "gates": [{"metric": "accuracy", "min": 0.9}],
                                "podAnnotations": {"modelops.io/kwok-termination-message":
                                                   '{"accuracy": 0.5}'}}}})
    wait_for(lambda: (kube.get_mv(namespace, "m-v3") or {}).get("status", {}).get("phase")
             == "Failed", what="v3 fails its gates")
    m.patch({"targetVersion": "3"})
    def refused() -> dict[str, object] | None:
        st = m.status()
        return st if "failed" in str(st.get("message")) else None
    st = wait_for(refused, what="the policy refuses v3")
    assert st["stableVersion"] == "1" and "canaryVersion" not in st
    assert not [d for d in kube.apps.list_namespaced_deployment(namespace).items
                if d.metadata.name == "m-3"]
