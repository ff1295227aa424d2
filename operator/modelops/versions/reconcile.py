"""Run one reconcile of a ModelVersion: gather what is observed, plan, apply the plan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable, Iterable
from datetime import UTC, datetime
from typing import Any, cast

from .. import metrics
from ..api.conditions import REJECTED, parse_time, refused_as_is, set_condition
from ..api.phases import VersionPhase
from ..indexes import Indexes, first, slim, values
from ..kube import ApiError, patch_for
from ..resources import MODELVERSIONS, PODS
from ..rollout.policy import governing
from ..rollout.replicas import version_replicas
from ..serving.diagnose import diagnose
from ..serving.names import child_name
from ..state import State
from ..training.output import job_output
from ..training.queueing import KUEUE_API
from .deletion import PROTECTION, deletion_blocker
from .plan import Observed, Plan, plan

logger = logging.getLogger(__name__)


def holder(candidates: Iterable[tuple[str, str]]) -> str | None:
    """The ModelVersion that holds a (model, version): the oldest, then by name."""
    return min(candidates, default=(None, None))[1]


def enqueue(state: State, namespace: str, name: str) -> None:
    """Have a version reconciled soon, from the freshest copy (see modelops.workqueue)."""
    if state.queue is not None:
        state.queue.add((namespace, name))


async def reconcile_key(state: State, key: Hashable) -> None:
    """A work queue worker's call: the version under `key` as the indexes have it now."""
    mv = state.cache.version(*cast(tuple[str, str], key))
    if mv is not None:  # else it is gone, and nothing is left to do
        await reconcile(state, mv, state.cache.indexes)


async def reconcile(state: State, mv: dict[str, Any], idx: Indexes) -> None:
    """Reconcile one version. A failure (a conflict, an API hiccup) is retried with the queue's
    back-off from the freshest copy, because the event that brought us here will not come
    again; a refusal that sending again cannot change waits for the spec to change."""
    meta = mv["metadata"]
    key = (meta["namespace"], meta["name"])
    if refused_as_is(state.cache.status(mv), meta) and not meta.get("deletionTimestamp"):
        return
    try:
        with metrics.reconciling("ModelVersion"):
            await _reconcile(state, mv, idx)
    except asyncio.CancelledError:
        raise
    except ApiError as e:
        if not e.permanent:
            await _retry_later(state, mv, e)
            return
        _forget(state, key)
        await _rejected(state, mv, e)
    except Exception as e:
        await _retry_later(state, mv, e)
    else:
        _forget(state, key)


def _forget(state: State, key: tuple[str, str]) -> None:
    if state.queue is not None:
        state.queue.forget(key)


async def _rejected(state: State, mv: dict[str, Any], error: ApiError) -> None:
    """The API server refused what this spec makes (a 422 the schema could not foresee):
    sending it again cannot succeed, so say so on the version (Valid=False, phase Failed, a
    Warning event once) and wait for the spec to change, which reconciles it again."""
    meta = mv["metadata"]
    ns, name, gen = meta["namespace"], meta["name"], meta.get("generation")
    old = state.cache.status(mv)
    message = f"the API server refused what this spec makes: {error.reason}"[:4096]
    conds = set_condition(old.get("conditions"), "Valid", False, REJECTED, message,
                          gen, datetime.now(UTC))
    conds = set_condition(conds, "Ready", False, REJECTED, message, gen,
                          datetime.now(UTC))
    new = {**old, "phase": VersionPhase.FAILED, "observedGeneration": gen, "conditions": conds}
    if new == old:
        return
    logger.warning("%s/%s: %s; not retried until the spec changes", ns, name, message)
    try:
        await state.kube.patch(MODELVERSIONS, ns, name, {"status": patch_for(old, new)},
                               sub="status")
    except ApiError as e:  # even the verdict is refused: the event has to say it
        logger.warning("%s/%s: cannot write the verdict: %s", ns, name, e)
    else:
        state.cache.wrote(mv, new)
    await state.kube.event(mv, "Warning", REJECTED, message)


