"""The UpdatePolicy resource: how traffic for one model moves between its versions."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field

from .analysis import Analysis, AnalysisStatus
from .autoscaling import Autoscaling
from .common import DNS1035, ApiModel, Conditions, Duration, cel, validations
from .modelversion import VERSION_PATTERN
from .monitoring import Monitoring, MonitoringStatus
from .notifications import NotificationsStatus, Subscription
from .phases import Outcome, PolicyPhase
from .retraining import Retraining, RetrainingStatus
from .routing import (
    HeaderMatch,
    Implementation,
    SessionAffinity,
    SetHeaderRoute,
    SetMirror,
    Shadow,
)

ACTIONS = ("promote", "promote-full", "abort", "retry", "resume")
# `rollback:VERSION` holds all traffic on a version that served before without touching spec,
# which GitOps owns; the hold lasts until the target changes or `retry`.
ROLLBACK_ACTION = "rollback:"


def valid_action(action: str) -> bool:
    if action.startswith(ROLLBACK_ACTION):
        return re.fullmatch(VERSION_PATTERN, action[len(ROLLBACK_ACTION):]) is not None
    return action in ACTIONS


class Window(ApiModel):
    schedule: str = Field(description="Cron expression (5 fields, UTC) of when a window opens.",
                          min_length=9, max_length=128)
    duration: Duration = Field(description="How long each window stays open.")


class AutoUpdate(ApiModel):
    enabled: bool = Field(False, description="Follow new versions: the newest Ready version (by "
                          "creation) becomes the target. `targetVersion` wins when set.")
    window: Window | None = Field(None, description="Rollouts start only inside this window.")


class ServiceRef(ApiModel):
    name: str | None = Field(None, description="Name of the stable Service clients call "
                             "(default: the model name).", pattern=DNS1035, max_length=63)
    port: int = Field(80, ge=1, le=65535, description="Port of the stable Service.")


class Pause(ApiModel):
    duration: Duration | None = Field(None, description="How long to wait; absent: wait for a "
                                      "manual promote.")


STEP_KINDS = ("setWeight", "pause", "setHeaderRoute", "setMirror")


class CanaryStep(ApiModel):
    model_config = {"json_schema_extra": validations(
        cel(" + ".join(f"(has(self.{k}) ? 1 : 0)" for k in STEP_KINDS) + " == 1",
            "each step is exactly one of " + ", ".join(STEP_KINDS[:-1]) + " or "
            + STEP_KINDS[-1]),
    )}

    set_weight: int | None = Field(None, ge=0, le=100, description="Percent of traffic for the "
                                   "canary (0-100).")
    pause: Pause | None = Field(None, description="Wait: for a duration, or until promoted.")
    set_header_route: SetHeaderRoute | None = Field(
        None, description="Send requests with these headers or cookies to the canary (testers "
        "reach it before any user does); needs trafficRouting.gatewayAPI.")
    set_mirror: SetMirror | None = Field(
        None, description="Copy a share of requests to the canary and compare its answers with "
        "the stable's (analysis template `agreement`); needs trafficRouting.gatewayAPI.")


class ReplicasRouting(ApiModel):
    """Weight approximated by ready replica counts behind one Service; needs no mesh."""


class GatewayAPIRouting(ApiModel):
    model_config = {"json_schema_extra": validations(
        cel("!has(self.sessionAffinity) || self.implementation == 'Traefik'",
            "sessionAffinity needs implementation: Traefik (Gateway API's own "
            "sessionPersistence is experimental, and Traefik does not implement it)"),
    )}

    http_route: str = Field(description="Name of the HTTPRoute whose backendRefs weights follow "
                            "the steps.", pattern=DNS1035, max_length=63)
    implementation: Implementation = Field(
        "Standard", description="Standard: only Gateway API's own fields (mirroring with the "
        "RequestMirror filter). Traefik: mirroring through a TraefikService that the route "
        "names, as Traefik implements no RequestMirror filter; and sessionAffinity.")
    session_affinity: SessionAffinity | None = Field(
        None, description="Clients keep the version they were given during weighted steps "
        "(a cookie); needs implementation Traefik.")


class SMIRouting(ApiModel):
    traffic_split_name: str | None = Field(
        None, description="Name of the TrafficSplit the policy creates and owns (default: the "
        "model's Service name).", pattern=DNS1035, max_length=63)
    root_service: str | None = Field(
        None, description="The split's root (apex) Service, the one clients call (default: the "
        "model's Service).", pattern=DNS1035, max_length=63)


def _exactly_one(schema: dict[str, Any]) -> None:
    """The 'exactly one router' rule, from the fields themselves: a new router is a field."""
    fields = list(schema.get("properties") or {})
    count = " + ".join(f"(has(self.{f}) ? 1 : 0)" for f in fields)
    names = ", ".join(fields[:-1]) + " or " + fields[-1]
    schema.update(validations(cel(f"{count} == 1", f"trafficRouting needs exactly one of {names}")))


class TrafficRouting(ApiModel):
    model_config = {"json_schema_extra": _exactly_one}

    replicas: ReplicasRouting | None = Field(None,
                                             description="Split replicas by weight (default).")
    gateway_api: GatewayAPIRouting | None = Field(None, alias="gatewayAPI",
                                                  description="Weighted HTTPRoute backends.")
    smi: SMIRouting | None = Field(None, description="An SMI TrafficSplit (split.smi-spec.io "
                                   "v1alpha4) for a mesh that implements it.")


class Canary(ApiModel):
    model_config = {"json_schema_extra": validations(
        cel("!has(self.steps) || self.steps.all(s, !has(s.setHeaderRoute) && "
            "!has(s.setMirror)) || "
            "(has(self.trafficRouting) && has(self.trafficRouting.gatewayAPI))",
            "setHeaderRoute and setMirror steps need trafficRouting.gatewayAPI: a route "
            "matches headers and mirrors requests, replica counts cannot"),
    )}

    steps: list[CanaryStep] = Field(
        default_factory=list, max_length=64,
        description="Steps in order; after the last one the canary gets 100% and is promoted.")
    traffic_routing: TrafficRouting | None = Field(None, description="How weights are applied "
                                                   "(default replicas).")
    shadow: Shadow | None = Field(None, description="How mirrored answers are compared "
                                  "(setMirror steps).")


class Strategy(ApiModel):
    canary: Canary | None = Field(None, description="Canary rollout in steps.")


class Rollback(ApiModel):
    automatic: bool = Field(True, description="Roll back by itself when analysis fails.")


class UpdatePolicySpec(ApiModel):
    """Which version should serve the model, and how traffic moves to it."""

    model_config = {"json_schema_extra": validations(
        cel("!has(self.monitoring) || !has(self.monitoring.metrics) || "
            "size(self.monitoring.metrics) == 0 || has(self.monitoring.prometheus) || "
            "has(self.analysis)",
            "monitoring metrics need a Prometheus: set monitoring.prometheus or "
            "analysis.prometheus"),
        cel("!has(self.autoscaling) || has(self.autoscaling.prometheus) || "
            "has(self.analysis) || self.autoscaling.metrics.all(m, has(m.template) && "
            "m.template == 'cpu')",
            "autoscaling metrics other than cpu need a Prometheus: set "
            "autoscaling.prometheus or analysis.prometheus"),
    )}

    model: str = Field(description="The model this policy routes; one policy per (namespace, "
                       "model). Immutable.", pattern=DNS1035, max_length=50,
                       json_schema_extra=validations(cel("self == oldSelf",
                                                         "spec.model is immutable")))
    target_version: str | None = Field(None, description="The version that should serve; "
                                       "changing it starts a rollout.", pattern=VERSION_PATTERN)
    auto_update: AutoUpdate | None = Field(None, description="Follow new Ready versions.")
    replicas: int = Field(1, ge=0, le=1000, description="Total serving replicas for the model, "
                          "divided between its versions by the current weight. The scale "
                          "subresource: `kubectl scale`, an HPA or a KEDA ScaledObject may "
                          "write it.")
    autoscaling: Autoscaling | None = Field(None, description="Replicas that follow load: "
                                            "the operator owns a KEDA ScaledObject that writes "
                                            "spec.replicas (leave it out of Git).")
    service: ServiceRef | None = Field(None, description="The stable Service clients call.")
    strategy: Strategy | None = Field(None, description="How a new version takes traffic.")
    analysis: Analysis | None = Field(None, description="Metric analysis during every step.")
    monitoring: Monitoring | None = Field(None, description="Measure the serving version after "
                                          "its rollout, and act when it regresses.")
    notifications: list[Subscription] | None = Field(
        None, description="Webhook receivers told about rollouts, rollbacks and regressions.",
        max_length=16)
    retraining: Retraining | None = Field(None, description="Produce the next version from a "
                                          "template on a regression or a schedule.")
    rollback: Rollback | None = Field(None, description="Rollback behaviour.")
    progress_deadline_seconds: int = Field(600, ge=1, description="A step that cannot progress "
                                           "this long fails the rollout.")
    history_limit: int = Field(10, ge=1, le=100, description="Rollouts kept in status.history.")
    scale_down_delay_seconds: int = Field(
        30, ge=0, le=86400, description="How long the previous stable version stays warm after "
        "a promotion (running at full size, out of traffic), so that a rollback to it is "
        "instant; 0 scales it down at once.")
    paused: bool = Field(False, description="Hold the rollout where it is.")


class HistoryEntry(ApiModel):
    revision: int = Field(description="Rollout counter, increasing.")
    version: str = Field(description="The version rolled out.")
    from_version: str | None = Field(None, description="The stable version before.")
    start_time: str | None = Field(None, description="When the rollout started.")
    end_time: str | None = Field(None, description="When it ended.")
    outcome: Outcome = Field(description="Promoted, RolledBack or Aborted.")
    reason: str | None = Field(None, description="Why it ended so.")
    message: str | None = Field(None, description="Details, e.g. the metric values.",
                                max_length=4096)


class Hold(ApiModel):
    version: str = Field(description="The version that keeps all traffic.")
    target: str | None = Field(None, description="The target (spec.targetVersion, or "
                               "autoUpdate's pick) when the hold began; when it changes, the "
                               "hold ends.")
    since: str | None = Field(None, description="When the hold began.")
    reason: str | None = Field(None, description="ManualRollback (the `rollback:VERSION` "
                               "action) or MonitoringRegression (spec.monitoring, action "
                               "Rollback).")


class Outgoing(ApiModel):
    version: str = Field(description="The version on its way out.")
    replicas: int = Field(description="Replicas it keeps meanwhile.")
    serving: bool = Field(description="True: it still takes traffic until the versions that "
                          "stay have all their replicas ready (a rolled-back canary); false: "
                          "warm, out of traffic, until `until` (the previous stable).")
    until: str | None = Field(None, description="When a warm version is scaled down.")


class Incoming(ApiModel):
    version: str = Field(description="The version traffic moves to once all its replicas "
                         "are ready (a rollback to a version that is not warm).")
    reason: str = Field(description="Why: TargetRollback or ManualRollback.")
    since: str = Field(description="When its replicas were asked for.")


class UpdatePolicyStatus(ApiModel):
    phase: PolicyPhase | None = Field(None, description="One of " + ", ".join(PolicyPhase) + ".")
    stable_version: str | None = Field(None, description="Version serving stable traffic.")
    canary_version: str | None = Field(None, description="Version being rolled out.")
    current_step_index: int | None = Field(None, description="Index of the current step.")
    canary_weight: int | None = Field(None, description="Weight set by the current step.")
    actual_canary_weight: int | None = Field(None, description="Weight actually achieved: "
                                             "the route's, once its gateway accepted it, or "
                                             "what ready replicas carry.")
    header_route: list[HeaderMatch] | None = Field(None, description="The header or cookie "
                                                   "match that sends requests to the canary "
                                                   "(setHeaderRoute), while it holds.",
                                                   max_length=8)
    mirror_percent: int | None = Field(None, description="Percent of requests mirrored to the "
                                       "canary (setMirror), while it holds.")
    shadow_until: str | None = Field(None, description="When the comparer of the last setMirror "
                                     "step goes: a moment after its gateway has a route that "
                                     "mirrors nowhere.")
    analysis: AnalysisStatus | None = Field(None, description="Analysis of the current rollout.")
    history: list[HistoryEntry] | None = Field(None, description="Rollouts, newest first.",
                                               max_length=100)
    conditions: Conditions | None = None
    observed_generation: int | None = Field(None, description="Generation last reconciled.")
    revision: int | None = Field(None, description="Counter of rollouts started; the current "
                                 "or last one.")
    rollout_start_time: str | None = Field(None, description="When the current rollout began.")
    step_start_time: str | None = Field(None, description="When the current step began; timed "
                                        "pauses end relative to it, also across restarts.")
    paused_time: str | None = Field(None, description="When spec.paused took hold (its time "
                                    "does not count against timed pauses).")
    pause_reason: str | None = Field(None, description="Why the operator paused the rollout "
                                     "(e.g. inconclusive analysis).", max_length=1024)
    pending_action: str | None = Field(None, description="A manual action taken from the "
                                       "modelops.io/action annotation, not yet applied.")
    hold: Hold | None = Field(None, description="A manual rollback (action `rollback:VERSION`) "
                              "holding all traffic on a version against the target, without "
                              "writing spec; ends when the target changes or on `retry`.")
    message: str | None = Field(None, description="What the rollout is doing or waiting for.",
                                max_length=2048)
    outgoing: Outgoing | None = Field(None, description="A version leaving: a rolled-back "
                                      "canary until the stable is back at full size, or the "
                                      "previous stable kept warm after a promotion.")
    incoming: Incoming | None = Field(None, description="A version a rollback waits for: "
                                      "traffic moves once its replicas are ready.")
    monitoring: MonitoringStatus | None = Field(None, description="How the serving version "
                                                "measures up since its rollout "
                                                "(spec.monitoring).")
    notifications: NotificationsStatus | None = Field(None, description="Notifications not "
                                                      "yet delivered, and delivery counts.")
    retraining: RetrainingStatus | None = Field(None, description="Retrainings this policy "
                                                "started, and why.")
    scaler: str | None = Field(None, description="The KEDA ScaledObject this policy owns "
                               "(spec.autoscaling), deleted when autoscaling is taken out.")
    replicas: int | None = Field(None, description="Serving pods of the versions that take "
                                 "traffic (stable and canary), ready or not: the scale "
                                 "subresource's current replicas.")
    selector: str | None = Field(None, description="Label selector of the model's serving "
                                 "pods (the scale subresource's; an HPA averages their CPU).")


def printer_columns() -> list[dict[str, Any]]:
    return [
        {"name": "Model", "type": "string", "jsonPath": ".spec.model"},
        {"name": "Stable", "type": "string", "jsonPath": ".status.stableVersion"},
        {"name": "Canary", "type": "string", "jsonPath": ".status.canaryVersion"},
        {"name": "Weight", "type": "integer", "jsonPath": ".status.canaryWeight"},
        {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]
