"""Serving manifests from a ModelVersion, as tables of named cases."""

from __future__ import annotations

from typing import Any

import pytest

from modelops.api.modelversion import ModelVersionSpec
from modelops.serving.builders import deployment, service
from modelops.settings import Settings

SETTINGS = Settings(fetcher_image="fetcher:1")


def mv(**serving: Any) -> tuple[dict[str, Any], ModelVersionSpec]:
    spec = {"model": "sentiment", "version": "2",
            "artifact": serving.pop("artifact", {"uri": "s3://models/sentiment/2/"}),
            "serving": serving}
    body = {"apiVersion": "modelops.io/v1alpha1", "kind": "ModelVersion",
            "metadata": {"name": "sentiment-v2", "namespace": "ns", "uid": "u-1"}, "spec": spec}
    return body, ModelVersionSpec.model_validate(spec)


def build(**serving: Any) -> dict[str, Any]:
    body, spec = mv(**serving)
    return deployment(body, spec, spec.artifact.uri if spec.artifact else "", 2, SETTINGS)


def container(dep: dict[str, Any]) -> dict[str, Any]:
    return dep["spec"]["template"]["spec"]["containers"][0]


def env(dep: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in container(dep)["env"]}


@pytest.mark.parametrize(("serving", "image", "port", "ready", "args_has", "metrics_port"), [
    pytest.param({"runtime": "custom", "image": "acme/s:2"}, "acme/s:2", 8080, "/healthz",
                 None, "8080", id="custom-defaults"),
    pytest.param({"runtime": "custom", "image": "acme/s:2", "port": 9000,
                  "readinessPath": "/ready", "metricsPath": "/m"},
                 "acme/s:2", 9000, "/ready", None, "9000", id="custom-overrides"),
    pytest.param({"runtime": "vllm"}, "vllm/vllm-openai:v0.11.0", 8000, "/health",
                 "--served-model-name", "8000", id="vllm"),
    pytest.param({"runtime": "triton"}, "nvcr.io/nvidia/tritonserver:25.01-py3", 8000,
                 "/v2/health/ready", "--model-repository=$(MODEL_DIR)", "8002", id="triton"),
    pytest.param({"runtime": "torchserve"}, "pytorch/torchserve:0.12.0-cpu", 8080, "/ping",
                 "--foreground", "8082", id="torchserve-cpu"),
    pytest.param({"runtime": "torchserve", "resources": {"gpu": 1}},
                 "pytorch/torchserve:0.12.0-gpu", 8080, "/ping", "--foreground", "8082",
                 id="torchserve-gpu"),
    pytest.param({"runtime": "vllm", "image": "mine/vllm:1", "args": ["--x"]}, "mine/vllm:1",
                 8000, "/health", "--x", "8000", id="preset-overridden"),
])
def test_runtime_presets(serving: dict[str, Any], image: str, port: int, ready: str,
                         args_has: str | None, metrics_port: str) -> None:
    dep = build(**serving)
    c = container(dep)
    assert c["image"] == image
    assert c["ports"][0] == {"name": "http", "containerPort": port, "protocol": "TCP"}
    assert c["readinessProbe"]["httpGet"] == {"path": ready, "port": "http"}
    if args_has:
        assert args_has in c["args"]
    ann = dep["spec"]["template"]["metadata"]["annotations"]
    assert ann["prometheus.io/port"] == metrics_port


def test_labels_selector_and_owner() -> None:
    dep = build(image="a")
    labels = dep["metadata"]["labels"]
    assert labels["app.kubernetes.io/managed-by"] == "modelops"
    assert labels["modelops.io/model"] == "sentiment" and labels["modelops.io/version"] == "2"
    sel = dep["spec"]["selector"]["matchLabels"]
    assert sel.items() <= dep["spec"]["template"]["metadata"]["labels"].items()
    assert dep["metadata"]["ownerReferences"] == [{
        "apiVersion": "modelops.io/v1alpha1", "kind": "ModelVersion", "name": "sentiment-v2",
        "uid": "u-1", "controller": True, "blockOwnerDeletion": True}]
    assert dep["spec"]["replicas"] == 2


