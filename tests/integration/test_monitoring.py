"""Monitoring of the serving version after its rollout, against a real Prometheus: a promoted
version that starts failing is rolled back to the version it replaced and held there; a
notify-only policy keeps serving and says so; counts survive an operator restart."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.emitter import Emitter
from tests.support.kube import Kube
from tests.support.operator import OperatorProcess
from tests.support.prometheus import Prometheus
from tests.support.rollout import ERROR_RATE, Model, stable_on_v1
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration
Emit = Callable[..., Emitter]


def monitoring(address: str, action: str, threshold: int) -> dict[str, Any]:
    return {"interval": "2s", "failureThreshold": threshold, "action": action,
            "prometheus": {"address": address},
            "metrics": [{"name": "error-rate", "query": ERROR_RATE, "max": 0.05}]}


def promoted_2(kube: Kube, ns: str, prom: Prometheus, emitters: Emit, action: str,
               threshold: int) -> tuple[Model, Emitter]:
    m = stable_on_v1(kube, ns, strategy={"canary": {"steps": []}},
                     monitoring=monitoring(prom.address, action, threshold))
    emitters("m", "1")
    v2 = emitters("m", "2")
    m.patch({"targetVersion": "2"})
    m.wait("2 promoted", timeout=60, stableVersion="2", phase="Promoted")
    wait_for(lambda: (m.status().get("monitoring") or {}).get("phase") == "Healthy",
             timeout=60, what=f"2 measured healthy; last: {m.status().get('monitoring')}")
    return m, v2


def condition(m: Model, type_: str) -> dict[str, Any]:
    return next(c for c in m.status()["conditions"] if c["type"] == type_)


def reasons(kube: Kube, ns: str) -> list[str]:
    events = kube.core.list_namespaced_event(ns, field_selector="involvedObject.name=m")
    return [e.reason for e in sorted(events.items, key=lambda e: e.metadata.creation_timestamp)]


def test_a_promoted_version_that_starts_failing_is_rolled_back_and_held(
        kube: Kube, operator: OperatorProcess, prometheus: Prometheus, emitters: Emit,
        namespace: str) -> None:
    m, v2 = promoted_2(kube, namespace, prometheus, emitters, "Rollback", 2)
    assert condition(m, "Monitoring")["status"] == "True"
    v2.set(error_rate=0.5)
    st = m.wait("rolled back by monitoring", timeout=60, stableVersion="1")
    assert st["history"][0]["reason"] == "MonitoringRegression", st["history"][0]
    assert st["hold"]["version"] == "1" and st["hold"]["reason"] == "MonitoringRegression"
    reg = st["monitoring"]["lastRegression"]
    assert (reg["version"], reg["action"], reg["to"]) == ("2", "Rollback", "1")
    assert "error-rate=0." in reg["message"] and "2 failed measurement(s) in a row" in \
        reg["message"], reg
    failed = [x for x in st["monitoring"]["measurements"] if x["version"] == "2"]
    assert [x["phase"] for x in failed[:2]] == ["Failed", "Failed"]
    wait_for(lambda: m.replicas("1") == 4, what="1 at full size")
    # Git still says 2: the hold keeps 1 serving; 1 is watched in turn.
    time.sleep(5)
    st = m.status()
    assert st["stableVersion"] == "1" and st["monitoring"]["version"] == "1"
    got = reasons(kube, namespace)
    assert "Regression" in got and "RolledBack" in got, got
    assert condition(m, "Monitoring")["status"] == "True"  # 1 is not known to be failing


def test_notify_keeps_serving_and_the_count_survives_a_restart(
        kube: Kube, operator: OperatorProcess, prometheus: Prometheus, emitters: Emit,
        namespace: str) -> None:
    m, v2 = promoted_2(kube, namespace, prometheus, emitters, "Notify", 3)
    v2.set(error_rate=0.5)
    wait_for(lambda: (m.status()["monitoring"].get("consecutiveFailures") or 0) >= 1,
             timeout=30, what="a first failed measurement")
    operator.kill()
    n = m.status()["monitoring"]["consecutiveFailures"]
    time.sleep(3)
    operator.start()
    st = wait_for(lambda: (s := m.status())["monitoring"]["phase"] == "Regressed" and s,
                  timeout=60, what="regressed")
    # The row went on from status: the regression came at the third failure in a row, not
    # three after the restart.
    rows = [x["phase"] for x in st["monitoring"]["measurements"]]
    assert rows[:3] == ["Failed"] * 3 and n >= 1
    assert st["monitoring"]["lastRegression"]["action"] == "Notify"
    assert st["stableVersion"] == "2" and "hold" not in st
    cond = condition(m, "Monitoring")
    assert (cond["status"], cond["reason"]) == ("False", "Regressed") and "2 regressed" in \
        cond["message"]
    assert reasons(kube, namespace).count("Regression") == 1
    v2.set(error_rate=0.0)
    wait_for(lambda: m.status()["monitoring"]["phase"] == "Healthy", timeout=60,
             what="recovered")
    # kopf posts events after the status write that says Healthy, on its own time.
    wait_for(lambda: "MonitoringRecovered" in reasons(kube, namespace), timeout=10,
             what="the MonitoringRecovered event")
    assert condition(m, "Monitoring")["status"] == "True"
