"""Metric checks against Prometheus, and their results: what canary analysis and the
monitoring of the serving version share."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .common import DNS1035, ApiModel, Duration, cel, validations
from .phases import AnalysisPhase, Verdict

Template = Literal["error-rate", "latency-p99", "latency-mean", "ttft-p99", "tpot-p99",
                   "tpot-mean", "queue-length", "kv-cache-usage",
                   "tokens-per-second", "agreement",
                   "latency-difference"]  # analysis.templates


class PrometheusRef(ApiModel):
    address: str = Field(description="Base URL of Prometheus; must be in the operator's "
                         "allow-list.", pattern=r"^https?://.+", max_length=512)


class MetricCheck(ApiModel):
    model_config = {"json_schema_extra": validations(
        cel("has(self.query) != has(self.template)",
            "a metric needs exactly one of query or template"),
        cel("has(self.min) || has(self.max)", "a metric needs min, max or both"),
        cel("!has(self.min) || !has(self.max) || self.min <= self.max",
            "metric min must be <= max"),
    )}

    name: str = Field(description="Metric name shown in status.", pattern=DNS1035, max_length=63)
    query: str | None = Field(None, description="PromQL returning one number. Variables: "
                              "{{model}}, {{namespace}}, {{canaryVersion}}, {{stableVersion}}.",
                              min_length=1, max_length=8192)
    template: Template | None = Field(
        None, description="A ready-made query for the canary's runtime preset instead of "
        "`query`: error-rate (0-1), latency-p99 or latency-mean (seconds); for LLM runtimes also "
        "ttft-p99 (time to first token), tpot-p99 or tpot-mean (time per output token), "
        "queue-length (requests waiting), kv-cache-usage (0-1), tokens-per-second; during "
        "setMirror steps, for every runtime: agreement (0-1, the share of mirrored requests "
        "the canary answered as the stable did) and latency-difference (seconds the canary "
        "took more than the stable, on average). See docs/metrics.md for which runtime has "
        "which.")
    window: Duration = Field("1m", description="The rate window of a template's query.")
    min: float | None = Field(None, description="Lowest passing value.")
    max: float | None = Field(None, description="Highest passing value.")


class Analysis(ApiModel):
    interval: Duration = Field("30s", description="Time between measurements.")
    failure_limit: int = Field(2, ge=0, le=100, description="Failed measurements tolerated; one "
                               "more rolls back.")
    inconclusive_limit: int = Field(3, ge=0, le=100, description="Inconclusive measurements (no "
                                    "data, Prometheus unreachable) tolerated; one more pauses.")
    prometheus: PrometheusRef = Field(description="Where to query.")
    metrics: list[MetricCheck] = Field(description="Checks run at every interval.", min_length=1,
                                       max_length=16)


class MetricResult(ApiModel):
    name: str = Field(description="Metric name.")
    value: float | None = Field(None, description="Measured value (absent: no data).")
    phase: Verdict = Field(description="Result of this measurement: one of " +
                           ", ".join(Verdict) + ".")
    time: str | None = Field(None, description="When measured.")
    message: str | None = Field(None, description="Why inconclusive or failed.", max_length=1024)


class AnalysisStatus(ApiModel):
    phase: AnalysisPhase | None = Field(None, description="Overall result so far: one of " +
                                        ", ".join(AnalysisPhase) + ".")
    last_measurement_time: str | None = Field(None, description="When last measured.")
    failures: int | None = Field(None, description="Failed measurements in this rollout.")
    inconclusive: int | None = Field(None, description="Inconclusive measurements.")
    metrics: list[MetricResult] | None = Field(None, description="Latest value per metric.",
                                               max_length=16)