async def _retry_later(state: State, mv: dict[str, Any], error: Exception) -> None:
    meta = mv["metadata"]
    ns, name = meta["namespace"], meta["name"]
    if isinstance(error, ApiError) and error.namespace_terminating:
        logger.info("%s/%s: namespace is being deleted; nothing to do", ns, name)
        return  # the version goes with it; retrying (or posting events) only makes noise
    if state.queue is None:
        return
    delay = state.queue.add_rate_limited((ns, name))
    n = state.queue.failures((ns, name))
    if isinstance(error, ApiError):
        logger.warning("%s/%s: reconcile failed (%s); retry %d in %.0fs", ns, name, error, n,
                       delay)
    else:  # a bug, not the weather: keep the traceback
        logger.exception("%s/%s: reconcile failed; retry %d in %.0fs", ns, name, n, delay)
    await state.kube.event(mv, "Warning", "ReconcileError", f"{error}; retrying in {delay:.0f}s")


async def _reconcile(state: State, mv: dict[str, Any], idx: Indexes) -> None:
    meta = mv["metadata"]
    # No lock: the work queue never hands one version to two workers at once.
    mv = {**mv, "status": state.cache.status(mv)}
    spec = mv.get("spec") or {}
    policies = values(idx.up_by_model, (meta["namespace"], spec.get("model") or ""))
    blocker = deletion_blocker(spec.get("version") or "", policies)
    if meta.get("deletionTimestamp"):
        if blocker:
            await hold_deletion(state, mv, blocker)
        else:  # children go with the owner, through garbage collection
            await state.kube.set_finalizer(MODELVERSIONS, mv, PROTECTION, False)
        return
    # Before serving traffic is routed here (and after it has left): see deletion.PROTECTION.
    await state.kube.set_finalizer(MODELVERSIONS, mv, PROTECTION, bool(blocker))
    observed = await _gather(state, mv, idx, policies)
    now = datetime.now(UTC)
    await _apply(state, mv, await _plan(state, mv, observed, now), observed, now)


async def _gather(state: State, mv: dict[str, Any], idx: Indexes,
                  policies: list[Any]) -> Observed:
    """What the plan reads, from the cache (and, for a Job that Kueue does not admit, whether
    the cluster serves Kueue at all)."""
    meta, spec = mv["metadata"], mv.get("spec") or {}
    ns, name, uid = meta["namespace"], meta["name"], meta["uid"]
    model, version = spec.get("model") or "", spec.get("version") or ""
    workload = child_name(model, version) if model and version else ""
    owner = holder(idx.mv_versions.get((ns, model, version), []))
    policy = governing(policies)
    observed = Observed(
        deployment=state.cache.deployment(ns, workload),
        service=state.cache.service(ns, workload),
        duplicate_of=owner if owner not in (None, name) else None,
        nodes=[n for node in idx.mo_nodes.values() for n in node] or None,
        jobs=_jobs(idx, ns, uid),
        managed_replicas=None if policy is None else version_replicas(
            policy, version, lambda v: _ready_pods(state, ns, model, v)),
    )
    if any(j.get("suspend") and j.get("workload") is None for j in observed.jobs.values()):
        observed.kueue = await _serves_kueue(state)  # why nothing admits it, if that is why
    return observed


async def _plan(state: State, mv: dict[str, Any], observed: Observed, now: datetime) -> Plan:
    """The plan, given the pods it asks for: a finished Job's output, or why serving pods are
    not ready. Pods are not cached (there are many, and few plans read them)."""
    ns = mv["metadata"]["namespace"]
    p = plan(mv, observed, state.settings, now)
    if p.needs_output_of:
        observed.output = job_output(await state.kube.list(PODS, ns,
                                                           f"job-name={p.needs_output_of}"))
        p = plan(mv, observed, state.settings, now)
    if p.needs_pods:
        observed.pod_problem = diagnose(await state.kube.list(PODS, ns, p.needs_pods))
        observed.pods_checked = True
        p = plan(mv, observed, state.settings, now)
    return p


