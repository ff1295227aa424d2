"""spec.autoscaling of an UpdatePolicy: the model's total replicas follow load. The operator
owns a KEDA ScaledObject that drives the policy's scale subresource; the policy divides the
total between its versions by the current weight, in the middle of a rollout too."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .analysis import PrometheusRef
from .common import DNS1035, ApiModel, cel, validations

ScalingTemplate = Literal["requests-in-flight", "queue-length", "cpu"]  # autoscale.templates


class ScalingMetric(ApiModel):
    """One signal to follow; the model gets as many replicas as the most demanding asks."""

    model_config = {"json_schema_extra": validations(
        cel("has(self.query) != has(self.template)",
            "a scaling metric needs exactly one of query or template"),
        cel("!has(self.template) || self.template != 'cpu' || self.target <= 1000",
            "a cpu target is a percentage of the pods' CPU request (at most 1000)"),
    )}

    name: str | None = Field(None, description="Shown in the scaler's status (default: the "
                             "template's name, or `query`).", pattern=DNS1035, max_length=63)
    template: ScalingTemplate | None = Field(
        None, description="requests-in-flight (requests being answered, per pod), "
        "queue-length (requests waiting, per pod) for the runtime of the version serving; cpu "
        "(percent of the pods' CPU request, averaged). docs/autoscaling.md says which runtime "
        "has which.")
    query: str | None = Field(None, description="PromQL for the whole model (all its pods): "
                              "the scaler runs ceil(value / target) replicas. Variables: "
                              "{{model}}, {{namespace}}.", min_length=1, max_length=8192)
    target: float = Field(description="The value per pod to keep to: requests in flight or "
                          "waiting per pod, the query's value per pod, or CPU percent.", gt=0)


class Autoscaling(ApiModel):
    """Replicas that follow load: min and max bound spec.replicas, which the scaler writes."""

    model_config = {"json_schema_extra": validations(
        cel("self.minReplicas <= self.maxReplicas", "minReplicas must be <= maxReplicas"),
    )}

    min_replicas: int = Field(
        1, ge=1, le=1000, description="Fewest replicas. At least 1: a model at zero would "
        "refuse the request that wakes it, as nothing here holds requests while a pod starts "
        "(docs/autoscaling.md).")
    max_replicas: int = Field(ge=1, le=1000, description="Most replicas.")
    metrics: list[ScalingMetric] = Field(description="What to follow.", min_length=1,
                                         max_length=8)
    prometheus: PrometheusRef | None = Field(None, description="Where the scaler queries "
                                             "(default: analysis.prometheus).")
    scale_down_stabilization_seconds: int = Field(
        300, ge=0, le=3600, description="Replicas fall only to the highest the load asked for "
        "over this window (the HPA's stabilization window), so a dip does not drop pods that "
        "the next burst needs.")
    scale_up_stabilization_seconds: int = Field(
        0, ge=0, le=3600, description="Likewise for rises (0: at once).")
