"""The examples users copy validate against the API, and the LLM ones render into the
Deployments the presets promise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from modelops.api.modelversion import ModelVersionSpec
from modelops.api.updatepolicy import UpdatePolicySpec
from modelops.serving.builders import deployment
from modelops.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SPECS = {"ModelVersion": ModelVersionSpec, "UpdatePolicy": UpdatePolicySpec}
EXAMPLES = sorted((ROOT / "examples").rglob("*.yaml"))


def docs(path: Path) -> list[dict[str, Any]]:
    """The file's objects, with the placeholder the demo fills in (its Prometheus) filled."""
    text = path.read_text().replace("PROMETHEUS_ADDRESS", "http://prometheus.monitoring:9090")
    return [d for d in yaml.safe_load_all(text) if d]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT / "examples")))
def test_every_example_validates(path: Path) -> None:
    for obj in docs(path):
        if obj.get("apiVersion") == "modelops.io/v1alpha1":
            SPECS[obj["kind"]].model_validate(obj["spec"])


def render(path: str) -> dict[str, Any]:
    (mv,) = [d for d in docs(ROOT / "examples" / path) if d["kind"] == "ModelVersion"]
    mv["metadata"].update(namespace="ns", uid="u-1")
    spec = ModelVersionSpec.model_validate(mv["spec"])
    uri = spec.artifact.uri if spec.artifact else "s3://models/x"
    return deployment(mv, spec, uri, 1, Settings())["spec"]["template"]["spec"]


def test_the_vllm_example_uses_both_its_gpus() -> None:
    pod = render("llm-vllm-gpu.yaml")
    server = pod["containers"][0]
    assert server["args"][-2:] == ["--tensor-parallel-size", "2"]
    assert server["resources"]["limits"]["nvidia.com/gpu"] == "2"
    assert {"name": "shm", "mountPath": "/dev/shm"} in server["volumeMounts"]
    assert "vllm:num_requests_running" in server["lifecycle"]["preStop"]["exec"]["command"]


def test_the_tiny_llm_example_is_served_by_llama_server() -> None:
    pod = render("llm/tiny-llm-v1.yaml")
    server = pod["containers"][0]
    assert server["image"] == Settings().llamacpp_image
    assert "--metrics" in server["args"]
    assert server["readinessProbe"]["httpGet"]["path"] == "/health"
    assert pod["initContainers"][0]["image"] == Settings().fetcher_image  # weights from S3
