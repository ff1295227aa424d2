"""The hardened defaults of every pod the operator makes, and what a version may loosen.
(That the API server admits them under Pod Security `restricted` is
tests/integration/test_pod_security.py.)"""

from __future__ import annotations

from typing import Any

import pytest

from modelops import security
from modelops.api.modelversion import ModelVersionSpec
from modelops.api.security import SecurityContext
from modelops.serving.builders import deployment
from modelops.settings import Settings

SETTINGS = Settings(fetcher_image="fetcher:1")


def served(**serving: Any) -> dict[str, Any]:
    spec = {"model": "m", "version": "1", "artifact": {"uri": "s3://b/m/"},
            "serving": {"image": "acme/s:1", **serving}}
    body = {"apiVersion": "modelops.io/v1alpha1", "kind": "ModelVersion",
            "metadata": {"name": "m-v1", "namespace": "ns", "uid": "u"}, "spec": spec}
    typed = ModelVersionSpec.model_validate(spec)
    return deployment(body, typed, "s3://b/m/", 1, SETTINGS)["spec"]["template"]["spec"]


def test_defaults_are_restricted() -> None:
    pod = served()
    assert pod["securityContext"] == {"runAsNonRoot": True,
                                      "seccompProfile": {"type": "RuntimeDefault"}}
    for c in [*pod["containers"], *pod["initContainers"]]:
        assert c["securityContext"] == {"allowPrivilegeEscalation": False,
                                        "capabilities": {"drop": ["ALL"]},
                                        "readOnlyRootFilesystem": True}, c["name"]
        assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"], c["name"]
        assert c["resources"]["requests"] and c["resources"]["limits"]["memory"], c["name"]
    server = pod["containers"][0]
    assert server["livenessProbe"]["tcpSocket"] == {"port": "http"}
    assert server["startupProbe"]["failureThreshold"] * server["startupProbe"][
        "periodSeconds"] == 600


@pytest.mark.parametrize(("runtime", "uid", "read_only", "memory"), [
    pytest.param("custom", None, True, None, id="custom: the image's user"),
    pytest.param("vllm", 1000, False, "16Gi", id="vllm"),
    pytest.param("triton", 1000, False, "8Gi", id="triton"),
    pytest.param("torchserve", 1000, False, "4Gi", id="torchserve"),
])
def test_presets_say_their_user_and_filesystem(runtime: str, uid: int | None, read_only: bool,
                                                memory: str | None) -> None:
    pod = served(runtime=runtime)
    server = pod["containers"][0]
    assert pod["securityContext"].get("runAsUser") == uid
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert server["securityContext"]["readOnlyRootFilesystem"] is read_only
    env = {e["name"]: e.get("value") for e in server["env"]}
    assert (env.get("HOME") == "/tmp") is (uid is not None)
    want = memory or "2Gi"
    assert server["resources"]["limits"]["memory"] == want


def test_a_version_loosens_what_its_runtime_needs() -> None:
    pod = served(runtime="vllm", securityContext={
        "runAsUser": 0, "runAsNonRoot": False, "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": True, "capabilities": {"add": ["NET_BIND_SERVICE"]},
        "fsGroup": 2000})
    assert pod["securityContext"] == {"runAsNonRoot": False, "runAsUser": 0, "fsGroup": 2000,
                                      "seccompProfile": {"type": "RuntimeDefault"}}
    assert pod["containers"][0]["securityContext"] == {
        "allowPrivilegeEscalation": True, "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}
    # The fetcher is the project's own image and keeps every default.
    assert pod["initContainers"][0]["securityContext"]["allowPrivilegeEscalation"] is False


@pytest.mark.parametrize(("cpu", "memory", "gpus", "default", "requests", "limits"), [
    pytest.param(None, None, 0, None, {"cpu": "100m", "memory": "256Mi"}, {"memory": "2Gi"},
                 id="nothing given: the operator's defaults"),
    pytest.param("2", "8Gi", 0, None, {"cpu": "2", "memory": "8Gi"}, {"cpu": "2", "memory": "8Gi"},
                 id="given: request = limit"),
    pytest.param(None, "1Gi", 1, None, {"cpu": "100m", "memory": "1Gi", "nvidia.com/gpu": "1"},
                 {"memory": "1Gi", "nvidia.com/gpu": "1"}, id="memory and a GPU"),
    pytest.param("1", None, 0, "16Gi", {"cpu": "1", "memory": "16Gi"},
                 {"cpu": "1", "memory": "16Gi"}, id="a preset's memory"),
])
def test_resources(cpu: Any, memory: Any, gpus: int, default: str | None,
                   requests: dict[str, str], limits: dict[str, str]) -> None:
    assert security.resources(cpu, memory, gpus, SETTINGS, default) == {
        "requests": requests, "limits": limits}


def test_settings_change_the_defaults() -> None:
    s = Settings.from_env({"MODELOPS_DEFAULT_CPU": "250m", "MODELOPS_DEFAULT_MEMORY": "1Gi",
                           "MODELOPS_DEFAULT_MEMORY_LIMIT": "4Gi"})
    assert security.resources(None, None, 0, s) == {
        "requests": {"cpu": "250m", "memory": "1Gi"}, "limits": {"memory": "4Gi"}}
    assert security.pod_context(SecurityContext(runAsGroup=5))["runAsGroup"] == 5
