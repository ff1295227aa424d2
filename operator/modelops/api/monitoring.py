"""Monitoring of the serving version after its rollout: the same metric checks as canary
analysis, measured on their own interval for as long as a version serves, and what to do
when they keep failing."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .analysis import MetricCheck, MetricResult, PrometheusRef
from .common import ApiModel, Duration
from .phases import MonitoringPhase, Verdict

MonitoringAction = Literal["Notify", "Rollback"]


class Monitoring(ApiModel):
    interval: Duration = Field("1m", description="Time between measurements of the serving "
                               "version.")
    failure_threshold: int = Field(3, ge=1, le=100, description="Failed measurements in a row "
                                   "that make a regression (a measurement without data "
                                   "neither counts nor breaks the row).")
    prometheus: PrometheusRef | None = Field(None, description="Where to query; default: "
                                             "analysis.prometheus.")
    metrics: list[MetricCheck] = Field(default_factory=list, description="Checks run at "
                                       "every interval. In queries {{canaryVersion}} and "
                                       "{{stableVersion}} both name the serving version; "
                                       "templates select it. Empty: only scheduled "
                                       "evaluations (spec.evaluation.schedule of the version) "
                                       "count.", max_length=16)
    action: MonitoringAction = Field("Notify", description="On a regression: Notify (a "
                                     "Warning event, the Monitoring condition, notifications) "
                                     "or Rollback (also move all traffic back to the version "
                                     "that served before, held there like a manual rollback "
                                     "until the target changes or `retry`).")
    history_limit: int = Field(10, ge=1, le=100, description="Measurements kept in "
                               "status.monitoring.measurements.")
    evaluations: bool = Field(True, description="A scheduled evaluation of the serving version "
                              "that fails its gates is a regression (at once, not counted "
                              "toward failureThreshold).")


class Measurement(ApiModel):
    time: str = Field(description="When measured.")
    version: str = Field(description="The version measured.")
    phase: Verdict = Field(description="Failed if any metric failed; Inconclusive if any had "
                           "no data; else Successful.")
    metrics: list[MetricResult] = Field(description="Each metric's value.", max_length=16)


class Regression(ApiModel):
    time: str = Field(description="When failureThreshold was reached.")
    version: str = Field(description="The version that regressed.")
    action: str = Field(description="What was done: Notify, or Rollback (with `to`).")
    to: str | None = Field(None, description="The version traffic went back to.")
    message: str = Field(description="The metric values, and why an action was not taken.",
                         max_length=4096)


class MonitoringStatus(ApiModel):
    version: str | None = Field(None, description="The serving version being watched.")
    phase: MonitoringPhase | None = Field(None, description="One of " +
                                          ", ".join(MonitoringPhase) + ".")
    since: str | None = Field(None, description="When watching this version began.")
    last_measurement_time: str | None = Field(None, description="When last measured.")
    consecutive_failures: int | None = Field(None, description="Failed measurements in a row.")
    measurements: list[Measurement] | None = Field(None, description="Newest first, at most "
                                                   "spec.monitoring.historyLimit.",
                                                   max_length=100)
    last_regression: Regression | None = Field(None, description="The last regression and "
                                               "what was done about it.")
    last_evaluation_failure: str | None = Field(None, description="The end time of the last "
                                                "failed scheduled evaluation taken as a "
                                                "regression (each is taken once).")
