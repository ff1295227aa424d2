"""Ready-made scaling queries per runtime preset: a policy names `template:
requests-in-flight` or `queue-length` instead of writing PromQL. Pure.

Each query is the whole model's figure (every version's pods, by the labels the operator's
scrape set-up gives them: `namespace`, `model`); the scaler divides it by the target per pod.
Metric names are each runtime's own, as the analysis templates (analysis.templates) check
them against its source:
- custom (the modelops example server): `http_requests_in_flight`, the inference requests
  being answered. KServe's own ModelServer keeps no such gauge.
- vllm: `vllm:num_requests_running` and `vllm:num_requests_waiting`.
- llamacpp: `llamacpp:requests_processing` (slots busy) and `llamacpp:requests_deferred`
  (waiting for a slot).
- triton: `nv_inference_pending_request_count` (requests waiting for the backend).
- torchserve keeps no gauge of requests in flight or queued: use cpu or a query.
In flight counts what waits too: a server holds both, and one that scaled on running
requests alone would never grow past its batch size.
"""

from __future__ import annotations

SEL = 'namespace="{{namespace}}",model="{{model}}"'


def _sum(*metrics: str) -> str:
    return " + ".join(f"(sum({m}{{{SEL}}}) or vector(0))" for m in metrics)


QUERIES: dict[str, dict[str, str]] = {
    "custom": {"requests-in-flight": _sum("http_requests_in_flight")},
    "vllm": {"requests-in-flight": _sum("vllm:num_requests_running", "vllm:num_requests_waiting"),
             "queue-length": _sum("vllm:num_requests_waiting")},
    "llamacpp": {"requests-in-flight": _sum("llamacpp:requests_processing",
                                            "llamacpp:requests_deferred"),
                 "queue-length": _sum("llamacpp:requests_deferred")},
    "triton": {"queue-length": _sum("nv_inference_pending_request_count")},
    "torchserve": {},
}


def scaling_query(runtime: str, template: str) -> str | None:
    """The template's PromQL for a runtime, None where the runtime has no such series."""
    return QUERIES.get(runtime, {}).get(template)


def render(query: str, namespace: str, model: str) -> str:
    return query.replace("{{namespace}}", namespace).replace("{{model}}", model)
