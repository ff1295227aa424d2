"""Scheduled evaluation (spec.evaluation.schedule): the evaluation runs again while the
version serves, with the same gates; each run lands in status.evaluation.runs. Pure.

A run that fails its gates does not take the version out of service: the policy that serves
it decides (its monitoring counts the failure as a regression). Runs never overlap; schedule
times missed while one runs, or while the operator was down, collapse into one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..api.conditions import now_iso, parse_time
from ..api.data import DataRead
from ..api.modelversion import EvaluationRun, EvaluationStatus, ModelVersionSpec
from ..rollout.window import next_firing
from ..settings import Settings
from . import builders
from .output import JobOutput
from .plan import Progress, gate_failure, job_state, parse_metrics


def plan_scheduled(mv: dict[str, Any], spec: ModelVersionSpec, artifact_uri: str,
                   jobs: dict[str, Any], output: JobOutput | None, settings: Settings,
                   now: datetime, ev: EvaluationStatus, out: Progress) -> float | None:
    """Advance scheduled runs in `ev` (status.evaluation, updated in place); seconds until
    the next schedule time (None: no schedule)."""
    e = spec.evaluation
    if e is None or not e.schedule:
        return None
    runs = list(ev.runs or [])
    current = runs[0] if runs and not runs[0].end_time else None
    if current is not None:
        _follow(mv, spec, artifact_uri, jobs, output, settings, now, current, out)
    elif ev.schedule_from is None:
        ev.schedule_from = now_iso(now)  # serving began: times are counted from here
    else:
        due = next_firing(e.schedule, parse_time(ev.schedule_from))
        if due is not None and due <= now:
            n = runs[0].run + 1 if runs else 1
            name = f"{builders.eval_job_name(spec)}-s{n}"
            runs.insert(0, EvaluationRun(run=n, job_name=name, start_time=now_iso(now)))
            ev.schedule_from = now_iso(now)
            out.create.append(builders.evaluation_job(mv, spec, artifact_uri, settings, name))
            out.events.append(("Normal", "EvaluationScheduled", f"run {n} ({e.schedule}): "
                               f"evaluating {spec.version} again with {e.image}"))
    ev.runs = runs[: e.history_limit]
    upcoming = next_firing(e.schedule, parse_time(ev.schedule_from)) \
        if ev.schedule_from else None
    return max((upcoming - now).total_seconds(), 1.0) if upcoming else None


def _follow(mv: dict[str, Any], spec: ModelVersionSpec, artifact_uri: str,
            jobs: dict[str, Any], output: JobOutput | None, settings: Settings, now: datetime,
            run: EvaluationRun, out: Progress) -> None:
    name = run.job_name
    state, reason = job_state(jobs.get(name))
    if state == "Missing":  # not seen yet (or made before a crash): creating again is a no-op
        out.create.append(builders.evaluation_job(mv, spec, artifact_uri, settings, name))
        return
    if state == "Running":
        return
    if state == "Failed":
        _end(run, now, None, f"the evaluation job failed: {reason}", out)
        return
    if output is None:
        out.needs_output_of = name
        return
    if output.data:
        run.data = DataRead.model_validate(output.data)
    try:
        metrics = parse_metrics(output.messages)
    except ValueError as err:
        _end(run, now, None, str(err), out)
        return
    failed = [msg for g in (spec.evaluation.gates if spec.evaluation else None) or []
              if (msg := gate_failure(g, metrics))]
    _end(run, now, metrics, "; ".join(failed) or None, out)


def _end(run: EvaluationRun, now: datetime, metrics: dict[str, float] | None,
         failure: str | None, out: Progress) -> None:
    run.end_time, run.passed = now_iso(now), failure is None
    if metrics is not None:
        run.metrics = metrics
    shown = ", ".join(f"{k}={v:g}" for k, v in sorted((metrics or {}).items()))
    if failure is None:
        out.events.append(("Normal", "EvaluationPassed", f"run {run.run}: {shown}"))
        return
    run.message = failure[:2048]
    out.events.append(("Warning", "EvaluationGatesFailed", f"run {run.run}: {failure}"))
