"""One reconcile of an UpdatePolicy: gather, measure when due, decide, apply, write status."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from .. import metrics
from ..analysis.judge import overall
from ..analysis.measure import measure
from ..api.analysis import MetricCheck
from ..api.conditions import REJECTED, refused_as_is, set_condition
from ..api.phases import PolicyPhase
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
from ..kube import ApiError, patch_for
from ..notify import outbox
from ..resources import MODELVERSIONS, UPDATEPOLICIES
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
from ..traffic.registry import provider_for, route_key
from . import monitor, retrain
from .checks import details, missing_templates, monitoring_condition, problems
from .replicas import in_traffic
from .routing import keeps_shadow
from .state import Observed, decide
from .target import VersionInfo, latest_claims
from .verdict import measurement_due

logger = logging.getLogger(__name__)
ACTION_ANNOTATION = "modelops.io/action"


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
        await state.kube.event(up, "Warning", "UnknownAction",
                               f"{ACTION_ANNOTATION}={action!r} is not one of "
                               f"{', '.join(ACTIONS)} or {ROLLBACK_ACTION}VERSION")
    await state.kube.patch(UPDATEPOLICIES, ns, name,
                           {"metadata": {"annotations": {ACTION_ANNOTATION: None}}})
    return {**up, "status": status}


async def reconcile_policy(state: State, up: dict[str, Any]) -> float | None:
    """Returns seconds until the policy wants to be looked at again (None: on events only)."""
    if refused_as_is(state.cache.status(up), up["metadata"]):
        return None  # sending the same again cannot succeed: a new spec wakes it
    with metrics.reconciling("UpdatePolicy"):
        try:
            return await _reconcile_policy(state, up, state.cache.indexes)
        except ApiError as e:
            if not e.permanent:
                raise  # the queue retries what may pass next time, with back-off
            old = state.cache.status(up)
            await _refuse(state, {**up, "status": old}, old, list(old.get("conditions") or []),
                          [f"the API server refused what this policy makes: {e.reason}"],
                          up["metadata"].get("generation"), datetime.now(UTC), REJECTED)
            return None


@dataclass
class _Round:
    """What one round of a policy has gathered before it decides."""

    state: State
    up: dict[str, Any]
    spec: UpdatePolicySpec
    provider: Provider
    versions: dict[str, VersionInfo]
    ready: dict[str, int]  # ready serving pods by version
    sticky: dict[str, Any] | None
    runtime: str  # the runtime the scaler's templates follow
    now: datetime

    @property
    def ns(self) -> str:
        return str(self.up["metadata"]["namespace"])

    @property
    def name(self) -> str:
        return str(self.up["metadata"]["name"])

    def split(self, status: UpdatePolicyStatus, ready_shadow: int = 0) -> Split:
        """The traffic split as the provider's route (as last seen) and the pods have it."""
        return _split(self.versions, self.ready, _route(self.state, self.provider, self.ns,
                                                         self.spec),
                      status, ready_shadow, self.sticky, self.now)


async def _reconcile_policy(state: State, up: dict[str, Any], idx: Indexes) -> float | None:
    up = {**up, "status": state.cache.status(up)}
    r = await _gather(state, up, idx, datetime.now(UTC))
    if r is None:
        return None  # refused: a change of the spec wakes it
    r.up = await take_action(state, r.up)
    status = UpdatePolicyStatus.model_validate(r.up.get("status") or {})
    obs = await _observe(r, status, idx)
    subs = r.spec.notifications or []
    box, told = outbox.fold(status.notifications,
                            state.sender.take(r.ns, r.name) if state.sender else [], subs, r.now)
    d = decide(r.spec, status, obs, r.now)
    st = d.typed
    box, dropped = outbox.enqueue(box, subs, d.events, r.now, details(st))
    st.notifications = box if box.pending or box.next_id else None
    recheck, mirror_named = await _steer(r, st, obs)
    scaler, no_scaler = await sync_scaler(state, r.up, r.spec, r.runtime,
                                          (r.up.get("status") or {}).get("scaler"))
    written = _status(r, d.status, st, scaler, no_scaler, idx)
    await _write(state, r.up, written)
    await _make_retrained(state, r.up, r.spec, st, r.versions)
    await _tell(r, d.events + told + dropped)
    gone = (box.dropped or 0) - ((status.notifications.dropped if status.notifications
                                  else None) or 0)
    if gone:
        metrics.NOTIFICATIONS.labels("dropped").inc(gone)
    if state.sender and box.pending:
        state.sender.send({**r.up, "status": written}, outbox.heads(box, r.now))
    # KEDA may be installed later: look again now and then.
    missing = state.settings.missing_kind_recheck if no_scaler else None
    waits = [t for t in (d.requeue_after, outbox.next_due(box, r.now), missing,
                         # Traefik's mirror, written just now, may be named in a moment.
                         1.0 if st.mirror_percent and not mirror_named else None, recheck)
             if t is not None]
    return min(waits) if waits else None


