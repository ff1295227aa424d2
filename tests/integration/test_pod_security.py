"""Every pod the operator makes is admitted by the API server's Pod Security admission under
`restricted`, as built from each runtime preset, training and evaluation; a version that
loosens its defaults is refused there, with the reason. (Real pods running so, on the real
node, are the real-node tests: their namespaces enforce `restricted` too.)"""

from __future__ import annotations

import json
from typing import Any

import pytest

from modelops.api.modelversion import ModelVersionSpec
from modelops.serving.builders import deployment
from modelops.settings import Settings
from modelops.training.builders import evaluation_job, training_job
from modelops.training.steps import effective_steps
from tests.support.kube import Kube

pytestmark = pytest.mark.integration
SETTINGS = Settings()


def body(spec: dict[str, Any]) -> tuple[dict[str, Any], ModelVersionSpec]:
    mv = {"apiVersion": "modelops.io/v1alpha1", "kind": "ModelVersion",
          "metadata": {"name": "m-v1", "namespace": "ns", "uid": "u-1"}, "spec": spec}
    return mv, ModelVersionSpec.model_validate(spec)


def serving_pod(**serving: Any) -> dict[str, Any]:
    mv, spec = body({"model": "m", "version": "1", "artifact": {"uri": "s3://b/m/"},
                     "serving": serving})
    return deployment(mv, spec, "s3://b/m/", 1, SETTINGS)["spec"]["template"]


def training_pods() -> list[dict[str, Any]]:
    mv, spec = body({"model": "m", "version": "1",
                     "training": {"image": "t:1", "command": ["python", "train.py"],
                                  "nodes": 2, "gpusPerNode": 1, "outputURI": "s3://o/m/1",
                                  "checkpoint": {"claimName": "ckpt"}},
                     "evaluation": {"image": "e:1", "command": ["python", "eval.py"]}})
    step = effective_steps(spec.training)[0]  # type: ignore[arg-type]
    return [training_job(mv, spec, step, 1, SETTINGS)["spec"]["template"],
            evaluation_job(mv, spec, "s3://o/m/1", SETTINGS)["spec"]["template"]]


def admit(kube: Kube, ns: str, template: dict[str, Any], name: str) -> tuple[bool, str]:
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "labels": template["metadata"].get("labels", {})},
           "spec": template["spec"]}
    r = kube.kubectl("create", "--dry-run=server", "-n", ns, "-f", "-",
                     stdin=json.dumps(pod), check=False)
    return r.returncode == 0, r.stdout + r.stderr


def test_every_pod_the_operator_makes_is_admitted_under_restricted(
        kube: Kube, namespace: str) -> None:
    kube.kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted")
    templates = {
        "custom": serving_pod(image="acme/s:1"),
        "vllm": serving_pod(runtime="vllm", resources={"gpu": 2}),
        "triton": serving_pod(runtime="triton"),
        "torchserve": serving_pod(runtime="torchserve"),
        "llamacpp": serving_pod(runtime="llamacpp"),
    }
    templates["training"], templates["evaluation"] = training_pods()
    for name, template in templates.items():
        ok, out = admit(kube, namespace, template, name)
        assert ok, f"{name}: {out}"

    # The check bites: a version that asks to run as root is refused, and says why.
    loose = serving_pod(image="acme/s:1", securityContext={"runAsNonRoot": False,
                                                           "runAsUser": 0})
    ok, out = admit(kube, namespace, loose, "root")
    assert not ok and "restricted" in out and "runAsNonRoot" in out, out
    escalating = serving_pod(image="acme/s:1", securityContext={"allowPrivilegeEscalation": True})
    ok, out = admit(kube, namespace, escalating, "escalating")
    assert not ok and "allowPrivilegeEscalation" in out, out
