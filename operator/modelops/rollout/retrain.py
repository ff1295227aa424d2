"""Retraining (spec.retraining): when to produce the model's next version, and the
ModelVersion that does it. Pure; `state._Machine` calls `step`, reconcile creates what
`manifest` makes for a Running run whose version does not exist yet (level-based: an operator
that died between the status write and the create makes it on its next round).

Bounded: one retraining in flight per policy (so per model), `minInterval` between starts,
one trigger per round; a trigger that cannot start is said (RetrainingSkipped), not queued.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..api.conditions import now_iso, parse_time
from ..api.phases import RunOutcome, VersionPhase
from ..api.retraining import RetrainingRun, RetrainingStatus
from ..api.updatepolicy import UpdatePolicySpec
from ..serving import names
from .target import VersionInfo
from .window import next_firing, parse_duration

if TYPE_CHECKING:
    from .state import _Machine

RETRAINED_BY = "modelops.io/retrained-by"
REASON_ANNOTATION = "modelops.io/retraining-reason"


def running(rs: RetrainingStatus | None) -> RetrainingRun | None:
    run = rs.runs[0] if rs and rs.runs else None
    return run if run is not None and run.outcome == RunOutcome.RUNNING else None


def new_version(now: datetime, versions: dict[str, VersionInfo]) -> str:
    """A version string no other version of the model has: `r` and the UTC time."""
    base = f"r{now:%Y%m%d-%H%M%S}"
    version, n = base, 1
    while version in versions:
        n += 1
        version = f"{base}-{n}"
    return version


def step(m: _Machine, regression: str | None) -> None:
    """Follow the running retraining, then start one if a regression (its description) or
    the schedule asks for it."""
    spec, st = m.spec.retraining, m.st
    if st.retraining is not None:
        follow(m, st.retraining)  # a run started before spec.retraining went still ends
    if spec is None:
        return  # the record stays; nothing new starts
    rs = st.retraining or RetrainingStatus()
    wants: list[tuple[str, str]] = []
    if regression is not None and spec.on_regression:
        wants.append(("Regression", regression))
    if spec.schedule:
        due = _schedule(m, rs, spec.schedule)
        if due:
            wants.append(("Schedule", due))
    if wants:
        start(m, rs, *wants[0])
    st.retraining = rs if rs.runs or rs.schedule_from else None


def _schedule(m: _Machine, rs: RetrainingStatus, schedule: str) -> str | None:
    """The schedule time that is due now, if any; schedule times are counted from when the
    schedule was first seen or last acted on (missed ones collapse into one)."""
    if rs.schedule_from is None:
        rs.schedule_from = m.stamp
        due = None
    else:
        t = next_firing(schedule, parse_time(rs.schedule_from))
        due = t if t is not None and t <= m.now else None
        if due is not None:
            rs.schedule_from = m.stamp
    upcoming = next_firing(schedule, parse_time(rs.schedule_from))
    if upcoming is not None:
        m.wake_in((upcoming - m.now).total_seconds() + 0.5)
    return f"schedule {schedule!r} ({now_iso(due)})" if due else None


def follow(m: _Machine, rs: RetrainingStatus) -> None:
    run = running(rs)
    if run is None:
        return
    v = m.obs.versions.get(run.version)
    if v is None:
        inline = m.spec.retraining is not None and m.spec.retraining.template_spec is not None
        if not inline and _template(m) is None:
            end(m, run, RunOutcome.FAILED, "the template is gone before the new version was made")
        return  # reconcile creates it
    if v.phase == VersionPhase.READY:
        end(m, run, RunOutcome.SUCCEEDED, f"{run.version} trained and passed its gates: Ready" + (
            "; autoUpdate rolls it out" if m.spec.auto_update and m.spec.auto_update.enabled
            else "; set targetVersion to roll it out"))
    elif v.phase == VersionPhase.FAILED:
        end(m, run, RunOutcome.FAILED, f"{run.version} failed; ModelVersion {run.name}'s "
            "conditions say why (training or its evaluation gates)")


def end(m: _Machine, run: RetrainingRun, outcome: RunOutcome, why: str) -> None:
    run.outcome, run.end_time = outcome, m.stamp
    run.message = f"{run.message}; {why}"[:4096]
    if outcome == RunOutcome.SUCCEEDED:
        m.event("Normal", "RetrainingSucceeded", why)
    else:
        m.event("Warning", "RetrainingFailed", why)


def _template(m: _Machine) -> VersionInfo | None:
    name = m.spec.retraining.template if m.spec.retraining else None
    return next((v for v in m.obs.versions.values() if v.name == name), None)


def start(m: _Machine, rs: RetrainingStatus, reason: str, why: str) -> None:
    spec = m.spec.retraining
    assert spec is not None
    busy = running(rs)
    last = rs.runs[0] if rs.runs else None
    skip = None
    if busy is not None:
        skip = f"{busy.version} is still retraining"
    elif last is not None and m.now - parse_time(last.start_time) < parse_duration(
            spec.min_interval):
        skip = f"the last retraining started less than minInterval {spec.min_interval} ago"
    template = _template(m)
    if skip is None and spec.template_spec is None and (template is None or
                                                        not template.trains):
        what = (f"not a ModelVersion of model {m.spec.model}" if template is None
                else "a ModelVersion without training")
        m.event("Warning", "RetrainingFailed", f"{reason}: cannot retrain: the template "
                f"{spec.template} is {what}")
        return
    if skip is not None:
        m.event("Normal", "RetrainingSkipped", f"{reason} ({why}): {skip}")
        return
    version = new_version(m.now, m.obs.versions)
    run = RetrainingRun(version=version, name=names.child_name(m.spec.model, version),
                        reason=reason, parent=m.st.stable_version, message=why[:4096],
                        start_time=m.stamp, outcome=RunOutcome.RUNNING)
    rs.runs = [run, *(rs.runs or [])][: spec.history_limit]
    m.event("Normal", "RetrainingStarted", f"{reason}: {why}; training {version} from "
            f"{spec.template or 'the policy templateSpec'}")


def manifest(template: dict[str, Any], run: RetrainingRun, up: dict[str, Any]) -> dict[str, Any]:
    """The next version: the template's spec under a new version string, training into a
    place of its own, owned by the policy; never a copy of GitOps tracking labels (Argo CD
    would take it for one of its own and prune it)."""
    spec = copy.deepcopy(template["spec"])
    old = str(spec.get("version") or "")  # none: an inline template
    spec["version"] = run.version
    if run.parent or old:
        spec["parentVersion"] = run.parent or old
    training = spec.get("training") or {}
    if training.get("outputURI"):
        training["outputURI"] = retarget(training["outputURI"], old, run.version)
    if isinstance(spec.get("artifact"), dict):
        spec["artifact"].pop("digest", None)  # new weights: the template's digest is not theirs
    source = template["metadata"].get("name") or "its templateSpec"
    spec["description"] = (f"retrained by UpdatePolicy {up['metadata']['name']} from "
                           f"{source}: {run.message}")[:1024]
    meta = up["metadata"]
    return {
        "apiVersion": "modelops.io/v1alpha1", "kind": "ModelVersion",
        "metadata": {"name": run.name, "namespace": meta["namespace"],
                     "labels": {**names.labels(spec["model"], None, "retrained"),
                                RETRAINED_BY: meta["name"]},
                     "annotations": {REASON_ANNOTATION: run.message[:1024]},
                     "ownerReferences": [names.owner_reference(up)]},
        "spec": spec,
    }


def inline_template(spec: UpdatePolicySpec) -> dict[str, Any]:
    """spec.retraining.templateSpec as a template ModelVersion (no name, no version)."""
    inline = spec.retraining.template_spec if spec.retraining else None
    assert inline is not None
    return {"metadata": {}, "spec": {"model": spec.model, **inline.dump()}}


def retarget(uri: str, old: str, new: str) -> str:
    """`s3://b/m/2/` -> `s3://b/m/r.../` when the last segment is the template's version; else
    the new version below it."""
    trail = "/" if uri.endswith("/") else ""
    head, _, last = uri.rstrip("/").rpartition("/")
    if last == old:
        return f"{head}/{new}{trail}"
    return f"{uri.rstrip('/')}/{new}{trail}"
