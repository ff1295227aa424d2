"""The operator's Prometheus metrics.

Event counters and histograms are updated where things happen; state gauges (phases, weights,
versions per phase) are computed at scrape time from the operator's caches by a Collector, so
they are never stale and cost nothing between scrapes. Labels are bounded: kinds, phases,
outcomes, and the namespace/model of objects that exist.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from .api.phases import VersionPhase

REGISTRY = CollectorRegistry(auto_describe=True)

RECONCILE_SECONDS = Histogram(
    "modelops_reconcile_duration_seconds", "Time one reconcile took.", ["kind"],
    registry=REGISTRY, buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
RECONCILE_ERRORS = Counter(
    "modelops_reconcile_errors_total", "Reconciles that raised an error.", ["kind"],
    registry=REGISTRY)
ROLLOUTS = Counter(
    "modelops_rollouts_total", "Rollouts by what happened: started, or how they ended.",
    ["event"], registry=REGISTRY)
MEASUREMENTS = Counter(
    "modelops_analysis_measurements_total", "Analysis measurements by result.", ["result"],
    registry=REGISTRY)
MONITORING = Counter(
    "modelops_monitoring_measurements_total", "Measurements of serving versions "
    "(spec.monitoring) by result.", ["result"], registry=REGISTRY)
NOTIFICATIONS = Counter(
    "modelops_notifications_total", "Webhook deliveries by result (sent, failed: retried "
    "with back-off, dropped: given up).", ["result"], registry=REGISTRY)
QUEUE_DEPTH = Gauge(
    "modelops_workqueue_depth", "ModelVersions waiting to be reconciled.", registry=REGISTRY)
TRAINING_ATTEMPTS = Counter(
    "modelops_training_attempts_total", "Ended training step attempts by result.", ["result"],
    registry=REGISTRY)
TRAINING_SECONDS = Histogram(
    "modelops_training_duration_seconds", "Wall time of a whole training run, start to end.",
    registry=REGISTRY, buckets=(60, 300, 900, 1800, 3600, 7200, 14400, 43200, 86400, 259200))

# Rollout events worth counting, by the reason the state machine gives them.
ROLLOUT_EVENTS = {"RolloutStarted": "started", "Promoted": "promoted",
                  "RolledBack": "rolled_back", "Aborted": "aborted",
                  "Regression": "regression"}  # the serving version failed monitoring


@contextmanager
def reconciling(kind: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    except Exception:
        RECONCILE_ERRORS.labels(kind).inc()
        raise
    finally:
        RECONCILE_SECONDS.labels(kind).observe(time.perf_counter() - start)


def evaluation_gauges(mvs: list[dict[str, Any]]) -> Iterator[GaugeMetricFamily]:
    """Each version's latest evaluation: its newest finished scheduled run, else the one
    before serving; plotted over time, the trend of a model in production."""
    value = GaugeMetricFamily("modelops_evaluation_metric", "A version's latest evaluation "
                              "metrics (scheduled runs while it serves).",
                              labels=["namespace", "model", "version", "metric"])
    passed = GaugeMetricFamily("modelops_evaluation_passed", "1 when a version's latest "
                               "evaluation met every gate, else 0.",
                               labels=["namespace", "model", "version"])
    runs = GaugeMetricFamily("modelops_evaluation_run", "The number of a version's latest "
                             "finished scheduled evaluation (0: the one before serving).",
                             labels=["namespace", "model", "version"])
    for mv in mvs:
        ev = (mv.get("status") or {}).get("evaluation") or {}
        last = next((r for r in ev.get("runs") or [] if r.get("endTime")), ev)
        if not last.get("metrics") and last.get("passed") is None:
            continue
        spec = mv.get("spec") or {}
        key = [mv["metadata"].get("namespace") or "", str(spec.get("model") or ""),
               str(spec.get("version") or "")]
        for name, v in sorted((last.get("metrics") or {}).items()):
            value.add_metric([*key, name], float(v))
        if last.get("passed") is not None:
            passed.add_metric(key, 1.0 if last["passed"] else 0.0)
        runs.add_metric(key, float(last.get("run") or 0))
    yield value
    yield passed
    yield runs


class StateCollector(Collector):
    """Gauges from the current objects; `source` returns (modelversions, updatepolicies)."""

    def __init__(self, source: Callable[[], tuple[list[dict[str, Any]], list[dict[str, Any]]]]
                 ) -> None:
        self.source = source

    def collect(self) -> Iterator[GaugeMetricFamily]:
        mvs, ups = self.source()
        versions = GaugeMetricFamily("modelops_modelversions", "ModelVersions by phase.",
                                     labels=["phase"])
        by_phase = Tally((mv.get("status") or {}).get("phase") or "Unknown" for mv in mvs)
        for name in (*VersionPhase, "Unknown"):
            versions.add_metric([name], by_phase.get(name, 0))
        yield versions
        yield from evaluation_gauges(mvs)
        phase = GaugeMetricFamily("modelops_updatepolicy_phase",
                                  "1 for the current phase of each UpdatePolicy.",
                                  labels=["namespace", "model", "phase"])
        weight = GaugeMetricFamily("modelops_canary_weight",
                                   "Canary weight set by the current step (percent).",
                                   labels=["namespace", "model"])
        actual = GaugeMetricFamily("modelops_canary_weight_actual",
                                   "Canary weight actually achieved (percent).",
                                   labels=["namespace", "model"])
        watched = GaugeMetricFamily("modelops_monitoring_phase",
                                    "1 for the monitoring phase of each policy's serving "
                                    "version (spec.monitoring).",
                                    labels=["namespace", "model", "version", "phase"])
        for up in ups:
            st = up.get("status") or {}
            key = [up["metadata"].get("namespace") or "", (up.get("spec") or {}).get("model")
                   or ""]
            phase.add_metric([*key, st.get("phase") or "Unknown"], 1)
            weight.add_metric(key, float(st.get("canaryWeight") or 0))
            actual.add_metric(key, float(st.get("actualCanaryWeight") or 0))
            ms = st.get("monitoring") or {}
            if ms.get("version"):
                watched.add_metric([*key, ms["version"], ms.get("phase") or "Waiting"], 1)
        yield phase
        yield weight
        yield actual
        yield watched


def serve(port: int, source: Callable[[], tuple[list[dict[str, Any]], list[dict[str, Any]]]]
          ) -> None:
    REGISTRY.register(StateCollector(source))
    start_http_server(port, registry=REGISTRY)
