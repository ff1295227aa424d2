"""The checked-in CRDs are exactly what the pydantic models generate."""

from __future__ import annotations

from pathlib import Path

import yaml

from modelops.api.crd import crds, peering_crds, render

ROOT = Path(__file__).resolve().parents[2]


def test_checked_in_crds_match_the_models() -> None:
    for name, obj in {**crds(), **peering_crds()}.items():
        path = ROOT / "crds" / name
        assert path.read_text() == render(obj), f"{path} is stale: run `make crds`"


def test_chart_crds_are_byte_identical() -> None:
    for path in sorted((ROOT / "crds").glob("*.yaml")):
        chart = ROOT / "charts" / "modelops" / "crds" / path.name
        assert chart.read_bytes() == path.read_bytes(), f"{chart} differs from {path}"


def _walk(schema: dict, where: str = "", field: bool = True):  # type: ignore[no-untyped-def]
    """(path, node, is a named field); array items are not fields and need no description."""
    yield where, schema, field
    for k, v in (schema.get("properties") or {}).items():
        yield from _walk(v, f"{where}.{k}")
    if isinstance(schema.get("items"), dict):
        yield from _walk(schema["items"], f"{where}[]", False)


def test_every_spec_field_is_described_and_structural() -> None:
    for obj in crds().values():
        root = obj["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        for part in ("spec", "status"):
            for where, node, field in _walk(root["properties"][part], part):
                assert node.get("description") or not field, f"{where} has no description"
                assert "$ref" not in node and "anyOf" not in node, where
                assert ("type" in node or node.get("x-kubernetes-int-or-string")
                        or node.get("x-kubernetes-preserve-unknown-fields")), where


def test_conditions_are_a_map_keyed_by_type() -> None:
    for obj in crds().values():
        status = obj["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
        conds = status["properties"]["conditions"]
        assert conds["x-kubernetes-list-type"] == "map"
        assert conds["x-kubernetes-list-map-keys"] == ["type"]


def test_names_columns_and_subresources() -> None:
    mv, up = (yaml.safe_load((ROOT / "crds" / f"modelops.io_{p}.yaml").read_text())
              for p in ("modelversions", "updatepolicies"))
    assert mv["spec"]["names"]["shortNames"] == ["mv"]
    assert up["spec"]["names"]["shortNames"] == ["up"]
    for crd, cols in ((mv, ["Model", "Version", "Phase", "Ready", "Age"]),
                      (up, ["Model", "Stable", "Canary", "Weight", "Replicas", "Phase", "Age"])):
        v = crd["spec"]["versions"][0]
        assert [c["name"] for c in v["additionalPrinterColumns"]] == cols
    assert mv["spec"]["versions"][0]["subresources"] == {"status": {}}
    # The policy scales (kubectl scale, an HPA, KEDA): spec.replicas <-> status.replicas.
    assert up["spec"]["versions"][0]["subresources"] == {"status": {}, "scale": {
        "specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas",
        "labelSelectorPath": ".status.selector"}}
