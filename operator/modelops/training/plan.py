"""Where a version's training and evaluation stand, and what to create next. Pure.

All progress is in status: the current step index, the attempt number, timestamps and the
history of ended attempts. Job names are derived from (step, attempt), so a restarted operator
that re-decides the same step re-creates the same name (AlreadyExists), never a duplicate.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from ..api.conditions import get_condition, now_iso, parse_time
from ..api.data import DataRead, ImageRun
from ..api.modelversion import (
    EvaluationStatus,
    Gate,
    ModelVersionSpec,
    Training,
    TrainingAttempt,
    TrainingStatus,
)
from ..api.phases import VersionPhase
from ..settings import Settings
from . import builders
from .output import JobOutput
from .queueing import (
    QueueState,
    awaiting_kueue,
    preempted,
    queue_state,
    stopped_by_preemption,
)
from .steps import Step, effective_steps

HISTORY_LIMIT = 50
TROUBLE = ("Inadmissible", "KueueNotInstalled")  # queued for a reason waiting will not fix
PREEMPTED = "Preempted by Kueue: "  # an attempt's history reason when a preemption ended it


@dataclass
class Progress:
    """What training/evaluation contribute to a reconcile."""

    phase: VersionPhase | None = None  # Training, Evaluating, Failed; None: serving may go on
    training: TrainingStatus | None = None  # status.training as it is to be
    evaluation: EvaluationStatus | None = None
    artifact_uri: str | None = None
    conditions: list[tuple[str, bool, str, str]] = field(default_factory=list)
    create: list[dict[str, Any]] = field(default_factory=list)
    events: list[tuple[str, str, str]] = field(default_factory=list)
    needs_output_of: str | None = None  # eval Job whose termination messages are needed
    recheck_after: float | None = None  # plan again this much later even if nothing changes


def job_state(job: dict[str, Any] | None) -> tuple[str, str]:
    """(Missing | Running | Succeeded | Failed, reason)."""
    if job is None:
        return "Missing", ""
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("status") != "True":
            continue
        if c.get("type") == "Complete":
            return "Succeeded", ""
        if c.get("type") == "Failed":
            return "Failed", f"{c.get('reason', 'Failed')}: {c.get('message', '')}".strip(": ")
    return "Running", ""


def plan_training(mv: dict[str, Any], spec: ModelVersionSpec, jobs: dict[str, Any],
                  settings: Settings, now: datetime, out: Progress,
                  kueue: bool | None = None, output: JobOutput | None = None) -> bool:
    """Advance training; True when it has succeeded (and the caller may go on). `kueue`:
    whether the cluster serves Kueue's Workloads (None: not looked); `output`: what the pods
    of out.needs_output_of left (asked for once a step succeeds)."""
    t = spec.training
    assert t is not None
    conds = (mv.get("status") or {}).get("conditions")
    trained = get_condition(conds, "Trained")
    st = TrainingStatus.model_validate((mv.get("status") or {}).get("training") or {})
    out.training = st
    if trained and trained.get("status") == "True":
        out.artifact_uri = t.output_uri or (spec.artifact.uri if spec.artifact else None)
        return True
    if trained and trained.get("reason") == "MaxRestartsExceeded":
        out.phase = VersionPhase.FAILED
        return False
    r = _Round(mv, spec, t, settings, out, st, now_iso(now), effective_steps(t))
    job = jobs.get(r.name)
    state, reason = job_state(job)
    out.phase = VersionPhase.TRAINING
    if state == "Missing":
        out.create += [builders.rendezvous_service(mv, spec, r.step.name),
                       builders.training_job(mv, spec, r.step, r.attempt, settings)]
        out.conditions.append(("Trained", False, "Training",
                               f"step {r.step.name}, attempt {r.attempt}: starting"))
        return False
    if state == "Running":
        where = f"step {r.step.name} ({r.i + 1}/{len(r.steps)}), attempt {r.attempt}"
        if t.queue_name and _queued(st, queue_state(job or {}, kueue),
                                    get_condition(conds, "Queued"), r.stamp, now, out):
            out.conditions.append(("Trained", False, "Queued", f"{where}: waiting for Kueue"))
            return False
        out.conditions.append(("Trained", False, "Training", f"{where}: running"))
        return False
    if state == "Succeeded":
        if output is None:
            out.needs_output_of = r.name  # the data it read and its image, by digest
            return False
        return r.succeeded(output)
    evicted = (preempted(job) or stopped_by_preemption(job, st)) if t.queue_name else None
    wait = awaiting_kueue(job, now) if t.queue_name and evicted is None else None
    if wait is not None:  # preempted, or the gang's own failure? Kueue is about to say
        out.recheck_after = wait
        out.conditions.append(("Trained", False, "Training", f"step {r.step.name}, attempt "
                               f"{r.attempt}: ended; waiting for Kueue's word on why"))
        return False
    return r.failed(f"{PREEMPTED}{evicted}" if evicted else reason, evicted)


@dataclass
class _Round:
    """One reconcile of a training: the step and attempt status names (started here when
    none is), and what happens when its Job has ended."""

    mv: dict[str, Any]
    spec: ModelVersionSpec
    t: Training
    settings: Settings
    out: Progress
    st: TrainingStatus
    stamp: str
    steps: list[Step]

    def __post_init__(self) -> None:
        st = self.st
        self.i = st.step_index or 0
        self.attempt = st.attempts or 0
        self.step = self.steps[self.i]
        if self.attempt == 0:
            self.attempt = 1
            st.step, st.step_index, st.steps = self.step.name, self.i, len(self.steps)
            st.attempts, st.attempt_start_time = 1, self.stamp
            st.start_time = st.start_time or self.stamp
            self.out.events.append((
                "Normal", "TrainingStarted" if self.i == 0 else "StepStarted",
                f"step {self.step.name} ({self.i + 1}/{len(self.steps)}), attempt 1: "
                f"{self.step.nodes} node(s) x {self.step.procs_per_node} process(es)"))
        self.name = builders.job_name(self.spec, self.step.name, self.attempt)
        st.job_name = self.name

    def succeeded(self, output: JobOutput) -> bool:
        st, out, step = self.st, self.out, self.step
        _ran(st, step.image, output)
        _record(st, step.name, self.attempt, self.name, "Succeeded", "", self.stamp)
        if self.i + 1 < len(self.steps):
            nxt = self.steps[self.i + 1]
            st.step, st.step_index, st.attempts = nxt.name, self.i + 1, 1
            st.attempt_start_time = self.stamp
            st.job_name = builders.job_name(self.spec, nxt.name, 1)
            out.events.append(("Normal", "StepSucceeded",
                               f"step {step.name} succeeded; starting {nxt.name}"))
            out.create += [builders.rendezvous_service(self.mv, self.spec, nxt.name),
                           builders.training_job(self.mv, self.spec, nxt, 1, self.settings)]
            out.conditions.append(("Trained", False, "Training", f"step {nxt.name}: starting"))
            return False
        st.completion_time = self.stamp
        out.artifact_uri = self.t.output_uri or (
            self.spec.artifact.uri if self.spec.artifact else None)
        out.events.append(("Normal", "TrainingSucceeded", f"all {len(self.steps)} step(s) "
                           f"succeeded; artifact {out.artifact_uri}"))
        out.conditions.append(("Trained", True, "Succeeded",
                               f"{len(self.steps)} step(s) succeeded"))
        out.phase = None
        return True

    def failed(self, reason: str, evicted: str | None) -> bool:
        """One rank's failure failed the whole gang: restart all of it, or give up. A
        preemption that failed the Job is not the gang's failure: it costs no restart."""
        st, out, step, t, attempt = self.st, self.out, self.step, self.t, self.attempt
        _record(st, step.name, attempt, self.name, "Failed", reason, self.stamp)
        failures = sum(1 for h in st.history or [] if h.step == step.name and h.result ==
                       "Failed" and not (h.reason or "").startswith(PREEMPTED))
        if failures > t.max_restarts:
            msg = (f"step {step.name} failed {failures} time(s), more than maxRestarts="
                   f"{t.max_restarts}; last failure: {reason}")
            st.completion_time = self.stamp
            out.events.append(("Warning", "TrainingFailed", msg))
            out.conditions.append(("Trained", False, "MaxRestartsExceeded", msg))
            out.phase = VersionPhase.FAILED
            return False
        st.attempts, st.attempt_start_time = attempt + 1, self.stamp
        st.job_name = builders.job_name(self.spec, step.name, attempt + 1)
        resume = " from the checkpoint" if t.checkpoint else ""
        if evicted:
            if st.preempted_job != self.name:  # else counted when seen waiting
                st.preemptions, st.preempted_job = (st.preemptions or 0) + 1, self.name
            out.events.append(("Warning", "Preempted", f"Kueue preempted step {step.name} "
                               f"attempt {attempt} ({evicted}) and its Job failed as its pods "
                               f"stopped; attempt {attempt + 1} waits for the queue and "
                               f"resumes{resume}"))
        else:
            out.events.append(("Warning", "GangRestart",
                               f"step {step.name} attempt {attempt} failed ({reason}); "
                               f"restarting all {step.nodes} node(s){resume}, attempt "
                               f"{attempt + 1} ({failures} of {t.max_restarts} restarts)"))
        out.create += [builders.training_job(self.mv, self.spec, step, attempt + 1,
                                             self.settings)]
        out.conditions.append(("Trained", False, "Restarting",
                               f"step {step.name} attempt {attempt} failed: {reason}"))
        return False


