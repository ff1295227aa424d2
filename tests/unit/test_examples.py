"""examples/gitops is meant to be synced as a folder: every file valid, none pinned to a
namespace (the Application's destination decides)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from modelops.api.modelversion import ModelVersionSpec
from modelops.api.updatepolicy import UpdatePolicySpec

ROOT = Path(__file__).resolve().parents[2]
SPECS = {"ModelVersion": ModelVersionSpec, "UpdatePolicy": UpdatePolicySpec}


@pytest.mark.parametrize("path", sorted((ROOT / "examples" / "gitops").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_gitops_example_is_valid_and_namespace_free(path: Path) -> None:
    for obj in yaml.safe_load_all(path.read_text()):
        assert obj["apiVersion"] == "modelops.io/v1alpha1"
        assert "namespace" not in obj["metadata"]
        SPECS[obj["kind"]].model_validate(obj["spec"])