async def _gather(state: State, up: dict[str, Any], idx: Indexes,
                  now: datetime) -> _Round | None:
    """The spec, its versions and route as the cache has them; None (after saying why on
    the policy) when the operator cannot act on the spec."""
    meta = up["metadata"]
    ns, gen = meta["namespace"], meta.get("generation")
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
    r = _Round(state, up, spec, provider, versions,
               {v.version: _ready(idx.mo_deployments, ns, v.service) for v in versions.values()},
               _sticky(state, provider, ns, spec),
               _runtime(versions, old.get("stableVersion"), spec.target_version), now)
    bad = problems(spec, meta["name"], idx.up_by_model.get((ns, spec.model), []),
                   state.settings)
    bad += missing_templates(spec, versions)
    bad += scaler_problems(spec, r.runtime)
    wrong = provider.problem(up, spec, r.split(UpdatePolicyStatus.model_validate(old)))
    bad += [wrong] if wrong else []
    if bad:
        await _refuse(state, up, old, conds, bad, gen, now)
        return None
    return r


async def _observe(r: _Round, status: UpdatePolicyStatus, idx: Indexes) -> Observed:
    """What decide() reads besides spec and status, measuring what is due."""
    spec, ns = r.spec, r.ns
    comparer = shadow.backend(r.name, status.canary_version)
    route = _route(r.state, r.provider, ns, spec)
    obs = Observed(r.versions, r.ready, route, shadow=comparer, sticky=r.sticky,
                   shadow_ready=_ready(idx.mo_deployments, ns, comparer.service),
                   shadow_exists=r.state.cache.deployment(ns,
                                                     comparer.service) is not None,
                   mirror_written=mirror_written(r.state, r.up, spec, r.now))
    if measurement_due(spec, status, r.now) and spec.analysis and status.canary_version:
        obs.measurement = await _measure(r.state, spec.analysis.metrics,
                                         spec.analysis.prometheus.address, spec, ns,
                                         status.canary_version, status, r.versions, r.now)
        for m in obs.measurement:
            metrics.MEASUREMENTS.labels(m["phase"]).inc()
    mon = spec.monitoring
    if mon is not None and monitor.due(spec, status, r.now) and status.stable_version:
        address = (mon.prometheus or spec.analysis.prometheus).address  # type: ignore[union-attr]
        obs.monitoring = await _measure(r.state, mon.metrics, address, spec, ns,
                                        status.stable_version, status, r.versions, r.now)
        metrics.MONITORING.labels(overall([m["phase"] for m in obs.monitoring])).inc()
    return obs


