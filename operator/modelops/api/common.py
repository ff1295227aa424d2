"""Shared pieces of the modelops API: the base model, conditions, small value types."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

GROUP = "modelops.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

DNS1035 = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
DURATION = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"


def cel(rule: str, message: str, **extra: Any) -> dict[str, Any]:
    """One `x-kubernetes-validations` entry."""
    return {"rule": rule, "message": message, **extra}


def validations(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"x-kubernetes-validations": list(rules)}


class ApiModel(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields are ignored.

    Ignoring unknown fields matters: the API server already pruned what the schema does not
    know, and an operator that is older than the CRD must not refuse newer objects.
    """

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    def dump(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


# Kubernetes quantities are int-or-string; pydantic sees them as str after coercion.
Quantity = Annotated[
    str | int,
    Field(json_schema_extra={"x-kubernetes-int-or-string": True,
                             "pattern": r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"}),
]

Duration = Annotated[str, Field(pattern=DURATION, max_length=32,
                                description="A duration such as `30s`, `5m`, `1h30m`.")]


class EnvVar(ApiModel):
    name: str = Field(description="Environment variable name.", min_length=1, max_length=256)
    value: str | None = Field(None, description="Literal value.", max_length=32768)
    value_from: dict[str, Any] | None = Field(
        None, description="A Kubernetes EnvVarSource (secretKeyRef, configMapKeyRef, fieldRef...). "
        "Use secretKeyRef for credentials: their values never appear in status, events or logs.",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )


class Condition(ApiModel):
    """The Kubernetes condition shape (metav1.Condition)."""

    type: str = Field(description="Condition type, e.g. Valid, Ready.", max_length=64)
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    reason: str = Field("", description="One CamelCase word saying why.", max_length=128)
    message: str = Field("", description="What happened, for humans.", max_length=4096)
    last_transition_time: str | None = Field(
        None, description="When status last changed (RFC 3339).")
    observed_generation: int | None = Field(
        None, description="The .metadata.generation this condition was computed from.")


Conditions = Annotated[
    list[Condition],
    Field(
        description="Current state, as Kubernetes conditions keyed by type.",
        max_length=32,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    ),
]