async def _apply(state: State, mv: dict[str, Any], p: Plan, observed: Observed,
                 now: datetime) -> None:
    """Carry out a plan: children, Jobs, one status patch if it changed, events."""
    ns, name = mv["metadata"]["namespace"], mv["metadata"]["name"]
    if p.apply:
        for obj in p.apply:
            logger.info("%s/%s: applying %s %s", ns, name, obj["kind"],
                        obj["metadata"]["name"])
            answer = slim(await state.kube.apply(obj))
            if obj["kind"] == "Deployment":
                seen, observed.deployment = observed.deployment, answer
            else:
                seen, observed.service = observed.service, answer
            if answer["metadata"].get("resourceVersion") != (seen or {}).get(
                    "metadata", {}).get("resourceVersion"):  # else no event will come
                state.cache.answered(answer)
        # The answers are fresher than the watch: a status planned from them does not
        # change again when the children's own events arrive (one write less per version).
        p = plan(mv, observed, state.settings, now)
    for obj in p.create:
        created = await state.kube.create(obj)
        logger.info("%s/%s: %s %s %s", ns, name, "created" if created else "found existing",
                    obj["kind"], obj["metadata"]["name"])
    old_status = mv.get("status") or {}
    if p.write_status and p.status != old_status:
        await state.kube.patch(MODELVERSIONS, ns, name,
                               {"status": patch_for(old_status, p.status)}, sub="status")
        state.cache.wrote(mv, p.status)
    if p.recheck_after:
        recheck(state, (ns, name), p.recheck_after)
    count_training(p, mv)
    for ev in p.events:
        await state.kube.event(mv, ev.type, ev.reason, ev.message)


def _ready_pods(state: State, ns: str, model: str, version: str | None) -> int:
    """Ready serving pods of a version of the model, as the cache has its Deployment."""
    if not version:
        return 0
    dep = state.cache.deployment(ns, child_name(model, version))
    return int(((dep or {}).get("status") or {}).get("readyReplicas") or 0)


def recheck(state: State, key: tuple[str, str], delay: float) -> None:
    """Reconcile `key` again after `delay` (the earliest of such asks wins)."""
    if state.queue is not None:
        state.queue.add_after(key, delay)


def count_training(p: Plan, mv: dict[str, Any]) -> None:
    for ev in p.events:
        if ev.reason in ("StepSucceeded", "TrainingSucceeded"):
            metrics.TRAINING_ATTEMPTS.labels("succeeded").inc()
        elif ev.reason in ("GangRestart", "TrainingFailed"):
            metrics.TRAINING_ATTEMPTS.labels("failed").inc()
        if ev.reason in ("TrainingSucceeded", "TrainingFailed"):
            t = p.typed.training
            if t and t.start_time and t.completion_time:
                took = parse_time(t.completion_time) - parse_time(t.start_time)
                metrics.TRAINING_SECONDS.observe(took.total_seconds())


async def hold_deletion(state: State, mv: dict[str, Any], message: str) -> None:
    """Say on the object why its deletion waits (once: the condition keeps its time)."""
    meta = mv["metadata"]
    old = mv.get("status") or {}
    conds = set_condition(old.get("conditions"), "Terminating", True, "InUse", message,
                          meta.get("generation"), datetime.now(UTC))
    if conds != old.get("conditions"):
        await state.kube.patch(MODELVERSIONS, meta["namespace"], meta["name"],
                               {"status": {"conditions": conds}}, sub="status")
        state.cache.wrote(mv, {**old, "conditions": conds})
        await state.kube.event(mv, "Warning", "DeletionBlocked", message)


def _jobs(idx: Any, ns: str, uid: str) -> dict[str, dict[str, Any]]:
    """The version's Jobs by name, each with Kueue's Workload for it if there is one."""
    out = {}
    for j in idx.mo_jobs.get((ns, uid), []):
        name = j["metadata"]["name"]
        out[name] = {**j, "workload": first(idx.mo_workloads, (ns, name))}
    return out


async def _serves_kueue(state: State) -> bool | None:
    try:
        await state.kube.request("GET", f"/apis/{KUEUE_API}")
    except ApiError as e:
        return False if e.status == 404 else None
    return True