async def _steer(r: _Round, st: UpdatePolicyStatus, obs: Observed) -> tuple[float | None, bool]:
    """Carry out the decision's traffic: the comparer, the stable Service, the route.
    Returns (when the provider wants another look, whether the mirror is named yet)."""
    shared = bool(st.canary_version or (st.outgoing and st.outgoing.serving))
    canary = r.versions.get(st.canary_version or "")
    await sync_shadow(  # before a route mirrors to it
        r.state, r.up, r.spec, keeps_shadow(st, obs.shadow_exists, r.now),
        st.mirror_percent or 0, _backend(r.versions, st.stable_version),
        _backend(r.versions, st.canary_version), canary.runtime if canary else "custom",
        obs.shadow_ready, r.now)
    mirror_named = mirror_written(r.state, r.up, r.spec, r.now)
    await _apply_traffic(r.state, r.up, r.spec, r.provider, r.split(st, obs.shadow_ready),
                         want_for(r.spec, st, shadow.backend(r.name, st.canary_version),
                                  mirror_named), shared)
    # The route as just written (the cache has our answer), and the sticky service likewise.
    r.sticky = _sticky(r.state, r.provider, r.ns, r.spec)
    return r.provider.recheck_in(r.split(st, obs.shadow_ready)), mirror_named


def _status(r: _Round, decided: dict[str, Any], st: UpdatePolicyStatus,
            scaler: str | None, no_scaler: str | None, idx: Indexes) -> dict[str, Any]:
    """The status to write: the decision's, with the conditions and the scale subresource."""
    gen, now = r.up["metadata"].get("generation"), r.now
    conds = list((r.up.get("status") or {}).get("conditions") or [])
    phase, message = st.phase or PolicyPhase.IDLE, st.message or ""
    stable = r.versions.get(st.stable_version or "")
    healthy = phase != PolicyPhase.DEGRADED and (not st.stable_version or (
        stable is not None and stable.ready))
    conds = set_condition(conds, "Valid", True, "Validated", "the spec is valid", gen, now)
    conds = set_condition(conds, "Progressing", bool(st.canary_version or st.incoming), phase,
                          message, gen, now)
    conds = set_condition(conds, "Healthy", healthy, "StableServing" if healthy else phase,
                          message, gen, now)
    conds = monitoring_condition(conds, r.spec, st, gen, now)
    conds = autoscaling_condition(conds, r.spec, scaler, no_scaler, gen, now)
    return {**{k: v for k, v in decided.items() if k != "scaler"},
            **({"scaler": scaler} if scaler else {}), "conditions": conds,
            "observedGeneration": gen,
            "replicas": sum(_pods(idx.mo_deployments, r.ns, r.versions[v].service)
                            for v in in_traffic(st) if v in r.versions),
            "selector": serving_label_selector(r.spec.model)}


async def _tell(r: _Round, events: list[tuple[str, str, str]]) -> None:
    for type_, reason, message in events:
        await r.state.kube.event(r.up, type_, reason, message)
        if reason in metrics.ROLLOUT_EVENTS:
            metrics.ROLLOUTS.labels(metrics.ROLLOUT_EVENTS[reason]).inc()


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


async def _refuse(state: State, up: dict[str, Any], old: dict[str, Any],
                  conds: list[dict[str, Any]], why: list[str], gen: int | None,
                  now: datetime, reason: str = "InvalidSpec") -> None:
    """A spec this operator cannot act on: Valid=False and a Warning event, once per change;
    nothing else moves until the spec does (retrying cannot fix it)."""
    new = {**old, "observedGeneration": gen, "conditions": set_condition(
        conds, "Valid", False, reason, "; ".join(why), gen, now)}
    if new != old:
        await state.kube.event(up, "Warning", reason, "; ".join(why))
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
    key = route_key(provider, spec, ns)
    return state.cache.route(*key) if key else None


def _sticky(state: State, provider: Provider, ns: str,
            spec: UpdatePolicySpec) -> dict[str, Any] | None:
    """What the provider keeps beside its route for stickiness, as last seen."""
    key = provider.sticky_key(spec)
    return state.cache.route(key[0], ns, key[1]) if key else None


async def _apply_traffic(state: State, up: dict[str, Any], spec: UpdatePolicySpec,
                         provider: Provider, split: Split, want: Want, shared: bool) -> None:
    svc = stamp(stable_service(up, spec, provider, split.stable.version if split.stable
                               else None, shared))
    have = state.cache.service(svc["metadata"]["namespace"],
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

