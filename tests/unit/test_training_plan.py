"""The training and evaluation state machine, step by step, from status and observed Jobs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from modelops.api.modelversion import Gate
from modelops.settings import Settings
from modelops.training.output import JobOutput
from modelops.training.plan import gate_failure, parse_metrics
from modelops.versions.plan import Observed, Plan, plan

NOW = datetime(2026, 1, 1, tzinfo=UTC)
S = Settings()


def mv(status: dict[str, Any] | None = None, serving: bool = False, **training: Any
       ) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "model": "llm", "version": "7",
        "training": {"image": "t", "command": ["python", "train.py"], "outputURI": "s3://o/7",
                     "maxRestarts": 1, **training}}
    if serving:
        spec["serving"] = {"image": "s", "replicas": 1}
    if "evaluation" in training:
        spec["evaluation"] = spec["training"].pop("evaluation")
    return {"apiVersion": "modelops.io/v1alpha1", "kind": "ModelVersion",
            "metadata": {"name": "llm-7", "namespace": "ns", "uid": "u", "generation": 1},
            "spec": spec, "status": status or {}}


def job(name: str, state: str | None, message: str = "") -> dict[str, Any]:
    conds = [] if state is None else [{"type": state, "status": "True",
                                       "reason": "PodFailurePolicy", "message": message}]
    return {"metadata": {"name": name}, "status": {"conditions": conds}}


def run(body: dict[str, Any], *jobs: dict[str, Any], output: list[str] | None = None) -> Plan:
    """As versions.reconcile does: when the plan asks for a Job's output, plan again with it
    (`output`: the termination messages; none given: the pods left none)."""
    observed = Observed(jobs={j["metadata"]["name"]: j for j in jobs})
    p = plan(body, observed, S, NOW)
    if p.needs_output_of:
        observed.output = JobOutput(output or [])
        p = plan(body, observed, S, NOW)
    return p


def step_through(body: dict[str, Any], *jobs: dict[str, Any], **kw: Any) -> tuple[Plan, dict]:
    p = run(body, *jobs, **kw)
    return p, {**body, "status": p.status}


def cond(p: Plan, type_: str) -> dict[str, Any]:
    return {c["type"]: c for c in p.status["conditions"]}[type_]


def test_first_reconcile_starts_attempt_one() -> None:
    p = run(mv(nodes=2, gpusPerNode=8))
    assert [o["kind"] for o in p.create] == ["Service", "Job"]
    assert p.create[1]["metadata"]["name"] == "llm-7-train-1"
    assert p.status["phase"] == "Training"
    t = p.status["training"]
    assert (t["step"], t["stepIndex"], t["attempts"], t["jobName"]) == ("train", 0, 1,
                                                                        "llm-7-train-1")
    assert t["startTime"] == "2026-01-01T00:00:00Z"
    assert [e.reason for e in p.events] == ["TrainingStarted", "PhaseTraining"]


def test_running_attempt_creates_nothing() -> None:
    _, body = step_through(mv())
    p = run(body, job("llm-7-train-1", None))
    assert p.create == [] and p.status["phase"] == "Training"
    assert cond(p, "Trained")["reason"] == "Training"


def test_missing_job_of_a_recorded_attempt_is_recreated_under_the_same_name() -> None:
    """An operator killed between deciding and creating re-creates, never duplicates."""
    _, body = step_through(mv())
    p = run(body)
    assert [o["metadata"]["name"] for o in p.create] == ["llm-7-train", "llm-7-train-1"]


def test_success_trains_and_then_serves() -> None:
    _, body = step_through(mv(serving=True))
    p = run(body, job("llm-7-train-1", "Complete"))
    assert cond(p, "Trained")["status"] == "True"
    assert p.status["artifactURI"] == "s3://o/7"
    assert p.status["training"]["completionTime"] == "2026-01-01T00:00:00Z"
    assert p.status["training"]["history"][0]["result"] == "Succeeded"
    assert [o["kind"] for o in p.apply] == ["Deployment", "Service"]
    dep = p.apply[0]
    env = {e["name"]: e.get("value") for e in dep["spec"]["template"]["spec"]["containers"][0]
           ["env"]}
    assert env["MODEL_URI"] == "s3://o/7"
    assert p.status["phase"] == "Pending"


def test_failed_rank_restarts_the_whole_gang_then_gives_up() -> None:
    _, body = step_through(mv(maxRestarts=1, checkpoint={"claimName": "c"}))
    p, body = step_through(body, job("llm-7-train-1", "Failed", "rank 1 exit 1"))
    assert [o["metadata"]["name"] for o in p.create] == ["llm-7-train-2"]
    assert p.status["training"]["attempts"] == 2
    restart = next(e for e in p.events if e.reason == "GangRestart")
    assert restart.type == "Warning" and "from the checkpoint" in restart.message
    assert "rank 1 exit 1" in restart.message
    p, body = step_through(body, job("llm-7-train-1", "Failed"),
                           job("llm-7-train-2", "Failed", "rank 0 exit 2"))
    assert p.create == [] and p.status["phase"] == "Failed"
    trained = cond(p, "Trained")
    assert trained["reason"] == "MaxRestartsExceeded" and "rank 0 exit 2" in trained["message"]
    hist = p.status["training"]["history"]
    assert [(h["attempt"], h["result"]) for h in hist] == [(1, "Failed"), (2, "Failed")]
    # terminal: nothing more happens
    again = run(body, job("llm-7-train-1", "Failed"), job("llm-7-train-2", "Failed"))
    assert again.create == [] and again.status["phase"] == "Failed" and not again.events


def test_steps_run_in_order() -> None:
    body = mv(steps=[{"name": "prep", "nodes": 1, "gpusPerNode": 0}, {"name": "train"}])
    p, body = step_through(body)
    assert p.create[1]["metadata"]["name"] == "llm-7-prep-1"
    p, body = step_through(body, job("llm-7-prep-1", None))
    assert p.create == []
    p, body = step_through(body, job("llm-7-prep-1", "Complete"))
    assert [o["metadata"]["name"] for o in p.create] == ["llm-7-train", "llm-7-train-1"]
    assert (p.status["training"]["step"], p.status["training"]["stepIndex"]) == ("train", 1)
    p, body = step_through(body, job("llm-7-prep-1", "Complete"), job("llm-7-train-1",
                                                                       "Complete"))
    assert cond(p, "Trained")["message"] == "2 step(s) succeeded"


EVAL = {"image": "e", "command": ["python", "eval.py"],
        "gates": [{"metric": "accuracy", "min": 0.9}, {"metric": "loss", "max": 0.5}]}


def trained(body: dict[str, Any]) -> dict[str, Any]:
    _, body = step_through(body)
    return step_through(body, job("llm-7-train-1", "Complete"))[1]


def test_evaluation_runs_after_training_and_gates_decide() -> None:
    body = trained(mv(serving=True, evaluation=EVAL))
    assert body["status"]["phase"] == "Evaluating"
    p = plan(body, Observed(jobs={j["metadata"]["name"]: j for j in (
        job("llm-7-train-1", "Complete"), job("llm-7-eval", "Complete"))}), S, NOW)
    assert p.needs_output_of == "llm-7-eval"
    p = run(body, job("llm-7-train-1", "Complete"), job("llm-7-eval", "Complete"),
            output=['{"accuracy": 0.93, "loss": 0.2}'])
    assert cond(p, "Evaluated")["status"] == "True"
    assert p.status["evaluation"]["metrics"] == {"accuracy": 0.93, "loss": 0.2}
    assert p.status["evaluation"]["passed"] is True
    assert [o["kind"] for o in p.apply] == ["Deployment", "Service"]


def test_failed_gates_hold_the_version_back() -> None:
    body = trained(mv(serving=True, evaluation=EVAL))
    p = run(body, job("llm-7-train-1", "Complete"), job("llm-7-eval", "Complete"),
            output=['{"accuracy": 0.5, "loss": 0.2}'])
    assert p.status["phase"] == "Failed" and p.apply == []
    ev = cond(p, "Evaluated")
    assert ev["reason"] == "GatesFailed" and "accuracy=0.5 is below min 0.9" in ev["message"]
    assert p.status["evaluation"]["passed"] is False


@pytest.mark.parametrize(("output", "needle"), [
    ([""], "wrote no metrics"),
    (["not json"], "not JSON"),
    (["[1, 2]"], "not a JSON object"),
    (['{"accuracy": "high"}'], "not a finite number"),
    (['{"accuracy": NaN}'], "not a finite number"),
])
def test_unreadable_evaluation_output(output: list[str], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        parse_metrics(output)


@pytest.mark.parametrize(("gate", "metrics", "fails"), [
    (Gate(metric="a", min=0.9), {"a": 0.9}, False),
    (Gate(metric="a", min=0.9), {"a": 0.89}, True),
    (Gate(metric="a", max=1), {"a": 1.01}, True),
    (Gate(metric="a", min=0, max=1), {"a": 0.5}, False),
    (Gate(metric="a", min=0), {"b": 1}, True),
])
def test_gates(gate: Gate, metrics: dict[str, float], fails: bool) -> None:
    assert (gate_failure(gate, metrics) is not None) is fails


def test_evaluation_without_training_uses_the_artifact() -> None:
    body = mv(evaluation=EVAL)
    body["spec"].pop("training")
    body["spec"]["artifact"] = {"uri": "s3://given/1"}
    p = run(body)
    assert [o["metadata"]["name"] for o in p.create] == ["llm-7-eval"]
    env = {e["name"]: e.get("value") for e in
           p.create[0]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["MODEL_URI"] == "s3://given/1"
    assert p.status["phase"] == "Evaluating"
