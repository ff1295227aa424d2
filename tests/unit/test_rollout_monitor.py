"""Monitoring of the serving version: measurements folded into status, regressions, and what
each action does; all from status, so a restart loses nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from modelops.rollout import monitor
from tests.unit.test_rollout_state import T0, Sim, m, policy, rolled_out, versions

INTERVAL = 60


def watched(action: str = "Notify", threshold: int = 2, **more: Any) -> Sim:
    """1 served, then 2 was promoted over it; 2 is now watched."""
    sim = rolled_out(policy(targetVersion="1", strategy={"canary": {"steps": []}},
                            monitoring={"interval": f"{INTERVAL}s", "failureThreshold": threshold,
                                        "action": action,
                                        "prometheus": {"address": "http://p:9090"},
                                        "metrics": [{"name": "error-rate", "template":
                                                     "error-rate", "max": 0.05}], **more}))
    sim.step()
    assert sim.status["stableVersion"] == "2" and sim.phase == "Promoted"
    assert sim.status["monitoring"]["version"] == "2"
    assert sim.status["monitoring"]["phase"] == "Waiting"
    return sim


def measure(sim: Sim, value: float | None, phase: str) -> dict[str, Any]:
    sim.now += timedelta(seconds=INTERVAL)
    assert monitor.due(sim.spec, sim.status, sim.now)
    sim.step(monitoring=m(value, phase))
    return dict(sim.status["monitoring"])


def test_nothing_is_due_before_the_interval_nor_during_a_rollout() -> None:
    sim = watched()
    assert not monitor.due(sim.spec, sim.status, sim.now)
    d = sim.step()
    assert d.requeue_after is not None and d.requeue_after <= INTERVAL
    sim.vs = versions("1", "2", "3")
    sim.spec = sim.spec.model_copy(update={"target_version": "3", "strategy": policy().strategy})
    sim.step(after=INTERVAL)
    assert sim.status["canaryVersion"] == "3"
    assert not monitor.due(sim.spec, sim.status, sim.now + (sim.now - T0))


def test_notify_regresses_once_then_recovers() -> None:
    sim = watched()
    ms = measure(sim, 0.01, "Successful")
    assert (ms["phase"], ms["consecutiveFailures"]) == ("Healthy", 0)
    ms = measure(sim, 0.3, "Failed")
    assert (ms["phase"], ms["consecutiveFailures"]) == ("Failing", 1)
    assert "MonitoringFailed" in sim.reasons() and "Regression" not in sim.reasons()
    ms = measure(sim, 0.4, "Failed")
    assert ms["phase"] == "Regressed"
    assert ms["lastRegression"]["action"] == "Notify" and ms["lastRegression"]["version"] == "2"
    assert "error-rate=0.4" in ms["lastRegression"]["message"]
    assert sim.status["stableVersion"] == "2"  # notify only: still serving
    measure(sim, 0.5, "Failed")
    assert sim.reasons().count("Regression") == 1  # acted on once per regression
    ms = measure(sim, 0.0, "Successful")
    assert ms["phase"] == "Healthy" and "MonitoringRecovered" in sim.reasons()
    assert [x["phase"] for x in ms["measurements"]] == ["Successful", "Failed", "Failed",
                                                         "Failed", "Successful"]
    assert ms["lastRegression"]["version"] == "2"  # kept for the record


def test_no_data_is_neither_a_failure_nor_a_pass() -> None:
    sim = watched()
    ms = measure(sim, None, "Inconclusive")
    assert (ms["phase"], ms["consecutiveFailures"]) == ("NoData", 0)
    measure(sim, 0.3, "Failed")
    ms = measure(sim, None, "Inconclusive")  # does not break the row of failures ...
    assert (ms["phase"], ms["consecutiveFailures"]) == ("NoData", 1)
    ms = measure(sim, 0.3, "Failed")  # ... so this one makes two in a row
    assert ms["phase"] == "Regressed"


def test_rollback_goes_to_the_version_it_was_promoted_over_and_holds_there() -> None:
    sim = watched(action="Rollback", threshold=1)
    ms = measure(sim, 0.3, "Failed")
    st = sim.status
    assert st["stableVersion"] == "1" and sim.phase == "RolledBack"
    assert st["hold"] == {"version": "1", "target": "2", "since": st["hold"]["since"],
                          "reason": "MonitoringRegression"}
    assert st["history"][0]["reason"] == "MonitoringRegression"
    assert st["history"][0]["version"] == "1" and st["history"][0]["fromVersion"] == "2"
    sim.step(after=1)
    ms = sim.status["monitoring"]
    assert ms["version"] == "1" and ms["phase"] == "Waiting"
    assert ms["lastRegression"] == {**ms["lastRegression"], "version": "2", "action": "Rollback",
                                    "to": "1"}
    assert "regression in monitoring" in sim.status["message"]
    # The target still says 2: the hold keeps 1 serving, and 1 is watched in turn. It came by
    # a rollback, so a regression of 1 is only told, never a rollback to 2 again.
    ms = measure(sim, 0.3, "Failed")
    assert sim.status["stableVersion"] == "1" and ms["lastRegression"]["action"] == "Notify"
    assert "came by a rollback" in ms["lastRegression"]["message"]


def test_the_first_version_has_nothing_to_go_back_to() -> None:
    sim = Sim(policy(targetVersion="1", monitoring={
        "interval": "60s", "failureThreshold": 1, "action": "Rollback",
        "metrics": [{"name": "e", "query": "x", "max": 1}]},
        analysis={"prometheus": {"address": "http://p:9090"},
                  "metrics": [{"name": "e", "query": "x", "max": 1}]}), versions("1"))
    sim.step()
    ms = measure(sim, 2.0, "Failed")
    assert sim.status["stableVersion"] == "1" and ms["lastRegression"]["action"] == "Notify"


def test_measurements_are_bounded() -> None:
    sim = watched(historyLimit=3)
    for _ in range(5):
        ms = measure(sim, 0.0, "Successful")
    assert len(ms["measurements"]) == 3


def test_without_monitoring_there_is_no_monitoring_status() -> None:
    sim = watched()
    sim.spec = sim.spec.model_copy(update={"monitoring": None})
    sim.step()
    assert "monitoring" not in sim.status
