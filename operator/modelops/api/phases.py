"""The phases of each kind, in one enumeration per kind: the status models, the planners,
metrics, the CLI and the Argo CD health scripts (tested against these) derive from them.

A phase also has a tone, what a reader should make of it at a glance: `ok` (serving as
asked), `busy` (moving on its own), `waiting` (needs time or a person), `bad` (needs a fix),
`idle` (nothing to do). Adding a phase is a member and its tone here, the planner that sets
it, and the docs.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

Tone = Literal["ok", "busy", "waiting", "bad", "idle"]


class VersionPhase(StrEnum):
    """ModelVersion .status.phase, in the order a version moves through them."""

    PENDING = "Pending"
    TRAINING = "Training"
    EVALUATING = "Evaluating"
    READY = "Ready"
    FAILED = "Failed"


class PolicyPhase(StrEnum):
    """UpdatePolicy .status.phase."""

    IDLE = "Idle"
    PROGRESSING = "Progressing"
    PAUSED = "Paused"
    PROMOTED = "Promoted"
    ROLLED_BACK = "RolledBack"
    DEGRADED = "Degraded"


class MonitoringPhase(StrEnum):
    """UpdatePolicy .status.monitoring.phase: how the serving version measures up."""

    WAITING = "Waiting"  # no measurement of this version yet
    HEALTHY = "Healthy"
    FAILING = "Failing"  # failed measurements, fewer in a row than failureThreshold
    REGRESSED = "Regressed"  # failureThreshold reached; the action was taken
    NO_DATA = "NoData"  # the last measurement had no data: neither a pass nor a failure


class Verdict(StrEnum):
    """One measurement's result: of a metric (.metrics[].phase), a round of them, and a
    monitoring measurement (.monitoring.history[].phase)."""

    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"  # no data (or NaN): never a pass


class AnalysisPhase(StrEnum):
    """UpdatePolicy .status.analysis.phase: the rollout's analysis so far."""

    RUNNING = "Running"  # measuring; no failure beyond failureLimit yet
    SUCCESSFUL = Verdict.SUCCESSFUL.value
    FAILED = Verdict.FAILED.value
    INCONCLUSIVE = Verdict.INCONCLUSIVE.value


class Outcome(StrEnum):
    """How a rollout ended (.history[].outcome); the policy's phase is then named the same,
    but for Aborted (the policy is Degraded)."""

    PROMOTED = "Promoted"
    ROLLED_BACK = "RolledBack"
    ABORTED = "Aborted"


class RunOutcome(StrEnum):
    """A retraining run's .outcome, and a training attempt's .result (never Running)."""

    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


TONES: dict[str, Tone] = {
    VersionPhase.PENDING: "waiting", VersionPhase.TRAINING: "busy",
    VersionPhase.EVALUATING: "busy", VersionPhase.READY: "ok", VersionPhase.FAILED: "bad",
    PolicyPhase.IDLE: "idle", PolicyPhase.PROGRESSING: "busy", PolicyPhase.PAUSED: "waiting",
    PolicyPhase.PROMOTED: "ok", PolicyPhase.ROLLED_BACK: "bad", PolicyPhase.DEGRADED: "bad",
    MonitoringPhase.WAITING: "idle", MonitoringPhase.HEALTHY: "ok",
    MonitoringPhase.FAILING: "waiting", MonitoringPhase.REGRESSED: "bad",
    MonitoringPhase.NO_DATA: "waiting",
}
