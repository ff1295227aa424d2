"""Ready-made analysis queries: one per runtime preset and metric, filled in like a query."""

from __future__ import annotations

from typing import get_args

import pytest

from modelops.analysis.judge import render
from modelops.analysis.measure import promql
from modelops.analysis.templates import NAMES, TEMPLATES, WITHOUT_ERRORS, template_query
from modelops.api.analysis import MetricCheck, Template
from modelops.api.modelversion import Runtime


def test_every_runtime_preset_has_an_error_rate_and_a_latency() -> None:
    assert set(TEMPLATES) == set(get_args(Runtime))
    for runtime, queries in TEMPLATES.items():
        assert ("error-rate" in queries) == (runtime not in WITHOUT_ERRORS), runtime
        assert {"latency-p99", "latency-mean", "tpot-mean"} & set(queries), runtime
    assert set(NAMES) == set(get_args(Template))


@pytest.mark.parametrize(("runtime", "template", "metric"), [
    pytest.param("custom", "error-rate", "http_requests_total", id="example-server-errors"),
    pytest.param("custom", "latency-p99", "request_predict_seconds_bucket", id="kserve-p99"),
    pytest.param("vllm", "error-rate", 'status="5xx"', id="vllm-errors"),
    pytest.param("vllm", "latency-p99", "vllm:e2e_request_latency_seconds_bucket",
                 id="vllm-p99"),
    pytest.param("vllm", "ttft-p99", "vllm:time_to_first_token_seconds_bucket", id="vllm-ttft"),
    pytest.param("vllm", "tpot-p99", "vllm:inter_token_latency_seconds_bucket", id="vllm-tpot"),
    pytest.param("vllm", "kv-cache-usage", "vllm:kv_cache_usage_perc", id="vllm-kv-cache"),
    pytest.param("llamacpp", "tokens-per-second", "llamacpp:tokens_predicted_seconds_total",
                 id="llamacpp-speed"),
    pytest.param("llamacpp", "queue-length", "llamacpp:requests_deferred", id="llamacpp-queue"),
    pytest.param("triton", "error-rate", "nv_inference_request_failure", id="triton-errors"),
    pytest.param("triton", "latency-mean", "nv_inference_request_duration_us", id="triton-mean"),
    pytest.param("torchserve", "error-rate", "Requests5XX", id="torchserve-errors"),
    pytest.param("torchserve", "latency-mean", "ts_inference_latency_microseconds",
                 id="torchserve-mean"),
])
def test_templates_name_each_runtimes_documented_metric(runtime: str, template: str,
                                                        metric: str) -> None:
    q = template_query(runtime, template, "2m")
    assert q is not None and metric in q and "[2m]" in q and "{{window}}" not in q
    filled = render(q, model="m", namespace="ns", canary="2", stable="1")
    assert 'namespace="ns",model="m",version="2"' in filled and "{{" not in filled


def test_a_runtime_without_the_metric_has_no_template() -> None:
    assert template_query("triton", "latency-p99", "1m") is None
    assert template_query("unknown", "error-rate", "1m") is None


def test_a_check_uses_its_query_or_its_template() -> None:
    own = MetricCheck.model_validate({"name": "e", "query": "up", "max": 1})
    assert promql(own, "vllm") == "up"
    tmpl = MetricCheck.model_validate({"name": "e", "template": "error-rate", "max": 0.01,
                                       "window": "30s"})
    assert "[30s]" in (promql(tmpl, "vllm") or "") and "vllm" not in (promql(tmpl, "custom")
                                                                       or "vllm")
