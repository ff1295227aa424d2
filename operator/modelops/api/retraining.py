"""Retraining: the policy produces the model's next version from a template ModelVersion when
the serving version regresses, or on a schedule; the new version's training, evaluation gates
and the rollout rules decide whether it ever serves."""

from __future__ import annotations

from pydantic import Field

from .common import ApiModel, Duration, cel, validations
from .modelversion import Evaluation, Serving, Training
from .phases import RunOutcome

DNS1123 = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"


class RetrainingTemplate(ApiModel):
    """The next version's spec, written in the policy: what a template ModelVersion would
    hold but its model (the policy's) and version (made at each retraining)."""

    description: str | None = Field(None, description="Free text for humans.", max_length=1024)
    training: Training = Field(description="How the next version is trained; outputURI gets "
                               "the new version string as its last segment.")
    evaluation: Evaluation | None = Field(None, description="Its evaluation and gates.")
    serving: Serving | None = Field(None, description="How it serves.")


class Retraining(ApiModel):
    model_config = {"json_schema_extra": validations(
        cel("has(self.template) != has(self.templateSpec)",
            "retraining needs template (a ModelVersion's name) or templateSpec (the spec "
            "inline), exactly one"),
    )}

    template: str | None = Field(None, description="Name of a ModelVersion of this model, in "
                                 "the policy's namespace, whose spec the next version copies "
                                 "(training, evaluation, serving). Its version, and "
                                 "training.outputURI's last segment when it is that version, "
                                 "become the new version string.",
                                 pattern=DNS1123, max_length=253)
    template_spec: RetrainingTemplate | None = Field(
        None, description="The next version's spec inline, instead of a template "
        "ModelVersion (training is required).")
    on_regression: bool = Field(True, description="Retrain when monitoring finds a regression "
                                "(spec.monitoring).")
    schedule: str | None = Field(None, description="Also retrain at these times: cron, 5 "
                                 "fields, UTC, as crontab(5); or `@every DURATION`.",
                                 max_length=256)
    min_interval: Duration = Field("1h", description="Least time between the starts of two "
                                   "retrainings; a trigger sooner is skipped (and said).")
    history_limit: int = Field(10, ge=1, le=100, description="Retrainings kept in "
                               "status.retraining.runs.")


class RetrainingRun(ApiModel):
    version: str = Field(description="The version it created.")
    name: str = Field(description="Its ModelVersion.")
    reason: str = Field(description="Why: Regression or Schedule.")
    parent: str | None = Field(None, description="The version serving when it began: the new "
                               "version's spec.parentVersion.")
    message: str = Field(description="What triggered it (the metric values, the schedule) and, "
                         "once ended, how.", max_length=4096)
    start_time: str = Field(description="When it was triggered.")
    end_time: str | None = Field(None, description="When its version became Ready or Failed.")
    outcome: RunOutcome = Field(
        description="Running until its version is Ready (trained, gates passed: Succeeded) or "
        "Failed (its conditions say why).")


class RetrainingStatus(ApiModel):
    runs: list[RetrainingRun] | None = Field(None, description="Newest first; at most one "
                                             "Running.", max_length=100)
    schedule_from: str | None = Field(None, description="Schedule times after this one are "
                                      "due (the last one acted on).")