def _queued(st: TrainingStatus, q: QueueState, before: dict[str, Any] | None, stamp: str,
            now: datetime, out: Progress) -> bool:
    """Note where the Job stands with Kueue (condition Queued, times, events); True while it
    waits."""
    was = before is not None and before.get("status") == "True"
    if q.queued:
        if not was:
            st.queued_time = stamp
            if q.evicted:
                st.preemptions, st.preempted_job = (st.preemptions or 0) + 1, st.job_name
            out.events.append(("Warning", "Preempted", f"Kueue took the gang's quota back "
                                                       f"({q.reason}: {q.message}); it resumes "
                                                       "from its checkpoint once admitted again")
                              if q.evicted else ("Warning", q.reason, q.message)
                              if q.reason in TROUBLE else
                              ("Normal", "Queued", f"{q.reason}: {q.message}"))
        elif before is not None and before.get("reason") != q.reason and q.reason in TROUBLE:
            out.events.append(("Warning", q.reason, q.message))
        out.conditions.append(("Queued", True, q.reason, q.message))
        return True
    if was or before is None:
        st.admitted_time, st.cluster_queue = stamp, q.cluster_queue
        waited = (now - parse_time(st.queued_time)).total_seconds() if st.queued_time else None
        out.events.append(("Normal", "Admitted", q.message + (
            f" after {waited:.0f}s in the queue" if waited is not None else "")))
    out.conditions.append(("Queued", False, "Admitted", q.message))
    return False


