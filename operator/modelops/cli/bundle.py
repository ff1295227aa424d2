"""Export a model as a portable YAML bundle, and plan its import elsewhere. Pure.

A bundle is a `v1 List` of the model's ModelVersions (oldest first) and its UpdatePolicy, with
only what a user wrote: no status, no server-set metadata, no namespace (the importer picks
it), none of the operator's annotations. `kubectl apply -f` takes it as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import yaml
from pydantic import ValidationError

from ..api.common import API_VERSION
from ..api.conditions import now_iso
from ..api.modelversion import ModelVersionSpec
from ..api.updatepolicy import UpdatePolicySpec
from .compare import diff_paths
from .errors import FAILED, CliError
from .summary import created_key, model_of

KINDS = ("ModelVersion", "UpdatePolicy")
# Annotations that describe one cluster's history, not the model: the operator's and kopf's
# bookkeeping (prefix modelops.io/, see handlers/startup.py) and kubectl's last-applied copy.
DROPPED_ANNOTATIONS = ("modelops.io/", "kopf.zalando.org/",
                       "kubectl.kubernetes.io/last-applied-configuration")


def portable(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    out_meta: dict[str, Any] = {"name": meta.get("name")}
    if meta.get("labels"):
        out_meta["labels"] = dict(meta["labels"])
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                   if not k.startswith(DROPPED_ANNOTATIONS)}
    if annotations:
        out_meta["annotations"] = annotations
    return {"apiVersion": obj.get("apiVersion") or API_VERSION, "kind": obj.get("kind"),
            "metadata": out_meta, "spec": obj.get("spec") or {}}


def export_bundle(namespace: str, model: str, mvs: list[dict[str, Any]],
                  up: dict[str, Any] | None, now: datetime) -> str:
    items = [portable({"kind": "ModelVersion", **mv}) for mv in sorted(mvs, key=created_key)]
    if up is not None:
        items.append(portable({"kind": "UpdatePolicy", **up}))
    header = (f"# modelops bundle of model {model!r}: {len(mvs)} version(s), "
              f"{'its UpdatePolicy' if up else 'no UpdatePolicy'}; exported from namespace "
              f"{namespace} at {now_iso(now)}\n"
              "# import: kubectl modelops import FILE -n NAMESPACE\n")
    body = yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items},
                          sort_keys=False, default_flow_style=False)
    return header + body


def load_bundle(text: str, source: str) -> list[dict[str, Any]]:
    """The ModelVersions and UpdatePolicies in a file: a List, or one or more YAML documents."""
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as e:
        raise CliError(f"{source} is not valid YAML: {e}") from None
    items: list[dict[str, Any]] = []
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == "List":
            items.extend(doc.get("items") or [])
        else:
            items.append(doc)
    if not items:
        raise CliError(f"{source} holds no objects")
    for i, obj in enumerate(items):
        where = f"{source}: object {i + 1}"
        if not isinstance(obj, dict) or obj.get("kind") not in KINDS:
            kind = obj.get("kind") if isinstance(obj, dict) else type(obj).__name__
            raise CliError(f"{where} is a {kind}; a bundle holds only ModelVersions and "
                           "UpdatePolicies")
        if obj.get("apiVersion") != API_VERSION:
            raise CliError(f"{where} has apiVersion {obj.get('apiVersion')!r}, not "
                           f"{API_VERSION}")
        if not (obj.get("metadata") or {}).get("name") or not model_of(obj):
            raise CliError(f"{where} ({obj['kind']}) needs metadata.name and spec.model")
    # Versions before policies: a policy's target should exist when the operator first looks.
    return sorted(items, key=lambda o: KINDS.index(o["kind"]))


@dataclass(frozen=True)
class Step:
    kind: str
    name: str
    action: str  # create | unchanged | conflict
    detail: str
    obj: dict[str, Any]


def normalized(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    """The spec with the CRD's defaults filled in, so a hand-written bundle that leaves out a
    default compares equal to the stored object (the CRD schema comes from these models)."""
    model = ModelVersionSpec if kind == "ModelVersion" else UpdatePolicySpec
    try:
        return model.model_validate(spec).dump()
    except ValidationError:
        return spec


def _compare(kind: str, want: dict[str, Any], have: dict[str, Any]) -> list[str]:
    return diff_paths(normalized(kind, want.get("spec") or {}),
                      normalized(kind, have.get("spec") or {}))


def plan_import(items: list[dict[str, Any]], mvs: list[dict[str, Any]],
                ups: list[dict[str, Any]]) -> list[Step]:
    """What importing `items` into a namespace holding `mvs` and `ups` does, object by object.

    ModelVersions are matched by (model, version), the identity the operator enforces; an
    UpdatePolicy by its model (one per model). Existing objects are never changed: the same
    content is a no-op, different content a conflict.
    """
    steps = []
    by_name = {("ModelVersion", o["metadata"]["name"]): o for o in mvs}
    by_name |= {("UpdatePolicy", o["metadata"]["name"]): o for o in ups}
    planned: set[tuple[str, str]] = set()
    for obj in items:
        kind, name, spec = obj["kind"], obj["metadata"]["name"], obj.get("spec") or {}
        model = spec.get("model")
        if kind == "ModelVersion":
            label = f"model {model} version {spec.get('version')}"
            same = [o for o in mvs if model_of(o) == model
                    and (o.get("spec") or {}).get("version") == spec.get("version")]
        else:
            label = f"the UpdatePolicy of model {model}"
            same = sorted((o for o in ups if model_of(o) == model), key=created_key)
        if (kind, name) in planned:
            steps.append(Step(kind, name, "conflict", "appears twice in the bundle", obj))
            continue
        planned.add((kind, name))
        if same:
            have = same[0]
            diffs = _compare(kind, obj, have)
            where = (f" (as {have['metadata']['name']})"
                     if have["metadata"]["name"] != name else "")
            if diffs:
                steps.append(Step(kind, name, "conflict", f"{label} exists{where} with "
                                  f"different content: {', '.join(diffs)}", obj))
            else:
                steps.append(Step(kind, name, "unchanged", f"{label} exists{where} with the "
                                  "same content", obj))
            continue
        taken = by_name.get((kind, name))
        if taken is not None:
            owner = (f"model {model_of(taken)} version {(taken.get('spec') or {}).get('version')}"
                     if kind == "ModelVersion" else f"the UpdatePolicy of model {model_of(taken)}")
            steps.append(Step(kind, name, "conflict", f"the name is taken by {owner}", obj))
            continue
        steps.append(Step(kind, name, "create", f"{label} is new", obj))
    return steps


def creatable(obj: dict[str, Any]) -> dict[str, Any]:
    """The body to create: the portable form, so a stray namespace or status is not sent."""
    return portable(obj)


def refused(steps: list[Step]) -> CliError | None:
    bad = [s for s in steps if s.action == "conflict"]
    if not bad:
        return None
    lines = "\n".join(f"  {s.kind.lower()}/{s.name}: {s.detail}" for s in bad)
    return CliError(f"refusing to import: {len(bad)} object(s) conflict with what is there; "
                    f"nothing was changed\n{lines}", FAILED,
                    "versions are immutable: import under a new version, or delete the "
                    "existing objects first if you mean to replace them")
