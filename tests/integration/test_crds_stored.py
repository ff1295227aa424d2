"""What crds/ holds is exactly what the API server stores: GitOps tools diff the two, and any
field the server normalises away is drift that never settles (self-heal applies it forever)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.kube import Kube

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def lost(desired: Any, live: Any, where: str = "") -> list[str]:
    """Paths where `live` lacks or changes what `desired` says (live may add defaults)."""
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return [where or "."]
        return [p for k, v in desired.items()
                for p in (lost(v, live[k], f"{where}.{k}") if k in live else [f"{where}.{k}"])]
    if isinstance(desired, list):
        if not isinstance(live, list) or len(live) != len(desired):
            return [where]
        return [p for i, (d, v) in enumerate(zip(desired, live, strict=True))
                for p in lost(d, v, f"{where}[{i}]")]
    return [] if desired == live else [where]


@pytest.mark.parametrize("path", sorted(p.name for p in (ROOT / "crds").glob("*.yaml")))
def test_the_api_server_stores_the_crd_as_written(kube: Kube, path: str) -> None:
    desired = yaml.safe_load((ROOT / "crds" / path).read_text())
    live = kube.get_json("crd", desired["metadata"]["name"])
    assert lost(desired["spec"], live["spec"], "spec") == []
    assert lost(desired["metadata"].get("labels") or {},
                live["metadata"].get("labels") or {}, "labels") == []


def test_lost_finds_what_the_server_drops() -> None:
    """The check itself, on the defect it guards: an empty `properties` the server drops."""
    desired = {"a": {"type": "object", "properties": {}}, "b": [1, 2]}
    assert lost(desired, {"a": {"type": "object"}, "b": [1, 2], "extra": 1}) == [
        ".a.properties"]
    assert lost(desired, {"a": {"type": "object", "properties": {}}, "b": [1]}) == [".b"]
