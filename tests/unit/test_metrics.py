"""Metrics, read back through a registry as Prometheus would."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from modelops.metrics import REGISTRY, StateCollector, reconciling


def objects() -> tuple[list[dict], list[dict]]:
    mvs = [{"status": {"phase": "Ready"}}, {"status": {"phase": "Ready"}},
           {"status": {"phase": "Training"}}, {"metadata": {}}]
    ups = [{"metadata": {"namespace": "ns"}, "spec": {"model": "m"},
            "status": {"phase": "Progressing", "canaryWeight": 25, "actualCanaryWeight": 20}}]
    return mvs, ups


def test_state_gauges_are_computed_at_scrape_time() -> None:
    reg = CollectorRegistry()
    reg.register(StateCollector(objects))
    assert reg.get_sample_value("modelops_modelversions", {"phase": "Ready"}) == 2
    assert reg.get_sample_value("modelops_modelversions", {"phase": "Training"}) == 1
    assert reg.get_sample_value("modelops_modelversions", {"phase": "Unknown"}) == 1
    assert reg.get_sample_value("modelops_modelversions", {"phase": "Failed"}) == 0
    labels = {"namespace": "ns", "model": "m"}
    assert reg.get_sample_value("modelops_updatepolicy_phase",
                                {**labels, "phase": "Progressing"}) == 1
    assert reg.get_sample_value("modelops_canary_weight", labels) == 25
    assert reg.get_sample_value("modelops_canary_weight_actual", labels) == 20


def test_reconcile_errors_and_durations_are_counted() -> None:
    before = REGISTRY.get_sample_value("modelops_reconcile_errors_total", {"kind": "Test"}) or 0
    with reconciling("Test"):
        pass
    with pytest.raises(RuntimeError), reconciling("Test"):
        raise RuntimeError("boom")
    assert REGISTRY.get_sample_value("modelops_reconcile_errors_total", {"kind": "Test"}) == \
        before + 1
    assert REGISTRY.get_sample_value("modelops_reconcile_duration_seconds_count",
                                     {"kind": "Test"}) == 2