def _ran(st: TrainingStatus, image: str, output: JobOutput | None) -> None:
    """status.training's record of what a step read and ran (lineage)."""
    if output is not None and output.data:
        st.data = DataRead.model_validate(output.data)
    if output is not None and output.image_id:
        st.image = ImageRun(image=image, image_id=output.image_id)


def _record(st: TrainingStatus, step: str, attempt: int, job: str,
            result: Literal["Succeeded", "Failed"], reason: str, stamp: str) -> None:
    entry = TrainingAttempt(step=step, attempt=attempt, job_name=job, result=result,
                            reason=reason[:1024] or None, start_time=st.attempt_start_time,
                            end_time=stamp)
    st.history = [*(st.history or []), entry][-HISTORY_LIMIT:]


def plan_evaluation(mv: dict[str, Any], spec: ModelVersionSpec, artifact_uri: str,
                    jobs: dict[str, Any], output: JobOutput | None, settings: Settings,
                    out: Progress) -> bool:
    """Advance evaluation; True when its gates passed."""
    e = spec.evaluation
    assert e is not None
    ev = EvaluationStatus.model_validate((mv.get("status") or {}).get("evaluation") or {})
    out.evaluation = ev
    done = get_condition((mv.get("status") or {}).get("conditions"), "Evaluated")
    if done and done.get("reason") in ("GatesPassed", "GatesFailed", "EvaluationFailed"):
        out.phase = None if done["status"] == "True" else VersionPhase.FAILED
        return done["status"] == "True"
    name = builders.eval_job_name(spec)
    ev.job_name = name
    state, reason = job_state(jobs.get(name))
    out.phase = VersionPhase.EVALUATING
    if state == "Missing":
        out.create.append(builders.evaluation_job(mv, spec, artifact_uri, settings))
        out.events.append(("Normal", "EvaluationStarted", f"evaluating with {e.image}"))
        out.conditions.append(("Evaluated", False, "Evaluating", "evaluation job started"))
        return False
    if state == "Running":
        q = queue_state(jobs[name]) if e.queue_name else None
        if q is not None and q.queued:
            out.conditions.append(("Evaluated", False, "Queued",
                                   f"waiting for Kueue ({q.reason}: {q.message})"))
        else:
            out.conditions.append(("Evaluated", False, "Evaluating", "evaluation job running"))
        return False
    if state == "Failed":
        return _eval_failed(ev, f"the evaluation job failed: {reason}", out)
    if output is None:
        out.needs_output_of = name
        return False
    if output.data:
        ev.data = DataRead.model_validate(output.data)
    try:
        metrics = parse_metrics(output.messages)
    except ValueError as err:
        return _eval_failed(ev, str(err), out)
    failed = [msg for g in e.gates or [] if (msg := gate_failure(g, metrics))]
    ev.metrics, ev.passed = metrics, not failed
    if failed:
        msg = "; ".join(failed)
        ev.message = msg[:2048]
        out.conditions.append(("Evaluated", False, "GatesFailed", msg))
        out.events.append(("Warning", "GatesFailed", msg))
        out.phase = VersionPhase.FAILED
        return False
    ev.message = None
    summary = ", ".join(f"{k}={v:g}" for k, v in sorted(metrics.items()))
    out.conditions.append(("Evaluated", True, "GatesPassed", summary or "no gates"))
    out.events.append(("Normal", "GatesPassed", summary))
    out.phase = None
    return True


