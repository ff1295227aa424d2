"""What each watch event sets in motion, after the cache has filed it: which ModelVersions
are queued for a reconcile and which policies' loops are woken. The kopf handlers only call
these (handlers/), so what an event does is read here, in one place.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from .api.phases import VersionPhase
from .indexes import values
from .serving.names import MODEL, child_name
from .state import State
from .versions.reconcile import enqueue

logger = logging.getLogger(__name__)


def version_event(state: State, type: str | None, body: Mapping[str, Any]) -> None:
    meta, spec = body["metadata"], body.get("spec") or {}
    ns, model = meta.get("namespace") or "", spec.get("model")
    filed = state.cache.file(type, body)
    idx = state.cache.indexes
    # Its policy cares about its phase, and about it going away.
    _wake_policies(state, ns, model)
    if type == "DELETED":
        if state.queue is not None:
            state.queue.forget((ns, meta["name"]))
        # A duplicate of this version may now take its place.
        for _, other in values(idx.mv_versions, (ns, model, spec.get("version"))):
            enqueue(state, ns, other)
    elif filed.news:
        enqueue(state, ns, meta["name"])


def policy_event(state: State, type: str | None, body: Mapping[str, Any]) -> None:
    """A policy changed: its loop looks again (unless this is only its own status coming
    back), and its versions when what they read of it changed (stable, canary, weight...)."""
    meta, spec = body["metadata"], body.get("spec") or {}
    ns, model = meta.get("namespace") or "", spec.get("model")
    idx = state.cache.indexes
    before = values(idx.up_by_model, (ns, model))
    filed = state.cache.file(type, body)
    if filed.news:
        state.wake(ns, meta["name"])
    if type == "DELETED" or before != values(idx.up_by_model, (ns, model)):
        for mv in values(idx.mv_by_model, (ns, model)):
            enqueue(state, ns, mv["metadata"]["name"])


def child_event(state: State, type: str | None, body: Mapping[str, Any]) -> None:
    """A child changed or vanished: bring its owner's world back to the plan. A Deployment's
    status changes several times on its way to ready; most of those changes (conditions,
    timestamps) are nothing a plan or a policy reads, and are no news."""
    meta = body["metadata"]
    ns = meta.get("namespace") or ""
    if not state.cache.file(type, body).news:
        return
    for ref in meta.get("ownerReferences") or []:
        if ref.get("kind") == "ModelVersion":
            enqueue(state, ns, ref["name"])
        elif ref.get("kind") == "UpdatePolicy":
            state.wake(ns, ref["name"])
    # Ready replicas move canary weights: the model's policy looks again; and the replicas of
    # the versions it steers follow the others' readiness (a stable gives up pods only for
    # ready canary pods: rollout.replicas).
    model = (meta.get("labels") or {}).get(MODEL)
    _wake_policies(state, ns, model)
    if body.get("kind") == "Deployment":
        _enqueue_steered(state, ns, model, exclude=meta["name"])


def workload_event(state: State, type: str | None, body: Mapping[str, Any]) -> None:
    """Kueue's Workload for one of our Jobs changed (queued, admitted, preempted): the Job's
    version looks again."""
    if not state.cache.file(type, body).news:
        return
    meta = body["metadata"]
    ns = meta.get("namespace") or ""
    for ref in meta.get("ownerReferences") or []:
        if ref.get("kind") == "Job":
            for owner in values(state.cache.indexes.mo_job_owner, (ns, ref.get("name"))):
                enqueue(state, ns, owner)


def route_event(state: State, type: str | None, body: Mapping[str, Any]) -> None:
    """A route a provider steers changed (by us, or by hand), or an object a provider owns
    beside it (Traefik's TraefikServices): its policies look again."""
    meta = body["metadata"]
    ns = meta.get("namespace") or ""
    before = state.cache.route(str(body.get("kind") or ""), ns, meta["name"])
    if not state.cache.file(type, body).news:
        return
    # Its gateway's word on it (status) is news too, but only a spec we did not write is said.
    edited = before is None or json.dumps(before.get("spec"), sort_keys=True) != json.dumps(
        body.get("spec") or {}, sort_keys=True)
    for policy in values(state.cache.indexes.up_by_route, (body.get("kind"), ns, meta["name"])):
        if edited:  # someone else's edit of a route we steer: a fight over it shows in the log
            logger.info("%s/%s: %s %s changed outside the operator; its policy %s looks again",
                        ns, policy, body.get("kind"), meta["name"], policy)
        state.wake(ns, policy)
    for ref in meta.get("ownerReferences") or []:  # what a provider writes beside a route
        if ref.get("kind") == "UpdatePolicy":
            state.wake(ns, ref["name"])


def node_event(state: State, type: str | None, body: Mapping[str, Any]) -> None:
    """Versions refused for want of a fitting node look again when what nodes offer changes.
    Nodes report their status often; only a change of what scheduling needs (GPUs, labels,
    taints) is news, so a heartbeat costs a comparison and nothing else."""
    if not state.cache.file(type, body).news:
        return
    for mv in state.cache.objects()[0]:
        if (mv.get("status") or {}).get("phase") == VersionPhase.FAILED:
            enqueue(state, mv["metadata"]["namespace"], mv["metadata"]["name"])


def _enqueue_steered(state: State, ns: str, model: str | None, exclude: str) -> None:
    idx = state.cache.indexes
    for policy in values(idx.up_by_model, (ns, model)):
        steered = {policy.get("stable"), policy.get("canary"), policy.get("incoming"),
                   (policy.get("outgoing") or {}).get("version")} - {None}
        for version in steered:
            for _, name in values(idx.mv_versions, (ns, model, version)):
                if child_name(model or "", version) != exclude:
                    enqueue(state, ns, name)


def _wake_policies(state: State, ns: str, model: str | None) -> None:
    for policy in values(state.cache.indexes.up_by_model, (ns, model)):
        state.wake(ns, policy["name"])