def test_gpu_becomes_extended_resource_and_toleration() -> None:
    dep = build(image="a", resources={"cpu": "2", "memory": "8Gi", "gpu": 2},
                tolerations=[{"key": "dedicated", "operator": "Exists"}])
    res = container(dep)["resources"]
    assert res["limits"] == res["requests"] == {"cpu": "2", "memory": "8Gi",
                                                "nvidia.com/gpu": "2"}
    tol = dep["spec"]["template"]["spec"]["tolerations"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in tol
    assert {"key": "dedicated", "operator": "Exists"} in tol


def test_no_gpu_no_toleration() -> None:
    dep = build(image="a", resources={"cpu": "1"})
    assert "tolerations" not in dep["spec"]["template"]["spec"]


def test_model_location_env_and_fetcher() -> None:
    dep = build(image="a", artifact={"uri": "s3://b/m/", "digest": "sha256:" + "a" * 64},
                env=[{"name": "X", "value": "1"}])
    e = env(dep)
    assert e["MODEL_URI"] == "s3://b/m/" and e["MODEL_NAME"] == "sentiment"
    assert e["MODEL_VERSION"] == "2" and e["MODEL_DIGEST"] == "sha256:" + "a" * 64
    assert e["X"] == "1"
    pod = dep["spec"]["template"]["spec"]
    init = pod["initContainers"][0]
    assert init["image"] == "fetcher:1" and init["args"] == ["s3://b/m/", "/mnt/models"]
    assert pod["volumes"] == [{"name": "model", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}]
    assert container(dep)["volumeMounts"][0]["readOnly"] is True


def test_pvc_artifact_is_mounted_read_only() -> None:
    dep = build(image="a", artifact={"uri": "pvc://models/sentiment/2"})
    pod = dep["spec"]["template"]["spec"]
    assert "initContainers" not in pod
    assert pod["volumes"] == [{"name": "model", "persistentVolumeClaim": {
        "claimName": "models", "readOnly": True}}, {"name": "tmp", "emptyDir": {}}]
    assert container(dep)["volumeMounts"] == [{"name": "model", "mountPath": "/mnt/models",
                                              "readOnly": True, "subPath": "sentiment/2"},
                                             {"name": "tmp", "mountPath": "/tmp"}]


def test_service_addresses_the_version_pods() -> None:
    body, spec = mv(runtime="triton")
    svc = service(body, spec)
    assert svc["metadata"]["name"] == "sentiment-2"
    assert svc["spec"]["selector"] == {"modelops.io/model": "sentiment",
                                       "modelops.io/version": "2", "modelops.io/serving": "true"}
    assert [p["name"] for p in svc["spec"]["ports"]] == ["http", "metrics"]


def test_server_knows_its_model_and_version_and_says_why_it_exits() -> None:
    dep = build(image="acme/s:2")
    assert env(dep)["MODELOPS_MODEL"] == "sentiment" and env(dep)["MODELOPS_VERSION"] == "2"
    assert container(dep)["terminationMessagePolicy"] == "FallbackToLogsOnError"


def test_artifact_credentials_reach_only_the_fetcher_by_reference() -> None:
    dep = build(image="acme/s:2", artifact={"uri": "s3://models/s/2/",
                                            "credentialsSecret": "s3-creds"})
    fetch = dep["spec"]["template"]["spec"]["initContainers"][0]
    assert fetch["envFrom"] == [{"secretRef": {"name": "s3-creds"}}]
    assert "envFrom" not in container(dep)
    assert fetch["terminationMessagePolicy"] == "FallbackToLogsOnError"


def test_a_leaving_pod_keeps_answering_until_kube_proxy_caught_up() -> None:
    c = container(build(image="acme/s:1"))
    assert c["lifecycle"]["preStop"] == {"sleep": {"seconds": 5}}
