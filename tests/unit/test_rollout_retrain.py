"""Retraining decisions: a regression or the schedule makes one next version at a time, at
least minInterval apart, from a template that trains; its outcome follows the version."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from modelops.rollout import retrain
from modelops.rollout.window import next_firing
from tests.unit.test_rollout_monitor import INTERVAL, measure
from tests.unit.test_rollout_state import Sim, policy, rolled_out, versions

MON = {"interval": f"{INTERVAL}s", "failureThreshold": 1, "action": "Notify",
       "prometheus": {"address": "http://p:9090"},
       "metrics": [{"name": "error-rate", "query": "x", "max": 0.05}]}


def with_template(sim: Sim) -> Sim:
    sim.vs = {**sim.vs, "2": replace(sim.vs["2"], trains=True)}  # m-2 is the template
    return sim


def watched(**retraining: Any) -> Sim:
    sim = with_template(rolled_out(policy(
        targetVersion="1", strategy={"canary": {"steps": []}}, monitoring=MON,
        retraining={"template": "m-2", "minInterval": "1h", **retraining})))
    sim.step()
    assert sim.status["stableVersion"] == "2"
    return sim


def runs(sim: Sim) -> list[dict[str, Any]]:
    return list((sim.status.get("retraining") or {}).get("runs") or [])


def test_a_regression_starts_one_retraining_and_its_version_decides_the_outcome() -> None:
    sim = watched()
    measure(sim, 0.3, "Failed")
    [run] = runs(sim)
    assert run["reason"] == "Regression" and run["outcome"] == "Running"
    assert run["parent"] == "2"  # the serving version that regressed
    assert run["version"] == f"r{sim.now:%Y%m%d-%H%M%S}" and run["name"] == f"m-{run['version']}"
    assert "2 regressed: error-rate=0.3" in run["message"]
    assert "RetrainingStarted" in sim.reasons()
    # Its version appears (reconcile made it), trains, and becomes Ready.
    sim.vs = {**sim.vs, **versions(run["version"], phase="Training")}
    sim.step(after=1)
    assert runs(sim)[0]["outcome"] == "Running"
    sim.vs[run["version"]] = replace(sim.vs[run["version"]], phase="Ready")
    sim.step(after=1)
    assert runs(sim)[0]["outcome"] == "Succeeded" and runs(sim)[0]["endTime"]
    assert "RetrainingSucceeded" in sim.reasons()


def test_one_in_flight_and_min_interval_between_starts() -> None:
    sim = watched()
    measure(sim, 0.3, "Failed")
    measure(sim, 0.0, "Successful")
    measure(sim, 0.3, "Failed")  # a second regression while the first retrains
    assert len(runs(sim)) == 1 and "RetrainingSkipped" in sim.reasons()
    run = runs(sim)[0]
    sim.vs = {**sim.vs, **versions(run["version"], phase="Failed")}
    sim.step(after=1)
    assert runs(sim)[0]["outcome"] == "Failed" and "RetrainingFailed" in sim.reasons()
    measure(sim, 0.0, "Successful")
    measure(sim, 0.3, "Failed")  # within the hour since the first start: skipped
    assert len(runs(sim)) == 1
    sim.now += timedelta(hours=1)
    measure(sim, 0.0, "Successful")
    measure(sim, 0.3, "Failed")
    assert len(runs(sim)) == 2 and runs(sim)[0]["outcome"] == "Running"


def test_on_regression_false_does_not_retrain() -> None:
    sim = watched(onRegression=False)
    measure(sim, 0.3, "Failed")
    assert runs(sim) == []


def test_a_template_without_training_is_refused() -> None:
    sim = rolled_out(policy(targetVersion="1", strategy={"canary": {"steps": []}},
                            monitoring=MON, retraining={"template": "m-2"}))
    sim.step()
    measure(sim, 0.3, "Failed")
    assert runs(sim) == [] and any("without training" in e[2] for e in sim.events
                                   if e[1] == "RetrainingFailed")


def test_the_schedule_retrains_at_its_times_not_before() -> None:
    sim = with_template(Sim(policy(targetVersion="1", retraining={
        "template": "m-2", "schedule": "0 3 * * *", "minInterval": "1m"}), versions("1", "2")))
    sim.step()  # T0 is 12:00: the schedule counts from now
    assert runs(sim) == [] and sim.status["retraining"]["scheduleFrom"]
    d = sim.step(after=3600)
    assert runs(sim) == [] and d.requeue_after is not None and d.requeue_after > 3600
    sim.now = sim.now.replace(hour=3, minute=0) + timedelta(days=1)
    sim.step()
    [run] = runs(sim)
    assert run["reason"] == "Schedule" and "0 3 * * *" in run["message"]
    sim.step(after=60)  # the same time is not acted on twice
    assert len(runs(sim)) == 1


def test_next_firing() -> None:
    t = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert next_firing("0 3 * * *", t) == datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
    assert next_firing("*/15 * * * *", t) == datetime(2026, 12, 1, 12, 15, tzinfo=UTC)
    assert next_firing("0 0 1 1 *", t) == datetime(2027, 1, 1, 0, 0, tzinfo=UTC)
    assert next_firing("30 4 * * sun", t) == datetime(2026, 12, 6, 4, 30, tzinfo=UTC)
    assert next_firing("0 0 31 2 *", t) is None  # never


def test_the_manifest_copies_the_template_under_a_new_version() -> None:
    template = {"metadata": {"name": "iris-v2", "labels": {
        "app.kubernetes.io/instance": "argo-app"}}, "spec": {
        "model": "iris", "version": "2", "artifact": {"uri": "s3://m/x", "digest": "sha256:1"},
        "training": {"image": "t", "command": ["x"], "outputURI": "s3://models/iris/2/"},
        "evaluation": {"image": "e", "command": ["y"]}, "serving": {"image": "s"}}}
    up = {"apiVersion": "modelops.io/v1alpha1", "kind": "UpdatePolicy",
          "metadata": {"name": "iris", "namespace": "prod", "uid": "u"}}
    run = retrain.RetrainingRun(version="r1", name="iris-r1", reason="Regression",
                                message="2 regressed", start_time="t", outcome="Running",
                                parent="3")
    mv = retrain.manifest(template, run, up)
    assert mv["metadata"]["name"] == "iris-r1" and mv["metadata"]["namespace"] == "prod"
    assert mv["spec"]["version"] == "r1"
    assert mv["spec"]["parentVersion"] == "3"  # the version serving when it began
    assert retrain.manifest(template, run.model_copy(update={"parent": None}), up)[
        "spec"]["parentVersion"] == "2"  # none serving: the template's
    assert mv["spec"]["training"]["outputURI"] == "s3://models/iris/r1/"
    assert "digest" not in mv["spec"]["artifact"]
    assert mv["spec"]["evaluation"] == template["spec"]["evaluation"]
    assert "app.kubernetes.io/instance" not in mv["metadata"]["labels"]  # not Argo CD's
    assert mv["metadata"]["labels"][retrain.RETRAINED_BY] == "iris"
    assert mv["metadata"]["ownerReferences"][0]["uid"] == "u"
    assert template["spec"]["version"] == "2"  # the template is untouched
    assert retrain.retarget("s3://b/out", "2", "r1") == "s3://b/out/r1"


def test_an_inline_template_needs_no_template_version() -> None:
    """spec.retraining.templateSpec: the next version's spec written in the policy."""
    inline = {"training": {"image": "t", "command": ["x"], "outputURI": "s3://models/m/"},
              "evaluation": {"image": "e", "command": ["y"],
                             "gates": [{"metric": "accuracy", "min": 0.9}]},
              "serving": {"image": "s"}}
    sim = rolled_out(policy(targetVersion="1", strategy={"canary": {"steps": []}},
                            monitoring=MON, retraining={"templateSpec": inline}))
    sim.step()
    measure(sim, 0.3, "Failed")
    [run] = runs(sim)  # no template version exists, and none is needed
    assert run["outcome"] == "Running" and run["parent"] == "2"
    assert "from the policy templateSpec" in next(
        e for e in sim.events if e[1] == "RetrainingStarted")[2]
    sim.step(after=1)  # its version not made yet: not failed for want of a template
    assert runs(sim)[0]["outcome"] == "Running"
    up = {"apiVersion": "modelops.io/v1alpha1", "kind": "UpdatePolicy",
          "metadata": {"name": "m", "namespace": "prod", "uid": "u"}}
    mv = retrain.manifest(retrain.inline_template(sim.spec),
                          retrain.RetrainingRun.model_validate(run), up)
    assert mv["spec"]["model"] == "m" and mv["spec"]["version"] == run["version"]
    assert mv["spec"]["training"]["outputURI"] == f"s3://models/m/{run['version']}/"
    assert mv["spec"]["evaluation"]["gates"] == [{"metric": "accuracy", "min": 0.9}]
    assert mv["spec"]["parentVersion"] == "2"
    assert "from its templateSpec" in mv["spec"]["description"]
