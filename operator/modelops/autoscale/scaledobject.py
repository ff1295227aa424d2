"""The KEDA ScaledObject an UpdatePolicy with spec.autoscaling owns. Pure.

KEDA makes and drives an HPA whose target is the policy's scale subresource: the HPA writes
spec.replicas, the policy divides the total between its versions by the current weight (the
no-outage rules of rollout.replicas hold while it scales). Its triggers: a `prometheus` one per
query (AverageValue: replicas = ceil(model total / target)), and `cpu` (Utilization of the
pods' CPU request, from metrics-server), the model getting as many replicas as the most
demanding asks.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..api.autoscaling import Autoscaling
from ..api.conditions import set_condition
from ..api.updatepolicy import UpdatePolicySpec
from ..resources import Resource
from ..serving import names
from .templates import render, scaling_query

SCALEDOBJECTS = Resource("keda.sh", "v1alpha1", "scaledobjects", "ScaledObject")


def problems(spec: UpdatePolicySpec, runtime: str) -> list[str]:
    """What KEDA could not be given: a template the serving runtime has no series for."""
    a = spec.autoscaling
    if a is None:
        return []
    return [f"autoscaling template {m.template!r} has no query for runtime {runtime!r} "
            f"(docs/autoscaling.md): use another template, cpu, or a query"
            for m in a.metrics
            if m.template not in (None, "cpu") and scaling_query(runtime, m.template) is None]


def _number(x: float) -> str:
    return f"{x:g}"


def _trigger(a: Autoscaling, address: str | None, m: Any, ns: str, model: str,
             runtime: str) -> dict[str, Any]:
    name = m.name or m.template or "query"
    if m.template == "cpu":
        return {"type": "cpu", "name": name, "metricType": "Utilization",
                "metadata": {"value": _number(round(m.target))}}
    query = m.query if m.query is not None else scaling_query(runtime, m.template)
    return {"type": "prometheus", "name": name, "metricType": "AverageValue",
            "metadata": {"serverAddress": address or "", "query": render(query or "", ns, model),
                         "threshold": _number(m.target),
                         # No series yet (no pod has answered) reads as no load, not an error.
                         "ignoreNullValues": "true"}}


def scaled_object(up: dict[str, Any], spec: UpdatePolicySpec, runtime: str
                  ) -> dict[str, Any] | None:
    """The ScaledObject for `up`, or None when it asks for no autoscaling."""
    a = spec.autoscaling
    if a is None:
        return None
    meta = up["metadata"]
    prom = a.prometheus or (spec.analysis.prometheus if spec.analysis else None)
    address = prom.address.rstrip("/") if prom else None
    return {
        "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"],
                     "labels": names.labels(spec.model, component="autoscaling"),
                     "ownerReferences": [names.owner_reference(up)]},
        "spec": {
            "scaleTargetRef": {"apiVersion": up["apiVersion"], "kind": up["kind"],
                               "name": meta["name"]},
            "minReplicaCount": a.min_replicas, "maxReplicaCount": a.max_replicas,
            "advanced": {"horizontalPodAutoscalerConfig": {
                "name": meta["name"],
                "behavior": {
                    "scaleUp": {"stabilizationWindowSeconds": a.scale_up_stabilization_seconds},
                    "scaleDown": {"stabilizationWindowSeconds":
                                  a.scale_down_stabilization_seconds}}}},
            "triggers": [_trigger(a, address, m, meta["namespace"], spec.model, runtime)
                         for m in a.metrics],
        },
    }


def autoscaling_condition(conds: list[dict[str, Any]], spec: UpdatePolicySpec,
                          scaler: str | None, missing: str | None, gen: int | None,
                          now: datetime) -> list[dict[str, Any]]:
    """`Autoscaling`: True while a ScaledObject drives spec.replicas; False with why not
    (no KEDA in the cluster), or Off once autoscaling is taken out. Absent if never asked."""
    if spec.autoscaling is None:
        if not any(c.get("type") == "Autoscaling" for c in conds):
            return conds
        return set_condition(conds, "Autoscaling", False, "Off", "spec.autoscaling is not set",
                             gen, now)
    if missing:
        return set_condition(conds, "Autoscaling", False, "ScalerMissing", missing, gen, now)
    return set_condition(conds, "Autoscaling", True, "ScaledObject",
                         f"KEDA ScaledObject {scaler} drives spec.replicas", gen, now)
