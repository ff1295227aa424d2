"""One reconcile of an UpdatePolicy: gather, measure when due, decide, apply, write status."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, cast

import kopf
from pydantic import ValidationError

from .. import metrics
from ..analysis.judge import overall
from ..analysis.measure import measure
from ..analysis.prometheus import address_allowed
from ..analysis.templates import TEMPLATES, template_query
from ..api.analysis import MetricCheck
from ..api.conditions import set_condition
from ..api.phases import MonitoringPhase, PolicyPhase
from ..api.updatepolicy import (
    ACTIONS,
    ROLLBACK_ACTION,
    UpdatePolicySpec,
    UpdatePolicyStatus,
    valid_action,
)
from ..autoscale.scaledobject import autoscaling_condition
from ..autoscale.scaledobject import problems as scaler_problems
from ..autoscale.sync import sync_scaler
from ..desired import needs_apply, stamp
from ..indexes import Indexes
from ..kube import MODELVERSIONS, UPDATEPOLICIES, ApiError, patch_for
from ..notify import outbox
from ..shadow import children as shadow
from ..shadow.sync import mirror_written, sync_shadow
from ..state import State
from ..traffic.base import (
    Backend,
    Provider,
    Split,
    Want,
    serving_label_selector,
    stable_service,
    want_for,
)
from ..traffic.registry import provider_for
from . import monitor, retrain
from .policy import governing
from .replicas import in_traffic
from .routing import keeps_shadow
from .state import Observed, decide
from .target import VersionInfo, latest_claims
from .verdict import measurement_due, values
from .window import check_schedule, parse_cron

logger = logging.getLogger(__name__)
ACTION_ANNOTATION = "modelops.io/action"


def problems(spec: UpdatePolicySpec, name: str, records: Any, state: State) -> list[str]:
    out = []
    owner = governing(records)
    if owner and owner["name"] != name:
        out.append(f"UpdatePolicy {owner['name']!r} already manages model {spec.model!r}; "
                   "one policy per model")
    window = spec.auto_update.window if spec.auto_update else None
    for field, cron, check in (
            ("autoUpdate.window.schedule", window and window.schedule, parse_cron),
            ("retraining.schedule", spec.retraining and spec.retraining.schedule,
             check_schedule)):
        try:
            if cron:
                check(cron)
        except ValueError as e:
            out.append(f"{field}: {e}")
    for field, ref in (("analysis", spec.analysis and spec.analysis.prometheus),
                       ("monitoring", spec.monitoring and spec.monitoring.prometheus)):
        if ref and not address_allowed(ref.address, state.settings.prometheus_allow):
            out.append(f"{field}.prometheus.address {ref.address!r} is not allowed by the "
                       "operator's settings (MODELOPS_PROMETHEUS_ALLOW)")
    return out


def missing_templates(spec: UpdatePolicySpec, versions: dict[str, VersionInfo]) -> list[str]:
    """Analysis and monitoring templates that the version this policy rolls out (its target)
    has no metric for; under autoUpdate the measurement itself says so (never a pass)."""
    target = versions.get(spec.target_version or "")
    if target is None:
        return []
    out = []
    for field, block in (("analysis", spec.analysis), ("monitoring", spec.monitoring)):
        for i, check in enumerate(block.metrics if block else []):
            if check.template and template_query(target.runtime, check.template,
                                                 check.window) is None:
                has = ", ".join(sorted(TEMPLATES.get(target.runtime, {}))) or "none"
                out.append(f"{field}.metrics[{i}].template {check.template}: version "
                           f"{target.version} runs {target.runtime}, which has no such metric "
                           f"(it has {has})")
    return out


async def take_action(state: State, up: dict[str, Any]) -> dict[str, Any]:
    """Move a `modelops.io/action` annotation into status, then remove it: exactly once.

    The status write comes first: if the operator dies before the annotation is removed, the
    next round sees the action already pending and only removes the annotation.
    """
    meta = up["metadata"]
    action = (meta.get("annotations") or {}).get(ACTION_ANNOTATION)
    if action is None:
        return up
    status = dict(up.get("status") or {})
    ns, name = meta["namespace"], meta["name"]
    if valid_action(action) and status.get("pendingAction") is None:
        await state.kube.patch(UPDATEPOLICIES, ns, name, {"status": {"pendingAction": action}},
                               sub="status")
        status["pendingAction"] = action
    elif not valid_action(action):
        kopf.event(kopf.Body(cast(kopf.RawBody, up)), type="Warning", reason="UnknownAction",
                   message=f"{ACTION_ANNOTATION}={action!r} is not one of {', '.join(ACTIONS)} "
                           f"or {ROLLBACK_ACTION}VERSION")
    await state.kube.patch(UPDATEPOLICIES, ns, name,
                           {"metadata": {"annotations": {ACTION_ANNOTATION: None}}})
    return {**up, "status": status}


async def reconcile_policy(state: State, up: dict[str, Any]) -> float | None:
    """Returns seconds until the policy wants to be looked at again (None: on events only)."""
    with metrics.reconciling("UpdatePolicy"):
        try:
            return await _reconcile_policy(state, up, state.cache.indexes)
        except ApiError as e:
            if not e.permanent:
                raise  # the loop retries what may pass next time
            # Sending it again cannot succeed: say so, and wait for a change to wake us.
            old = state.cache.status(up)
            await _refuse(state, {**up, "status": old}, old, list(old.get("conditions") or []),
                          [f"the API server refused what this policy makes: {e.reason}"],
                          up["metadata"].get("generation"), datetime.now(UTC))
            return None


async def _reconcile_policy(state: State, up: dict[str, Any], idx: Indexes) -> float | None:
    meta = up["metadata"]
    ns, name, gen = meta["namespace"], meta["name"], meta.get("generation")
    now = datetime.now(UTC)
    up = {**up, "status": state.cache.status(up)}
    old = dict(up.get("status") or {})
    conds = list(old.get("conditions") or [])
    try:
        spec = UpdatePolicySpec.model_validate(up.get("spec") or {})
    except ValidationError as e:
        errors = [f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors()]
        await _refuse(state, up, old, conds, errors, gen, now)
        return None
    provider = provider_for(spec)
    versions = latest_claims(idx.mv_infos.get((ns, spec.model), []))
    ready = {v.version: _ready(idx.mo_deployments, ns, v.service) for v in versions.values()}
    route = _route(state, provider, ns, spec)
    sticky = _sticky(state, provider, ns, spec)
    bad = problems(spec, name, idx.up_by_model.get((ns, spec.model), []), state)
    bad += missing_templates(spec, versions)
    runtime = _runtime(versions, old.get("stableVersion"), spec.target_version)
    bad += scaler_problems(spec, runtime)
    status = UpdatePolicyStatus.model_validate(old)
    wrong = provider.problem(up, spec, _split(versions, ready, route, status, sticky=sticky,
                                              at=now))
    bad += [wrong] if wrong else []
    if bad:
        await _refuse(state, up, old, conds, bad, gen, now)
        return None

    up = await take_action(state, up)
    status = UpdatePolicyStatus.model_validate(up.get("status") or {})
    comparer = shadow.backend(name, status.canary_version)
    comparer_dep = state.cache.child("mo_deployments", "Deployment", ns, comparer.service)
    obs = Observed(versions, ready, route, shadow=comparer, sticky=sticky,
                   shadow_ready=_ready(idx.mo_deployments, ns, comparer.service),
                   shadow_exists=comparer_dep is not None,
                   mirror_written=mirror_written(state, up, spec, now))
    if measurement_due(spec, status, now) and spec.analysis and status.canary_version:
        obs.measurement = await _measure(state, spec.analysis.metrics,
                                         spec.analysis.prometheus.address, spec, ns,
                                         status.canary_version, status, versions, now)
        for r in obs.measurement:
            metrics.MEASUREMENTS.labels(r["phase"]).inc()
    mon = spec.monitoring
    if mon is not None and monitor.due(spec, status, now) and status.stable_version:
        address = (mon.prometheus or spec.analysis.prometheus).address  # type: ignore[union-attr]
        obs.monitoring = await _measure(state, mon.metrics, address, spec, ns,
                                        status.stable_version, status, versions, now)
        metrics.MONITORING.labels(overall([r["phase"] for r in obs.monitoring])).inc()
    subs = spec.notifications or []
    box, told = outbox.fold(status.notifications,
                            state.sender.take(ns, name) if state.sender else [], subs, now)
    d = decide(spec, status, obs, now)
    st = d.typed
    box, dropped = outbox.enqueue(box, subs, d.events, now, details(st))
    st.notifications = box if box.pending or box.next_id else None
    shared = bool(st.canary_version or (st.outgoing and st.outgoing.serving))
    canary = versions.get(st.canary_version or "")
    await sync_shadow(  # before a route mirrors to it
        state, up, spec, keeps_shadow(st, obs.shadow_exists, now), st.mirror_percent or 0,
        _backend(versions, st.stable_version), _backend(versions, st.canary_version),
        canary.runtime if canary else "custom", obs.shadow_ready, now)
    written_mirror = mirror_written(state, up, spec, now)
    await _apply_traffic(state, up, spec, provider, _split(
        versions, ready, route, st, obs.shadow_ready, sticky, now),
                         want_for(spec, st, shadow.backend(name, st.canary_version),
                                  written_mirror), shared)
    recheck = provider.recheck_in(_split(versions, ready, _route(state, provider, ns, spec), st,
                                         obs.shadow_ready, _sticky(state, provider, ns, spec),
                                         now))
    scaler, no_scaler = await sync_scaler(state, up, spec, runtime, old.get("scaler"))
    phase, message = st.phase or PolicyPhase.IDLE, st.message or ""
    stable = versions.get(st.stable_version or "")
    healthy = phase != PolicyPhase.DEGRADED and (not st.stable_version or (
        stable is not None and stable.ready))
    conds = set_condition(conds, "Valid", True, "Validated", "the spec is valid", gen, now)
    conds = set_condition(conds, "Progressing", bool(st.canary_version or st.incoming), phase,
                          message, gen, now)
    conds = set_condition(conds, "Healthy", healthy, "StableServing" if healthy else phase,
                          message, gen, now)
    conds = monitoring_condition(conds, spec, st, gen, now)
    conds = autoscaling_condition(conds, spec, scaler, no_scaler, gen, now)
    written = {**{k: v for k, v in d.status.items() if k != "scaler"}, **(
        {"scaler": scaler} if scaler else {}), "conditions": conds, "observedGeneration": gen,
               "replicas": sum(_pods(idx.mo_deployments, ns, versions[v].service)
                               for v in in_traffic(st) if v in versions),
               "selector": serving_label_selector(spec.model)}
    await _write(state, up, written)
    await _make_retrained(state, up, spec, st, versions)
    body = kopf.Body(cast(kopf.RawBody, up))
    for type_, reason, message in d.events + told + dropped:
        kopf.event(body, type=type_, reason=reason, message=message)
        if reason in metrics.ROLLOUT_EVENTS:
            metrics.ROLLOUTS.labels(metrics.ROLLOUT_EVENTS[reason]).inc()
    gone = (box.dropped or 0) - ((status.notifications.dropped if status.notifications
                                  else None) or 0)
    if gone:
        metrics.NOTIFICATIONS.labels("dropped").inc(gone)
    if state.sender and box.pending:
        state.sender.send({**up, "status": written}, outbox.heads(box, now))
    # KEDA may be installed later: look again now and then.
    missing = state.settings.missing_kind_recheck if no_scaler else None
    waits = [t for t in (d.requeue_after, outbox.next_due(box, now), missing,
                         # Traefik's mirror, written just now, may be named in a moment.
                         1.0 if st.mirror_percent and not written_mirror else None, recheck)
             if t is not None]
    return min(waits) if waits else None


async def _measure(state: State, checks: list[MetricCheck], address: str,
                   spec: UpdatePolicySpec, ns: str, version: str, status: UpdatePolicyStatus,
                   versions: dict[str, VersionInfo], now: datetime) -> list[dict[str, Any]]:
    return await measure(
        await state.http(), checks, address, model=spec.model, namespace=ns, canary=version,
        stable=status.stable_version or "", now=now, timeout=state.settings.prometheus_timeout,
        runtime=versions[version].runtime if version in versions else "custom")


async def _make_retrained(state: State, up: dict[str, Any], spec: UpdatePolicySpec,
                          st: UpdatePolicyStatus, versions: dict[str, VersionInfo]) -> None:
    """Create the version a running retraining names, after its run is in status."""
    run = retrain.running(st.retraining)
    if run is None or run.version in versions or spec.retraining is None:
        return
    ns = up["metadata"]["namespace"]
    template = (retrain.inline_template(spec) if spec.retraining.template_spec else
                await state.kube.get(MODELVERSIONS, ns, spec.retraining.template or ""))
    if template is not None:  # else the next round ends the run: the template is gone
        await state.kube.create(retrain.manifest(template, run, up))


def details(st: UpdatePolicyStatus) -> dict[str, dict[str, float]]:
    """The metric values a notification carries, by event reason."""
    out = {}
    last = st.history[0] if st.history else None
    if last and last.reason == "AnalysisFailed" and st.analysis and st.analysis.metrics:
        out["RolledBack"] = {m.name: m.value for m in st.analysis.metrics if m.value is not None}
    ms = st.monitoring
    if ms and ms.measurements:
        out["Regression"] = {m.name: m.value for m in ms.measurements[0].metrics
                             if m.value is not None}
    return out


def monitoring_condition(conds: list[dict[str, Any]], spec: UpdatePolicySpec,
                         st: UpdatePolicyStatus, gen: int | None,
                         now: datetime) -> list[dict[str, Any]]:
    """`Monitoring`: whether the serving version meets its bounds (absent without
    spec.monitoring)."""
    if spec.monitoring is None or st.monitoring is None:
        return [c for c in conds if c.get("type") != "Monitoring"]
    ms = st.monitoring
    phase = ms.phase or MonitoringPhase.WAITING
    ok = phase not in (MonitoringPhase.FAILING, MonitoringPhase.REGRESSED)
    last = ms.measurements[0] if ms.measurements else None
    last = last if last is not None and last.version == ms.version else None
    if phase == MonitoringPhase.REGRESSED and ms.last_regression:
        r = ms.last_regression
        message = f"{r.version} regressed: {r.message}" + (f"; rolled back to {r.to}"
                                                            if r.to else "")
    elif last is not None:
        message = f"{last.version}: {values(last.metrics)}"
    else:
        message = f"watching {ms.version}; first measurement after {spec.monitoring.interval}"
    return set_condition(conds, "Monitoring", ok, phase, message, gen, now)


async def _refuse(state: State, up: dict[str, Any], old: dict[str, Any],
                  conds: list[dict[str, Any]], why: list[str], gen: int | None,
                  now: datetime) -> None:
    """A spec this operator cannot act on: Valid=False and a Warning event, once per change;
    nothing else moves until the spec does (retrying cannot fix it)."""
    new = {**old, "observedGeneration": gen, "conditions": set_condition(
        conds, "Valid", False, "InvalidSpec", "; ".join(why), gen, now)}
    if new != old:
        kopf.event(kopf.Body(cast(kopf.RawBody, up)), type="Warning", reason="InvalidSpec",
                   message="; ".join(why))
    await _write(state, up, new)


def _pods(deployments: Any, ns: str, name: str) -> int:
    """A Deployment's pods that are not terminating, ready or not (its status.replicas)."""
    for dep in deployments.get((ns, name), []):
        return int((dep.get("status") or {}).get("replicas") or 0)
    return 0


