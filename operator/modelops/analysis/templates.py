"""Ready-made analysis queries per runtime preset: a policy names `template: error-rate` or
`template: latency-p99` instead of writing PromQL. Pure.

The series are selected by the labels the operator's scrape set-up gives every serving pod
(`namespace`, `model`, `version`: the chart's PodMonitor, or the Prometheus configuration in
docs/metrics.md). Metric names are each runtime's documented ones, checked against its source
at the preset's version:
- custom: the modelops example server and KServe's Python ModelServer (kserve 0.21):
  `http_requests_total{code,handler}` is the example server's own (KServe has no status
  counter); `request_predict_seconds` is KServe's (kserve/metrics.py).
- vllm (v0.11.0): `http_requests_total{status="5xx"...}` from the OpenAI server's
  prometheus-fastapi-instrumentator (entrypoints/openai/api_server.py);
  `vllm:e2e_request_latency_seconds` histogram (v1/metrics/loggers.py).
  LLM figures from the same file: `vllm:time_to_first_token_seconds` and
  `vllm:inter_token_latency_seconds` histograms (time to first token, time per output
  token), `vllm:num_requests_waiting` (queue), `vllm:kv_cache_usage_perc`,
  `vllm:generation_tokens` counter.
- llamacpp (llama.cpp as vendored by llama-cpp-python 0.3.36): the `llamacpp:`-prefixed
  series of tools/server/server-task.cpp. `tokens_predicted_total` over
  `tokens_predicted_seconds_total` is the generation speed of a busy slot (tokens per second;
  its inverse the mean time per output token); `requests_deferred` is the queue. llama-server
  counts no errors and keeps no latency histogram, so it has no `error-rate` or `*-p99`
  template: judge errors from a gateway's or the client's metrics with a `query`.
- triton (25.01): `nv_inference_request_success` / `_failure` counters and the
  `nv_inference_request_duration_us` counter (docs/user_guide/metrics.md); no latency
  histogram, so its latency template is the mean, not p99.
- torchserve (0.12, metrics_mode=prometheus): `Requests2XX/4XX/5XX` (host-wide: they also count
  management and metrics calls) and `ts_inference_latency_microseconds` /
  `ts_inference_requests_total` counters (docs/metrics.md); mean latency likewise.
Every runtime also has the comparer's templates (shadow.server), for setMirror steps:
`agreement` (the share of compared mirrored requests the canary answered alike) and
`latency-difference` (the canary's mean answer time minus the stable's, seconds).
Where a 5xx series does not exist until the first error, `or vector(0)` makes "no errors"
read 0 rather than "no data".
"""

from __future__ import annotations

SEL = 'namespace="{{namespace}}",model="{{model}}",version="{{canaryVersion}}"'
W = "{{window}}"

# Each runtime's own series (as its source names them: tests/integration/test_runtime_sources).
OWN: dict[str, dict[str, str]] = {
    "custom": {
        "error-rate": (f'(sum(rate(http_requests_total{{{SEL},code=~"5.."}}[{W}])) or vector(0))'
                       f" / sum(rate(http_requests_total{{{SEL}}}[{W}]))"),
        "latency-p99": ("histogram_quantile(0.99, sum by (le) "
                        f"(rate(request_predict_seconds_bucket{{{SEL}}}[{W}])))"),
    },
    "vllm": {
        "error-rate": (f'(sum(rate(http_requests_total{{{SEL},handler=~"/v1/.*",status="5xx"}}'
                       f"[{W}])) or vector(0)) / sum(rate(http_requests_total"
                       f'{{{SEL},handler=~"/v1/.*"}}[{W}]))'),
        "latency-p99": ("histogram_quantile(0.99, sum by (le) "
                        f"(rate(vllm:e2e_request_latency_seconds_bucket{{{SEL}}}[{W}])))"),
        "ttft-p99": ("histogram_quantile(0.99, sum by (le) "
                     f"(rate(vllm:time_to_first_token_seconds_bucket{{{SEL}}}[{W}])))"),
        "tpot-p99": ("histogram_quantile(0.99, sum by (le) "
                     f"(rate(vllm:inter_token_latency_seconds_bucket{{{SEL}}}[{W}])))"),
        "queue-length": f"avg(avg_over_time(vllm:num_requests_waiting{{{SEL}}}[{W}]))",
        "kv-cache-usage": f"max(max_over_time(vllm:kv_cache_usage_perc{{{SEL}}}[{W}]))",
        "tokens-per-second": f"sum(rate(vllm:generation_tokens_total{{{SEL}}}[{W}]))",
    },
    "llamacpp": {
        "tokens-per-second": (f"sum(rate(llamacpp:tokens_predicted_total{{{SEL}}}[{W}])) / "
                              f"sum(rate(llamacpp:tokens_predicted_seconds_total{{{SEL}}}[{W}]))"),
        "tpot-mean": (f"sum(rate(llamacpp:tokens_predicted_seconds_total{{{SEL}}}[{W}])) / "
                      f"sum(rate(llamacpp:tokens_predicted_total{{{SEL}}}[{W}]))"),
        "queue-length": f"avg(avg_over_time(llamacpp:requests_deferred{{{SEL}}}[{W}]))",
    },
    "triton": {
        "error-rate": (f"sum(rate(nv_inference_request_failure{{{SEL}}}[{W}])) / "
                       f"(sum(rate(nv_inference_request_success{{{SEL}}}[{W}])) + "
                       f"sum(rate(nv_inference_request_failure{{{SEL}}}[{W}])))"),
        "latency-mean": (f"sum(rate(nv_inference_request_duration_us{{{SEL}}}[{W}])) / "
                         f"sum(rate(nv_inference_request_success{{{SEL}}}[{W}])) / 1e6"),
    },
    "torchserve": {
        "error-rate": (f"(sum(rate(Requests5XX{{{SEL}}}[{W}])) or vector(0)) / "
                       f"((sum(rate(Requests2XX{{{SEL}}}[{W}])) or vector(0)) + "
                       f"(sum(rate(Requests4XX{{{SEL}}}[{W}])) or vector(0)) + "
                       f"(sum(rate(Requests5XX{{{SEL}}}[{W}])) or vector(0)))"),
        "latency-mean": (f"sum(rate(ts_inference_latency_microseconds{{{SEL}}}[{W}])) / "
                         f"sum(rate(ts_inference_requests_total{{{SEL}}}[{W}])) / 1e6"),
    },
}
# The comparer's series, whatever the runtime: its pod carries the canary's labels.
SHADOW = {
    "agreement": (f"sum(increase(modelops_shadow_agreed_total{{{SEL}}}[{W}])) / "
                  f"sum(increase(modelops_shadow_compared_total{{{SEL}}}[{W}]))"),
    "latency-difference": (
        f"sum(rate(modelops_shadow_latency_difference_seconds_sum{{{SEL}}}[{W}])) / "
        f"sum(rate(modelops_shadow_latency_difference_seconds_count{{{SEL}}}[{W}]))"),
}
TEMPLATES = {runtime: {**queries, **SHADOW} for runtime, queries in OWN.items()}
NAMES = sorted({name for queries in TEMPLATES.values() for name in queries})
# Runtimes whose server counts no failed requests (see above).
WITHOUT_ERRORS = frozenset({"llamacpp"})


def template_query(runtime: str, template: str, window: str) -> str | None:
    """The query of a template for a runtime (None: that runtime has no such metric), with
    {{namespace}}, {{model}}, {{canaryVersion}} left for analysis.judge.render."""
    q = TEMPLATES.get(runtime, {}).get(template)
    return None if q is None else q.replace(W, window)
