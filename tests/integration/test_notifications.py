"""Notifications to a real webhook receiver: in order, at least once, through a receiver that
is down for a while and an operator killed between a delivery and its record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.emitter import Emitter
from tests.support.kube import Kube
from tests.support.operator import OperatorProcess
from tests.support.prometheus import Prometheus
from tests.support.rollout import ERROR_RATE, Model, stable_on_v1
from tests.support.waiting import wait_for
from tests.support.webhook import Receiver

pytestmark = pytest.mark.integration
Emit = Callable[..., Emitter]
STEPS = {"canary": {"steps": [{"setWeight": 50}, {"pause": {"duration": "2s"}}]}}


def in_order(got: list[str], want: list[str]) -> bool:
    """`want` appears in `got` in this order (other messages may come between)."""
    it = iter(got)
    return all(any(g == w for g in it) for w in want)


def drained(m: Model) -> dict[str, Any]:
    return wait_for(lambda: (s := m.status()).get("notifications") and not s[
        "notifications"].get("pending") and s, timeout=90,
        what=f"every notification delivered; last: {m.status().get('notifications')}")


def test_a_rollout_and_a_regression_reach_the_receiver_in_order(
        kube: Kube, operator: OperatorProcess, prometheus: Prometheus, emitters: Emit,
        namespace: str, receiver: Receiver) -> None:
    receiver.start()
    m = stable_on_v1(kube, namespace, strategy=STEPS, notifications=[{"receiver": receiver.name}],
                     monitoring={"interval": "2s", "failureThreshold": 2, "action": "Rollback",
                                 "prometheus": {"address": prometheus.address},
                                 "metrics": [{"name": "error-rate", "query": ERROR_RATE,
                                              "max": 0.05}]})
    emitters("m", "1")
    v2 = emitters("m", "2")
    m.patch({"targetVersion": "2"})
    m.wait("2 promoted", timeout=60, stableVersion="2", phase="Promoted")
    wait_for(lambda: m.status()["monitoring"].get("phase") == "Healthy", timeout=60,
             what="2 healthy")
    v2.set(error_rate=0.5)
    m.wait("rolled back by monitoring", timeout=60, stableVersion="1")
    st = drained(m)
    got = receiver.reasons()
    assert in_order(got, ["Promoted", "RolloutStarted", "StepReached", "Promoted",
                          "Regression", "RolledBack", "Held"]), got
    ids = [x["id"] for x in receiver.messages]
    assert ids == sorted(set(ids)), ids  # in order, each once
    assert st["notifications"]["sent"] == len(ids)
    regression = next(x for x in receiver.messages if x["reason"] == "Regression")
    assert regression["type"] == "Warning" and regression["model"] == "m"
    assert regression["metrics"]["error-rate"] > 0.05, regression
    assert regression["namespace"] == namespace and "2 regressed" in regression["message"]


def test_a_receiver_that_is_down_gets_its_messages_when_it_returns(
        kube: Kube, operator: OperatorProcess, namespace: str, receiver: Receiver) -> None:
    m = Model(kube, namespace)
    m.version("1")
    m.version("2")
    m.policy(targetVersion="1", replicas=2, strategy={"canary": {"steps": []}},
             notifications=[{"receiver": receiver.name, "events": ["Promoted"]}])
    m.wait("1 stable", stableVersion="1", phase="Promoted")
    st = wait_for(lambda: ((s := m.status()).get("notifications") or {}).get("pending") and
                  s["notifications"]["pending"][0]["attempts"] >= 2 and s, timeout=60,
                  what="deliveries failing while the receiver is down")
    assert "Cannot connect" in st["notifications"]["lastError"] or \
        "refused" in st["notifications"]["lastError"], st["notifications"]
    events = kube.core.list_namespaced_event(namespace, field_selector="involvedObject.name=m")
    failed = [e for e in events.items if e.reason == "NotificationFailed"]
    assert len(failed) == 1 and failed[0].count in (None, 1)  # told once, not per retry
    m.patch({"targetVersion": "2"})  # a second one queues behind the first
    m.wait("2 promoted", timeout=60, stableVersion="2", phase="Promoted")
    # Held in status, in order, while the receiver is down: none lost, none sent, the first
    # still retried (with back-off) and the second waiting behind it.
    st = wait_for(lambda: len(((s := m.status()).get("notifications") or {}).get("pending")
                              or []) == 2 and s, what="both notifications queued")
    pending = st["notifications"]["pending"]
    assert [x["message"] for x in pending] == ["1 is the first version: 100% of traffic",
                                               "2 promoted: 100% of traffic"]
    assert pending[0]["id"] < pending[1]["id"] and pending[0]["attempts"] >= 2
    assert not st["notifications"].get("sent")
    receiver.start()
    drained(m)
    assert [x["message"] for x in receiver.messages] == [
        "1 is the first version: 100% of traffic", "2 promoted: 100% of traffic"]


def test_an_operator_killed_after_a_delivery_sends_it_again_once_and_loses_nothing(
        kube: Kube, operator: OperatorProcess, namespace: str, receiver: Receiver) -> None:
    receiver.mode, receiver.delay = "slow", 8.0
    receiver.start()
    m = Model(kube, namespace)
    m.version("1")
    m.version("2")
    m.policy(targetVersion="1", replicas=2, strategy=STEPS,
             notifications=[{"receiver": receiver.name}])
    wait_for(lambda: receiver.messages, timeout=60, what="the first message taken")
    operator.kill()  # the receiver has it; the operator never learns
    receiver.mode = "ok"
    m.patch({"targetVersion": "2"})  # decided by the restarted operator
    operator.start()
    m.wait("2 promoted", timeout=90, stableVersion="2", phase="Promoted")
    drained(m)
    ids = [x["id"] for x in receiver.messages]
    assert sorted(set(ids)) == list(range(1, max(ids) + 1)), ids  # none lost
    assert ids.count(1) == 2 and len(ids) == len(set(ids)) + 1, ids  # only that one twice
    assert ids == sorted(ids)
    assert in_order(receiver.reasons(), ["Promoted", "Promoted", "RolloutStarted",
                                         "StepReached", "Promoted"]), receiver.reasons()
