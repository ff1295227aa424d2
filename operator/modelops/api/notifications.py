"""Notifications: webhook messages for what users care about in a model's life, kept in the
policy's status until each receiver has taken them (at least once, in order)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .common import ApiModel

# The events a policy can notify about: each is the reason of the Kubernetes event the
# operator posts at that moment.
NotifyEvent = Literal[
    "RolloutStarted", "StepReached", "Paused", "Promoted", "RolledBack", "Aborted",
    "ProgressDeadlineExceeded", "RollbackFailed", "Held", "Regression", "MonitoringRecovered",
    "RetrainingStarted", "RetrainingSucceeded", "RetrainingFailed",
]
NOTIFY_EVENTS: tuple[str, ...] = NotifyEvent.__args__  # type: ignore[attr-defined]
DNS1123 = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"


class Subscription(ApiModel):
    receiver: str = Field(description="A receiver: the Secret of that name (key `url`, "
                          "optional key `format`: json or slack) in the operator's receivers "
                          "namespace (the chart's release namespace; run locally: the "
                          "policy's own).", pattern=DNS1123, max_length=253)
    events: list[NotifyEvent] | None = Field(None, description="What to send; default: all of "
                                             + ", ".join(NOTIFY_EVENTS) + ".", max_length=32)


class Notification(ApiModel):
    id: int = Field(description="Increasing per policy: the order of sending.")
    receiver: str = Field(description="Where it goes.")
    reason: str = Field(description="What happened (the event's reason).")
    type: Literal["Normal", "Warning"] = Field(description="The event's type.")
    message: str = Field(description="The event's message.", max_length=4096)
    time: str = Field(description="When it happened.")
    attempts: int = Field(0, description="Failed deliveries so far.")
    next_attempt: str | None = Field(None, description="Not sent again before this (back-off).")
    last_error: str | None = Field(None, description="Why the last delivery failed.",
                                   max_length=1024)
    metrics: dict[str, float] | None = Field(None, description="The metric values behind it "
                                             "(a rollback by analysis, a regression).")


class NotificationsStatus(ApiModel):
    pending: list[Notification] | None = Field(None, description="Not yet taken by their "
                                               "receiver, oldest first; sent in this order.",
                                               max_length=100)
    next_id: int | None = Field(None, description="The id the next notification gets.")
    sent: int | None = Field(None, description="Notifications delivered.")
    dropped: int | None = Field(None, description="Notifications given up: the oldest beyond "
                                "100 pending (a receiver down for long).")
    last_sent_time: str | None = Field(None, description="When one was last delivered.")
    last_error: str | None = Field(None, description="The last delivery failure.",
                                   max_length=1024)
