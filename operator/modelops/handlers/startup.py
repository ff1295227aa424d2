"""Operator start-up and shutdown: kopf settings, our settings, the API client."""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any, cast

import kopf

from .. import metrics
from ..cache import Cache
from ..kube import Kube
from ..notify.sender import Sender
from ..rollout.loop import policy_key
from ..settings import Settings
from ..state import State
from ..versions.reconcile import reconcile_key
from ..workqueue import WorkQueue
from .indexes import rules
from .sync import open_gate_when_listed


class NoDiffBase(kopf.DiffBaseStorage):
    """No diffs: modelops has no create/update handlers (it reconciles every event), and
    kopf's diff of each event starts with a deep copy of the object: 5% of the CPU."""

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> kopf.BodyEssence:
        return cast(kopf.BodyEssence, {})

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return None

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        return None


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    # Our own names for what kopf stores on objects, so nothing says "kopf.zalando.org".
    settings.persistence.finalizer = "modelops.io/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="modelops.io")
    settings.persistence.diffbase_storage = NoDiffBase()
    # Watches that end on their own survive silent network drops and API server restarts.
    settings.watching.server_timeout = 270
    settings.watching.client_timeout = 300
    settings.watching.connect_timeout = 30
    # Start-up with 5000 versions converged peaked at 503 MiB. kopf lists each kind in one
    # response unless told otherwise (three lists of 5000 whole objects parsed at once), and
    # each object's worker keeps its last event (the whole body) while it idles, 5 s by
    # default, so a listing holds nearly every body at once. 500 per page and 1 s: 228 MiB.
    settings.watching.chunk_size = 500
    settings.queueing.idle_timeout = 1.0
    # Handler successes are not news for users; our own events tell the story.
    settings.posting.level = logging.WARNING
    settings.posting.reporting_component = "modelops"
    settings.networking.request_timeout = 60
    ours = Settings.from_env()
    memo.state = state = State(settings=ours, kube=Kube(), cache=Cache(rules(ours.gpu_resource)))
    state.sender = Sender(state.kube, ours, state.wake)
    # One runtime for both kinds: a work queue each, workers from the first key on, nothing
    # taken before the cache holds everything that existed at start-up.
    state.queue = queue = WorkQueue(functools.partial(reconcile_key, state),
                                    state.settings.reconcile_workers, gate=state.synced)
    state.policies = WorkQueue(functools.partial(policy_key, state),
                               state.settings.policy_workers, gate=state.synced)
    state.tasks.append(asyncio.create_task(open_gate_when_listed(state)))
    metrics.QUEUE_DEPTH.set_function(lambda: len(queue))
    # HA (--peering): a killed leader is replaced once its record expires; kopf's 60 s is long
    # for traffic that is mid-rollout. Keep-alives are routine, not log lines.
    settings.peering.lifetime = state.settings.peering_lifetime
    settings.peering.stealth = True
    # Events are posted by at most 64 workers, not one per object: a burst queues instead of
    # opening a TLS connection (and its 256 KiB buffer) per event.
    settings.posting.worker_limit = 64
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        # "Handler succeeded" per event costs CPU at scale and tells an operator nothing;
        # kopf's warnings and errors on objects still show. --verbose brings them back.
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    if state.settings.metrics_port:
        try:
            metrics.serve(state.settings.metrics_port, state.cache.objects)
        except OSError as e:  # reconciling matters more than metrics: say so and go on
            logging.getLogger(__name__).error("metrics port %s: %s; no /metrics",
                                              state.settings.metrics_port, e)


@kopf.on.cleanup()
async def close(memo: kopf.Memo, **_: Any) -> None:
    state: State | None = getattr(memo, "state", None)
    if state is not None:
        await state.close()
