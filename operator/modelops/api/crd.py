"""Render the CustomResourceDefinitions from the pydantic models.

The models are the one source of the API; `crds/*.yaml` is this module's output, checked in,
and a test fails when the two drift. Pydantic emits JSON Schema; Kubernetes wants a
*structural* OpenAPI v3 schema: no $ref, no null types, int-or-string spelled its own way.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel

from . import modelversion, updatepolicy
from .common import GROUP, VERSION

_KEEP = {
    "type", "description", "default", "enum", "pattern", "format", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "minItems", "maxItems",
    "items", "properties", "required", "additionalProperties",
}


def openapi_schema(model: type[BaseModel]) -> dict[str, Any]:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs = raw.pop("$defs", {})
    return _convert(raw, defs)


def _convert(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    node = dict(node)
    if "$ref" in node:
        target = defs[node.pop("$ref").split("/")[-1]]
        node = {**target, **node}  # the field's own description wins over the model's
    if "anyOf" in node:
        variants = [v for v in node.pop("anyOf") if v.get("type") != "null"]
        if len(variants) == 1:
            node = {**_convert(variants[0], defs), **node}
        elif node.get("x-kubernetes-int-or-string") or all(
                v.get("type") in ("string", "integer") for v in variants):
            node = {"x-kubernetes-int-or-string": True, **node}
        else:
            raise ValueError(f"cannot express anyOf {variants} in a structural schema")
    if "const" in node:
        node["enum"] = [node.pop("const")]
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key.startswith("x-kubernetes-"):
            out[key] = value
        elif key not in _KEEP or (key == "default" and value is None):
            continue
        elif key == "properties":
            # The API server drops an empty `properties`, and a CRD that differs from what is
            # stored is OutOfSync forever under GitOps: emit only what survives storage.
            if value:
                out[key] = {k: _convert(v, defs) for k, v in value.items()}
            elif "type" not in node:
                out["type"] = "object"
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
            # JSON Schema's bound (`gt`/`lt`) is OpenAPI v3.0's bound plus a flag.
            out["minimum" if key == "exclusiveMinimum" else "maximum"] = value
            out[key] = True
        elif key == "items":
            out[key] = _convert(value, defs)
        elif key == "additionalProperties":
            if isinstance(value, dict) and value:
                out[key] = _convert(value, defs)
            elif value is True and not node.get("x-kubernetes-preserve-unknown-fields"):
                out["x-kubernetes-preserve-unknown-fields"] = True
        else:
            out[key] = value
    if out.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.pop("pattern", None)  # a pattern cannot apply to the integer form
    elif "type" not in out and ("properties" in out or
                                out.get("x-kubernetes-preserve-unknown-fields")):
        out["type"] = "object"
    if out.get("x-kubernetes-preserve-unknown-fields"):
        out.pop("additionalProperties", None)
    return dict(sorted(out.items(), key=_order))


_FIRST = ("description", "type")


def _order(item: tuple[str, Any]) -> tuple[int, str]:
    key = item[0]
    return (_FIRST.index(key) if key in _FIRST else len(_FIRST), key)


# The UpdatePolicy's scale subresource: `kubectl scale`, an HPA or a KEDA ScaledObject
# drive a model's total replicas, which the policy divides between its versions.
POLICY_SCALE = {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas",
                "labelSelectorPath": ".status.selector"}


def _crd(kind: str, plural: str, short: str, spec: type[BaseModel], status: type[BaseModel],
         columns: list[dict[str, Any]], description: str,
         scale: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}",
                     "labels": {"app.kubernetes.io/part-of": "modelops"}},
        "spec": {
            "group": GROUP,
            "names": {"kind": kind, "listKind": f"{kind}List", "plural": plural,
                      "singular": kind.lower(), "shortNames": [short], "categories": ["modelops"]},
            "scope": "Namespaced",
            "versions": [{
                "name": VERSION,
                "served": True,
                "storage": True,
                "subresources": {"status": {}, **({"scale": scale} if scale else {})},
                "additionalPrinterColumns": columns,
                "schema": {"openAPIV3Schema": {
                    "description": description,
                    "type": "object",
                    "required": ["spec"],
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "metadata": {"type": "object"},
                        "spec": {"description": spec.__doc__ or "", **openapi_schema(spec)},
                        "status": {"description": "Observed state, written by the operator only.",
                                   **openapi_schema(status)},
                    },
                }},
            }],
        },
    }


def crds() -> dict[str, dict[str, Any]]:
    """File name under crds/ -> CRD object."""
    return {
        f"{GROUP}_modelversions.yaml": _crd(
            "ModelVersion", "modelversions", "mv", modelversion.ModelVersionSpec,
            modelversion.ModelVersionStatus, modelversion.printer_columns(),
            "One immutable version of one model: where its weights are, how to serve it, and "
            "optionally how to train and evaluate it."),
        f"{GROUP}_updatepolicies.yaml": _crd(
            "UpdatePolicy", "updatepolicies", "up", updatepolicy.UpdatePolicySpec,
            updatepolicy.UpdatePolicyStatus, updatepolicy.printer_columns(),
            "How traffic for one model moves between its versions: canary steps, metric "
            "analysis, automatic rollback and history.", POLICY_SCALE),
    }


def peering_crds() -> dict[str, dict[str, Any]]:
    """kopf's own peering CRDs, for the chart's HA mode: replicas record themselves in a
    peering object and the one with the highest priority acts (kopf's schema, unchanged)."""
    out = {}
    for scope, kind in (("Cluster", "ClusterKopfPeering"), ("Namespaced", "KopfPeering")):
        plural = kind.lower() + "s"
        out[f"kopf.dev_{plural}.yaml"] = {
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.kopf.dev"},
            "spec": {
                "scope": scope, "group": "kopf.dev",
                "names": {"kind": kind, "plural": plural, "singular": kind.lower()},
                "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                    "openAPIV3Schema": {"type": "object", "properties": {"status": {
                        "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}}],
            },
        }
    return out


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def render(obj: dict[str, Any]) -> str:
    header = "# Generated from operator/modelops/api by `make crds`. Do not edit.\n"
    return header + yaml.dump(obj, Dumper=_NoAliases, sort_keys=False, width=100)