def _ready(deployments: Any, ns: str, name: str) -> int:
    for dep in deployments.get((ns, name), []):
        return int((dep.get("status") or {}).get("readyReplicas") or 0)
    return 0


def _runtime(versions: dict[str, VersionInfo], stable: str | None, target: str | None) -> str:
    """The serving runtime the scaler's templates follow: the stable version's, else the
    target's (before the first promotion)."""
    v = versions.get(stable or "") or versions.get(target or "")
    return v.runtime if v else "custom"


def _backend(versions: dict[str, VersionInfo], version: str | None) -> Backend | None:
    v = versions.get(version or "")
    return Backend(v.version, v.service, v.port) if v else None


def _split(versions: dict[str, VersionInfo], ready: dict[str, int],
           route: dict[str, Any] | None, status: UpdatePolicyStatus,
           ready_shadow: int = 0, sticky: dict[str, Any] | None = None,
           at: datetime | None = None) -> Split:
    stable, canary = status.stable_version, status.canary_version
    return Split(_backend(versions, stable), _backend(versions, canary),
                 ready.get(stable or "", 0), ready.get(canary or "", 0), route, ready_shadow,
                 sticky, at)


def _route(state: State, provider: Provider, ns: str,
           spec: UpdatePolicySpec) -> dict[str, Any] | None:
    """The provider's route as last seen: our last write, or the watch's (None: none)."""
    name = provider.route_name(spec)
    if provider.route_resource is None or name is None:
        return None
    key = (provider.route_resource.kind, ns, name)
    return state.cache.child("routes", *key)


def _sticky(state: State, provider: Provider, ns: str,
            spec: UpdatePolicySpec) -> dict[str, Any] | None:
    """What the provider keeps beside its route for stickiness, as last seen."""
    key = provider.sticky_key(spec)
    return state.cache.child("routes", key[0], ns, key[1]) if key else None


async def _apply_traffic(state: State, up: dict[str, Any], spec: UpdatePolicySpec,
                         provider: Provider, split: Split, want: Want, shared: bool) -> None:
    svc = stamp(stable_service(up, spec, provider, split.stable.version if split.stable
                               else None, shared))
    have = state.cache.child("mo_services", "Service", svc["metadata"]["namespace"],
                             svc["metadata"]["name"])
    if needs_apply(svc, have):
        await state.kube.apply(svc)
    for written in await provider.set_route(state.kube, up, spec, split, want):
        state.cache.answered(written)


async def _write(state: State, up: dict[str, Any], new: dict[str, Any]) -> None:
    old = up.get("status") or {}
    if new == old:
        return
    meta = up["metadata"]
    await state.kube.patch(UPDATEPOLICIES, meta["namespace"], meta["name"],
                           {"status": patch_for(old, new)}, sub="status")
    state.cache.wrote(up, new)

