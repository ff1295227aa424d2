"""Decide what a ModelVersion needs: (object, observed children, now) -> children and status.

Pure: no I/O, time comes in as an argument. The handler gathers `Observed` from kopf's
indexes, calls `plan`, and applies the result: children that differ from what is observed,
one status patch if the status changed, and the events of the transitions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from ..api.common import Condition
from ..api.conditions import get_condition, parse_time, set_condition
from ..api.modelversion import (
    EvaluationStatus,
    ModelVersionSpec,
    ModelVersionStatus,
    ServingStatus,
)
from ..api.phases import VersionPhase
from ..desired import needs_apply, stamp
from ..serving import builders, names
from ..serving.diagnose import Problem
from ..settings import Settings
from ..training.output import JobOutput
from ..training.plan import Progress, plan_evaluation, plan_training
from ..training.scheduled import plan_scheduled
from . import verified
from .validate import NodeInfo, problems


@dataclass
class Observed:
    deployment: dict[str, Any] | None = None
    service: dict[str, Any] | None = None
    duplicate_of: str | None = None  # the ModelVersion that already holds this version
    managed_replicas: int | None = None  # replicas an UpdatePolicy asks for; None: unmanaged
    nodes: list[NodeInfo] | None = None
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)  # the version's Jobs by name
    # (each with Kueue's Workload for it under "workload", when there is one)
    kueue: bool | None = None  # the cluster serves Kueue's Workloads (None: not looked)
    output: JobOutput | None = None  # what the pods of Plan.needs_output_of left behind
    pod_problem: Problem | None = None  # why the serving pods are not ready (serving.diagnose)
    pods_checked: bool = False  # pod_problem was looked for


@dataclass
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass
class Plan:
    apply: list[dict[str, Any]] = field(default_factory=list)  # server-side apply
    create: list[dict[str, Any]] = field(default_factory=list)  # create once, never change (Jobs)
    status: dict[str, Any] = field(default_factory=dict)  # as written: typed.dump()
    typed: ModelVersionStatus = field(default_factory=ModelVersionStatus)
    events: list[Event] = field(default_factory=list)
    needs_output_of: str | None = None  # ask again with Observed.output of this Job
    needs_pods: str | None = None  # ask again with Observed.pod_problem of pods so selected
    recheck_after: float | None = None  # plan again this much later even if nothing changes
    write_status: bool = True  # False: a newborn's Pending is not worth a write yet


# Pods get this long to become ready before the operator looks at them, and look again this
# often while they are not: kwok's (and most real) pods are ready before anyone looks.
DIAGNOSE_AFTER = 8.0
RECHECK_EVERY = 10.0


def plan(mv: dict[str, Any], observed: Observed, settings: Settings, now: datetime) -> Plan:
    old = mv.get("status") or {}
    gen = mv["metadata"].get("generation")
    conds = list(old.get("conditions") or [])
    out = Plan()
    status = ModelVersionStatus(observed_generation=gen)

    spec, refusal = _validate(mv, observed, settings)
    if spec is None or refusal is not None:
        reason, message = refusal or ("InvalidSpec", "")
        conds = set_condition(conds, "Valid", False, reason, message, gen, now)
        conds = set_condition(conds, "Ready", False, reason,
                              "not served: see the Valid condition", gen, now)
        status.phase = VersionPhase.FAILED
        return _finish(old, status, conds, out, warning=(reason, message))

    conds = set_condition(conds, "Valid", True, "Validated", "the spec is valid", gen, now)
    progress = Progress()
    ready_to_serve = True
    if spec.training:
        ready_to_serve = plan_training(mv, spec, observed.jobs, settings, now, progress,
                                       observed.kueue, observed.output)
    artifact_uri = progress.artifact_uri if spec.training else (
        spec.artifact.uri if spec.artifact else None)
    if ready_to_serve and spec.evaluation:
        ready_to_serve = plan_evaluation(mv, spec, artifact_uri or "", observed.jobs,
                                         observed.output, settings, progress)
    for type_, ok, reason, message in progress.conditions:
        conds = set_condition(conds, type_, ok, reason, message, gen, now)
    out.create = progress.create
    out.needs_output_of = progress.needs_output_of
    out.recheck_after = progress.recheck_after
    out.events += [Event(*e) for e in progress.events]
    status.training, status.evaluation = progress.training, progress.evaluation
    status.artifact_uri = artifact_uri or None
    if not ready_to_serve:
        phase = progress.phase or VersionPhase.PENDING
        msg = {VersionPhase.TRAINING: "training", VersionPhase.EVALUATING: "evaluating",
               VersionPhase.FAILED: "failed: see the Trained and Evaluated conditions"}.get(
                   phase, phase)
        conds = set_condition(conds, "Ready", False, phase, msg, gen, now)
        status.phase = phase
        return _finish(old, status, conds, out)

    if spec.serving is None:
        conds = set_condition(conds, "Available", False, "NotServed", "spec.serving is not set",
                              gen, now)
        conds = set_condition(conds, "Ready", True, "Ready", "valid; not served", gen, now)
        status.phase = VersionPhase.READY
    else:
        conds = _serve(mv, spec, artifact_uri or "", observed, settings, now, conds, status,
                       out)
    return _finish(old, status, conds, out)


def _finish(old: dict[str, Any], status: ModelVersionStatus, conds: list[dict[str, Any]],
            out: Plan, warning: tuple[str, str] | None = None) -> Plan:
    status.conditions = [Condition.model_validate(c) for c in conds]
    out.typed, out.status = status, status.dump()
    _transitions(old, out.status, out, warning)
    return out


def _validate(mv: dict[str, Any], observed: Observed, settings: Settings
              ) -> tuple[ModelVersionSpec | None, tuple[str, str] | None]:
    """The spec, typed, and (reason, message) if it cannot be acted on."""
    spec: ModelVersionSpec | None = None
    try:
        spec = ModelVersionSpec.model_validate(mv.get("spec") or {})
        errors = problems(spec, settings, observed.nodes)
    except ValidationError as e:
        spec = None
        errors = [f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors()]
    if observed.duplicate_of:
        return spec, ("DuplicateVersion",
                      f"version {mv['spec'].get('version')!r} of model "
                      f"{mv['spec'].get('model')!r} is already held by ModelVersion "
                      f"{observed.duplicate_of!r}; to replace a version, delete that one and "
                      "create this again")
    if errors:
        return spec, ("InvalidSpec", "; ".join(errors))
    return spec, None


def _serve(mv: dict[str, Any], spec: ModelVersionSpec, artifact_uri: str, observed: Observed,
           settings: Settings, now: datetime, conds: list[dict[str, Any]],
           status: ModelVersionStatus, out: Plan) -> list[dict[str, Any]]:
    """A served version: its children, how ready it is, and what its pods said; its
    conditions."""
    assert spec.serving is not None
    old, gen = mv.get("status") or {}, mv["metadata"].get("generation")
    replicas = (observed.managed_replicas if observed.managed_replicas is not None
                else spec.serving.replicas)
    desired = [builders.deployment(mv, spec, artifact_uri, replicas, settings),
               builders.service(mv, spec)]
    for want, have in zip(desired, (observed.deployment, observed.service), strict=True):
        want = stamp(want)
        if needs_apply(want, have):
            out.apply.append(want)
    ready, available, msg = deployment_readiness(observed.deployment, replicas)
    problem = None
    if not ready and replicas > 0 and observed.deployment is not None:
        out.recheck_after = RECHECK_EVERY
        if observed.pods_checked:
            problem = observed.pod_problem
        elif _pending_for(conds, now) >= DIAGNOSE_AFTER:
            out.needs_pods = ",".join(f"{k}={v}" for k, v in
                                      builders.selector(spec.model, spec.version).items())
    child = names.child_name(spec.model, spec.version)
    status.serving = ServingStatus(deployment=child, service=child, replicas=replicas,
                                   ready_replicas=_ready_replicas(observed.deployment))
    if problem is not None:
        msg = f"{msg}: {problem.message}"
        was = get_condition(old.get("conditions"), "Ready") or {}
        if (was.get("reason"), was.get("message")) != (problem.reason, msg):
            out.events.append(Event("Warning", problem.reason, problem.message))
    conds = verified.learn(conds, gen, now, ready and replicas > 0, problem,
                           digest=bool(spec.artifact and spec.artifact.digest))
    conds = set_condition(conds, "Available", available,
                          "MinimumReplicasAvailable" if available else
                          ("ScaledToZero" if replicas == 0 else
                           problem.reason if problem else "NoReplicasReady"), msg, gen, now)
    ready, reason, msg, refused = verified.readiness(conds, gen, ready, replicas, problem, msg)
    conds = set_condition(conds, "Ready", ready, reason, msg, gen, now)
    phase = VersionPhase.READY if ready else (
        VersionPhase.FAILED if refused else VersionPhase.PENDING)
    status.phase = phase
    if phase == VersionPhase.PENDING and not old.get("phase") and problem is None:
        _hold_first_status(observed.deployment, settings.first_status_wait, now, out)
    if ready and replicas > 0:
        _scheduled_evaluation(mv, spec, artifact_uri, observed, settings, now, status, out)
    return conds


def _scheduled_evaluation(mv: dict[str, Any], spec: ModelVersionSpec, artifact_uri: str,
                          observed: Observed, settings: Settings, now: datetime,
                          status: ModelVersionStatus, out: Plan) -> None:
    """While the version serves, its evaluation runs again on schedule (training.scheduled)."""
    ev = status.evaluation or EvaluationStatus.model_validate(
        (mv.get("status") or {}).get("evaluation") or {})
    runs = Progress()
    wait = plan_scheduled(mv, spec, artifact_uri, observed.jobs, observed.output,
                          settings, now, ev, runs)
    if wait is None:
        return
    status.evaluation = ev
    out.create += runs.create
    out.events += [Event(*e) for e in runs.events]
    out.needs_output_of = out.needs_output_of or runs.needs_output_of
    out.recheck_after = min(out.recheck_after or wait, wait)


def _hold_first_status(dep: dict[str, Any] | None, wait: float, now: datetime,
                       out: Plan) -> None:
    """A new version's first status waits `wait` seconds from its Deployment's creation: if
    the Deployment is ready by then, one write says Ready instead of two (Pending, Ready).
    Counted from the Deployment, which outlives a restart of the operator."""
    created = ((dep or {}).get("metadata") or {}).get("creationTimestamp")
    age = (now - parse_time(str(created))).total_seconds() if created else 0.0
    if age < wait:
        out.write_status = False
        left = wait - age
        out.recheck_after = min(out.recheck_after or left, left)


def _pending_for(conds: list[dict[str, Any]], now: datetime) -> float:
    """Seconds the version has not been Ready (0 if it has no Ready condition yet)."""
    c = get_condition(conds, "Ready")
    if not c or c.get("status") == "True" or not c.get("lastTransitionTime"):
        return 0.0
    since = parse_time(str(c["lastTransitionTime"]))
    return (now - since).total_seconds()


def _ready_replicas(dep: dict[str, Any] | None) -> int:
    return int(((dep or {}).get("status") or {}).get("readyReplicas") or 0)


def deployment_readiness(dep: dict[str, Any] | None, replicas: int) -> tuple[bool, bool, str]:
    """(all asked-for replicas ready and up to date, any ready, message)."""
    if dep is None:
        return False, False, "waiting for the serving Deployment to be created"
    st = dep.get("status") or {}
    ready = int(st.get("readyReplicas") or 0)
    updated = int(st.get("updatedReplicas") or 0)
    current = int(st.get("observedGeneration") or 0) >= int(dep["metadata"].get("generation") or 0)
    have_replicas = int((dep.get("spec") or {}).get("replicas", 1))
    done = current and have_replicas == replicas and ready >= replicas and updated >= replicas
    return done, ready > 0, f"{ready}/{replicas} replicas ready"


def _transitions(old: dict[str, Any], new: dict[str, Any], out: Plan,
                 warning: tuple[str, str] | None = None) -> None:
    """Events for what changed since the last status: a user sees the story, not noise."""
    was_valid = get_condition(old.get("conditions"), "Valid")
    if warning:
        reason, message = warning
        if not was_valid or (was_valid.get("reason"), was_valid.get("message")) != warning:
            out.events.append(Event("Warning", reason, message))
    # A new version that is Pending or already Ready is not news: its first status says so,
    # and an event each would be a third of the writes of serving a version. What comes
    # after (Pending -> Ready, Ready -> Pending) and any failure is.
    if old.get("phase") != new.get("phase") and (
            old.get("phase") or new.get("phase") not in (VersionPhase.PENDING,
                                                        VersionPhase.READY)):
        ready = get_condition(new.get("conditions"), "Ready") or {}
        out.events.append(Event("Normal", f"Phase{new.get('phase')}",
                                f"phase {old.get('phase') or 'none'} -> {new.get('phase')}: "
                                f"{ready.get('message', '')}".rstrip(": ")))
