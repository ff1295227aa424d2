"""Checks the CRD schema cannot make: each problem says what to change."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..api.modelversion import ModelVersionSpec, Toleration
from ..api.quantity import parse_quantity
from ..rollout.window import check_schedule
from ..serving.artifact import split_pvc
from ..settings import Settings

RESERVED_ENV = {"MODEL_NAME", "MODEL_VERSION", "MODEL_URI", "MODEL_DIR", "MODEL_DIGEST",
                "MODELOPS_MODEL", "MODELOPS_VERSION"}


@dataclass(frozen=True)
class NodeInfo:
    """What scheduling needs to know of a node."""

    name: str
    gpus: int
    labels: dict[str, str] = field(default_factory=dict)
    taints: tuple[tuple[str, str, str], ...] = ()  # (key, value, effect)

    @classmethod
    def from_node(cls, node: dict[str, Any], gpu_resource: str) -> NodeInfo:
        alloc = node.get("status", {}).get("allocatable", {})
        taints = tuple((t.get("key", ""), t.get("value", ""), t.get("effect", ""))
                       for t in node.get("spec", {}).get("taints") or [])
        try:
            gpus = int(parse_quantity(alloc.get(gpu_resource, 0)))
        except ValueError:
            gpus = 0
        return cls(node["metadata"]["name"], gpus, dict(node["metadata"].get("labels") or {}),
                   taints)


def tolerates(tolerations: list[dict[str, Any]], taint: tuple[str, str, str]) -> bool:
    key, value, effect = taint
    if effect == "PreferNoSchedule":
        return True
    for t in tolerations:
        if t.get("effect") and t["effect"] != effect:
            continue
        if t.get("operator") == "Exists" and (not t.get("key") or t["key"] == key):
            return True
        if t.get("key") == key and t.get("value", "") == value:
            return True
    return False


def fits_somewhere(gpus: int, node_selector: dict[str, str], tolerations: list[dict[str, Any]],
                   nodes: list[NodeInfo]) -> bool:
    return any(
        n.gpus >= gpus
        and all(n.labels.get(k) == v for k, v in node_selector.items())
        and all(tolerates(tolerations, t) for t in n.taints)
        for n in nodes)


def problems(spec: ModelVersionSpec, settings: Settings,
             nodes: list[NodeInfo] | None) -> list[str]:
    """Everything wrong with a spec that passed the schema; empty when valid.

    `nodes` is None when the operator cannot see nodes (namespaced install): the scheduling
    check is then skipped rather than guessed.
    """
    out: list[str] = []
    if spec.artifact:
        out += _artifact(spec.artifact.uri, settings)
    images = []
    if spec.serving:
        s = spec.serving
        if s.image:
            images.append(("serving.image", s.image))
        for what, q in (("cpu", s.resources.cpu if s.resources else None),
                        ("memory", s.resources.memory if s.resources else None)):
            out += _quantity(f"serving.resources.{what}", q)
        out += _env("serving.env", s.env)
        gpus = s.resources.gpu if s.resources and s.resources.gpu else 0
        if gpus and nodes is not None:
            tol = [t.dump() for t in s.tolerations or []] + [_GPU_TOL]
            if not fits_somewhere(gpus, s.node_selector or {}, tol, nodes):
                out.append(
                    f"no node can run a serving pod asking for {gpus} GPU(s) with this "
                    "nodeSelector and these tolerations; lower serving.resources.gpu, or fix "
                    "serving.nodeSelector/tolerations to match a GPU node's labels and taints")
    if spec.training:
        t = spec.training
        images.append(("training.image", t.image))
        images += [(f"training.steps[{s.name}].image", s.image) for s in t.steps or [] if s.image]
        for what, q in (("cpu", t.resources.cpu if t.resources else None),
                        ("memory", t.resources.memory if t.resources else None)):
            out += _quantity(f"training.resources.{what}", q)
        out += _env("training.env", t.env)
        names = [s.name for s in t.steps or []]
        if len(set(names)) != len(names):
            out.append("training.steps names must be unique")
    if spec.evaluation:
        images.append(("evaluation.image", spec.evaluation.image))
        try:
            if spec.evaluation.schedule:
                check_schedule(spec.evaluation.schedule)
        except ValueError as e:
            out.append(f"evaluation.schedule: {e}")
    for where, image in images:
        out += _image(where, image, settings)
    return out


_GPU_TOL = Toleration(key="nvidia.com/gpu", operator="Exists", effect="NoSchedule").dump()


def _artifact(uri: str, settings: Settings) -> list[str]:
    scheme = uri.split("://", 1)[0]
    if scheme == "pvc":
        claim, _ = split_pvc(uri)
        if not claim:
            return ["artifact.uri pvc:// needs a claim name: pvc://CLAIM/PATH"]
        return []
    if scheme not in settings.fetch_schemes:
        return [f"artifact.uri scheme {scheme}:// cannot be fetched by this operator (it fetches "
                f"{', '.join(settings.fetch_schemes)} and mounts pvc://); use one of those"]
    return []


def _quantity(where: str, value: str | int | None) -> list[str]:
    if value is None:
        return []
    try:
        if parse_quantity(value) <= 0:
            return [f"{where} must be greater than zero, got {value!r}"]
    except ValueError as e:
        return [f"{where}: {e}"]
    return []


def _env(where: str, env: list[Any] | None) -> list[str]:
    out = []
    for e in env or []:
        if e.name in RESERVED_ENV:
            out.append(f"{where}: {e.name} is set by modelops from spec.artifact; remove it")
        if e.value is not None and e.value_from is not None:
            out.append(f"{where}: {e.name} has both value and valueFrom; keep one")
    return out


def _image(where: str, image: str, settings: Settings) -> list[str]:
    if settings.image_registries and not any(image.startswith(p)
                                             for p in settings.image_registries):
        return [f"{where} {image!r} is not from an allowed registry "
                f"({', '.join(settings.image_registries)})"]
    return []