def _eval_failed(ev: EvaluationStatus, msg: str, out: Progress) -> bool:
    ev.passed, ev.message = False, msg[:2048]
    out.conditions.append(("Evaluated", False, "EvaluationFailed", msg))
    out.events.append(("Warning", "EvaluationFailed", msg))
    out.phase = VersionPhase.FAILED
    return False


def parse_metrics(messages: list[str]) -> dict[str, float]:
    """The evaluation output: the last non-empty termination message, a JSON object of numbers."""
    text = next((m.strip() for m in reversed(messages) if m and m.strip()), "")
    if not text:
        raise ValueError("the evaluation wrote no metrics (expected a JSON object such as "
                         '{"accuracy": 0.93} in /dev/termination-log)')
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ValueError(f"the evaluation output is not JSON: {text[:200]!r}") from e
    if not isinstance(data, dict):
        raise ValueError(f"the evaluation output is not a JSON object: {text[:200]!r}")
    out: dict[str, float] = {}
    for k, v in data.items():
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ValueError(f"metric {k!r} is not a finite number: {v!r}")
        out[str(k)] = float(v)
    return out


def gate_failure(gate: Gate, metrics: dict[str, float]) -> str | None:
    value = metrics.get(gate.metric)
    if value is None:
        return f"{gate.metric}: missing from the evaluation output"
    if gate.min is not None and value < gate.min:
        return f"{gate.metric}={value:g} is below min {gate.min:g}"
    if gate.max is not None and value > gate.max:
        return f"{gate.metric}={value:g} is above max {gate.max:g}"
    return None

