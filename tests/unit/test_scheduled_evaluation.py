"""Scheduled evaluation while a version serves: runs on schedule, never overlapping, each
result in a bounded history; a failed run leaves the version serving; the policy's monitoring
takes it as a regression, once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from modelops.api.modelversion import EvaluationStatus, ModelVersionSpec
from modelops.metrics import evaluation_gauges
from modelops.rollout.window import check_schedule, next_firing
from modelops.settings import Settings
from modelops.training.output import JobOutput
from modelops.training.plan import Progress
from modelops.training.scheduled import plan_scheduled
from tests.unit.test_rollout_monitor import INTERVAL
from tests.unit.test_rollout_state import policy, rolled_out

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
MV = {"apiVersion": "modelops.io/v1alpha1", "kind": "ModelVersion",
      "metadata": {"name": "m-v1", "namespace": "ns", "uid": "u"}}
SPEC = ModelVersionSpec.model_validate({
    "model": "m", "version": "1", "artifact": {"uri": "s3://b/m/1/"}, "serving": {"image": "s"},
    "evaluation": {"image": "e", "command": ["eval"], "schedule": "@every 30s",
                   "historyLimit": 2, "gates": [{"metric": "accuracy", "min": 0.9}]}})
DONE = {"status": {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}}


def step(ev: dict[str, Any], now: datetime, jobs: dict[str, Any] | None = None,
         output: list[str] | None = None) -> tuple[Progress, float | None]:
    """One plan of `ev` (status.evaluation as the API server keeps it), updated in place."""
    out, typed = Progress(), EvaluationStatus.model_validate(ev)
    wait = plan_scheduled(MV, SPEC, "s3://b/m/1/", jobs or {},
                          None if output is None else JobOutput(output), Settings(), now, typed,
                          out)
    ev.clear()
    ev.update(typed.dump())
    return out, wait


def test_runs_on_schedule_and_records_each_result() -> None:
    ev: dict[str, Any] = {"metrics": {"accuracy": 0.95}, "passed": True}
    out, wait = step(ev, T0)
    assert ev["scheduleFrom"] == "2026-12-01T12:00:00Z" and not out.create and wait == 30
    out, _ = step(ev, T0 + timedelta(seconds=10))
    assert not out.create  # not due yet
    t1 = T0 + timedelta(seconds=30)
    out, _ = step(ev, t1)
    [job] = out.create
    assert job["metadata"]["name"] == "m-1-eval-s1" and job["spec"]["ttlSecondsAfterFinished"]
    assert ev["runs"][0] == {"run": 1, "jobName": "m-1-eval-s1",
                             "startTime": "2026-12-01T12:00:30Z"}
    out, _ = step(ev, t1 + timedelta(seconds=60), {"m-1-eval-s1": {}})  # still running ...
    assert not out.create  # ... so the time that passed meanwhile does not start another
    out, _ = step(ev, t1 + timedelta(seconds=61), {"m-1-eval-s1": DONE})
    assert out.needs_output_of == "m-1-eval-s1"
    out, _ = step(ev, t1 + timedelta(seconds=61), {"m-1-eval-s1": DONE}, ['{"accuracy": 0.93}'])
    assert ev["runs"][0]["passed"] is True and ev["runs"][0]["metrics"] == {"accuracy": 0.93}
    assert [e[1] for e in out.events] == ["EvaluationPassed"]
    # The next one is due 30 s after the last start.
    t2 = t1 + timedelta(seconds=91)
    step(ev, t2)
    out, _ = step(ev, t2, {"m-1-eval-s2": DONE}, ['{"accuracy": 0.7}'])
    assert ev["runs"][0]["run"] == 2 and ev["runs"][0]["passed"] is False
    assert "accuracy=0.7 is below min 0.9" in ev["runs"][0]["message"]
    assert [e[1] for e in out.events] == ["EvaluationGatesFailed"]
    step(ev, t2 + timedelta(seconds=31))
    assert [r["run"] for r in ev["runs"]] == [3, 2]  # historyLimit 2


def test_gauges_show_the_latest_finished_run() -> None:
    mv = {**MV, "spec": {"model": "m", "version": "1"}, "status": {"evaluation": {
        "metrics": {"accuracy": 0.95}, "passed": True, "runs": [
            {"run": 3, "jobName": "j3", "startTime": "t"},
            {"run": 2, "jobName": "j2", "startTime": "t", "endTime": "t",
             "metrics": {"accuracy": 0.7}, "passed": False}]}}}
    value, passed, run = evaluation_gauges([mv])
    assert [(s.labels["metric"], s.value) for s in value.samples] == [("accuracy", 0.7)]
    assert [s.value for s in passed.samples] == [0.0] and [s.value for s in run.samples] == [2.0]


def test_schedules() -> None:
    assert next_firing("@every 90s", T0) == T0 + timedelta(seconds=90)
    check_schedule("@every 6h")
    check_schedule("0 3 * * *")
    for bad in ("@every", "@every soon", "@every 0s", "61 * * * *"):
        try:
            check_schedule(bad)
        except ValueError:
            continue
        raise AssertionError(bad)


def test_a_failed_scheduled_run_is_a_regression_for_the_policy_once() -> None:
    sim = rolled_out(policy(targetVersion="1", strategy={"canary": {"steps": []}},
                            monitoring={"interval": f"{INTERVAL}s", "action": "Rollback"}))
    sim.step()
    assert sim.status["stableVersion"] == "2"
    since = sim.status["monitoring"]["since"]
    sim.vs["2"] = replace(sim.vs["2"], evaluation_failed=since,
                          evaluation_message="run 4: accuracy=0.7 is below min 0.9")
    sim.step(after=5)
    st = sim.status
    assert st["stableVersion"] == "1" and st["hold"]["reason"] == "MonitoringRegression"
    reg = st["monitoring"]["lastRegression"]
    assert reg["version"] == "2" and "scheduled evaluation failed" in reg["message"]
    assert "accuracy=0.7" in reg["message"]
    sim.step(after=5)
    assert sim.reasons().count("Regression") == 1
