"""Bad input gets a clear answer: from the API server (schema, CEL) or as Valid=False."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.support.kube import Kube
from tests.support.manifests import served
from tests.support.operator import OperatorProcess
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

MV = """
apiVersion: modelops.io/v1alpha1
kind: ModelVersion
metadata: {{name: {name}}}
spec:
{spec}
"""

UP = """
apiVersion: modelops.io/v1alpha1
kind: UpdatePolicy
metadata: {{name: {name}}}
spec:
{spec}
"""


ONE_STEP = "each step is exactly one of setWeight, pause, setHeaderRoute or setMirror"


def indent(text: str) -> str:
    return "\n".join("  " + line for line in text.strip().splitlines())


@pytest.mark.parametrize(("spec", "message"), [
    pytest.param("model: sentiment\nversion: '1'", "spec.artifact is required unless "
                 "spec.training.outputURI says where", id="artifact-required"),
    pytest.param("model: m\nversion: '1'\ntraining: {image: t, command: [x]}",
                 "spec.artifact is required unless spec.training.outputURI", id="no-output"),
    pytest.param("model: Sentiment\nversion: '1'\nartifact: {uri: s3://b/m}",
                 "spec.model: Invalid value", id="model-not-dns"),
    pytest.param("model: m\nversion: '-1'\nartifact: {uri: s3://b/m}", "spec.version",
                 id="version-leading-dash"),
    pytest.param("model: m\nversion: '" + "x" * 64 + "'\nartifact: {uri: s3://b/m}",
                 "spec.version", id="version-too-long"),
    pytest.param("model: m\nversion: '1'\nartifact: {uri: ftp://b/m}", "spec.artifact.uri",
                 id="artifact-scheme"),
    pytest.param("model: m\nversion: '1'\nartifact: {uri: s3://b/m, digest: md5:abc}",
                 "spec.artifact.digest", id="digest-format"),
    pytest.param("model: m\nversion: '1'\nartifact: {uri: s3://b/m}\nserving: {replicas: 1}",
                 "serving.image is required when serving.runtime is custom", id="custom-no-image"),
    pytest.param("model: m\nversion: '1'\nartifact: {uri: s3://b/m}\n"
                 "serving: {runtime: llamacpp, resources: {gpu: 1}}",
                 "the llamacpp preset's image is built for CPU", id="llamacpp-gpu-no-image"),
    pytest.param("model: m\nversion: '1'\nartifact: {uri: s3://b/m}\n"
                 "serving: {runtime: onnx, image: i}", "Unsupported value: \"onnx\"",
                 id="unknown-runtime"),
    pytest.param("model: m\nversion: '1'\nartifact: {uri: s3://b/m}\n"
                 "serving: {image: i, replicas: -1}", "spec.serving.replicas", id="neg-replicas"),
    pytest.param("model: m\nversion: '1'\nartifact: {uri: s3://b/m}\n"
                 "serving: {image: i, port: 70000}", "spec.serving.port", id="port-range"),
    pytest.param("model: m\nversion: '1'\nartifact: {uri: s3://b/m}\n"
                 "evaluation: {image: e, command: [x], gates: [{metric: acc}]}",
                 "a gate needs min, max or both", id="gate-without-bounds"),
    pytest.param("model: m\nversion: '1'\nartifact: {uri: s3://b/m}\n"
                 "evaluation: {image: e, command: [x], gates: [{metric: acc, min: 0.9, max: 0.1}]}",
                 "gate min must be <= max", id="gate-min-over-max"),
    pytest.param("model: m\nversion: '1'\ntraining: {image: t, command: [x], nodes: 0}",
                 "spec.training.nodes", id="zero-nodes"),
    pytest.param("model: m\nversion: '1'\ntraining: {image: t, command: [x], backend: mpi}",
                 "spec.training.backend", id="backend"),
    pytest.param("model: m\nversion: '1'\ntraining: {image: t, command: [x], outputURI: "
                 "s3://b/m, priorityClass: high}", "priorityClass is Kueue's: it needs queueName",
                 id="priority-without-queue"),
])
def test_modelversion_rejections(kube: Kube, namespace: str, spec: str, message: str) -> None:
    r = kube.apply_yaml(namespace, MV.format(name="bad", spec=indent(spec)))
    assert r.returncode != 0, "the API server accepted an invalid ModelVersion"
    assert message in r.stderr, r.stderr


@pytest.mark.parametrize(("spec", "message"), [
    pytest.param("model: m\nstrategy: {canary: {steps: [{setWeight: 150}]}}",
                 "setWeight", id="weight-over-100"),
    pytest.param("model: m\nstrategy: {canary: {steps: [{setWeight: 10, pause: {}}]}}",
                 ONE_STEP, id="step-both"),
    pytest.param("model: m\nstrategy: {canary: {steps: [{}]}}", ONE_STEP, id="step-empty"),
    pytest.param("model: m\nstrategy: {canary: {steps: [{pause: {duration: soon}}]}}",
                 "duration", id="duration-format"),
    pytest.param("model: m\nstrategy: {canary: {trafficRouting: {replicas: {}, "
                 "gatewayAPI: {httpRoute: r}}}}",
                 "trafficRouting needs exactly one of replicas, gatewayAPI or smi",
                 id="two-routers"),
    pytest.param("model: m\nstrategy: {canary: {trafficRouting: {}}}",
                 "trafficRouting needs exactly one of replicas, gatewayAPI or smi", id="no-router"),
    pytest.param("model: m\nstrategy: {canary: {steps: [{setMirror: {percent: 10}}]}}",
                 "setHeaderRoute and setMirror steps need trafficRouting.gatewayAPI",
                 id="mirror-without-a-gateway"),
    pytest.param("model: m\nstrategy: {canary: {steps: [{setWeight: 10, setMirror: {percent: "
                 "10}}], trafficRouting: {gatewayAPI: {httpRoute: r}}}}",
                 ONE_STEP, id="two-kinds-in-a-step"),
    pytest.param("model: m\nstrategy: {canary: {steps: [{setHeaderRoute: {match: [{headerName: "
                 "x, headerValue: v1, cookieName: c, cookieValue: v2}]}}], trafficRouting: "
                 "{gatewayAPI: {httpRoute: r}}}}",
                 "a match is either headerName with headerValue, or cookieName with cookieValue",
                 id="header-and-cookie-in-one-match"),
    pytest.param("model: m\nstrategy: {canary: {steps: [{setHeaderRoute: {match: [{headerName: "
                 "Cookie, headerValue: a=b}]}}], trafficRouting: {gatewayAPI: {httpRoute: r}}}}",
                 "match a cookie with cookieName and cookieValue, not the Cookie header",
                 id="cookie-header"),
    pytest.param("model: m\nstrategy: {canary: {trafficRouting: {gatewayAPI: {httpRoute: r, "
                 "implementation: Envoy}}}}", "Unsupported value", id="unknown-implementation"),
    pytest.param("model: m\nstrategy: {canary: {trafficRouting: {gatewayAPI: {httpRoute: r, "
                 "sessionAffinity: {cookieName: v}}}}}", "sessionAffinity needs implementation: "
                 "Traefik", id="sticky-on-standard"),
    pytest.param("model: m\nstrategy: {canary: {trafficRouting: {gatewayAPI: {httpRoute: r, "
                 "implementation: Traefik, sessionAffinity: {cookieName: 'a b'}}}}}",
                 "spec.strategy.canary.trafficRouting.gatewayAPI.sessionAffinity.cookieName",
                 id="sticky-cookie-not-a-token"),
    pytest.param("model: m\nanalysis: {prometheus: {address: http://p:9090}, metrics: "
                 "[{name: err, query: q}]}", "a metric needs min, max or both",
                 id="metric-without-bounds"),
    pytest.param("model: m\nanalysis: {prometheus: {address: p:9090}, metrics: "
                 "[{name: err, query: q, max: 1}]}", "spec.analysis.prometheus.address",
                 id="prometheus-not-url"),
    pytest.param("model: m\nhistoryLimit: 0", "spec.historyLimit", id="history-limit"),
    pytest.param("model: m\nautoscaling: {minReplicas: 4, maxReplicas: 2, metrics: "
                 "[{template: cpu, target: 70}]}", "minReplicas must be <= maxReplicas",
                 id="autoscaling-min-over-max"),
    pytest.param("model: m\nautoscaling: {minReplicas: 0, maxReplicas: 2, metrics: "
                 "[{template: cpu, target: 70}]}", "spec.autoscaling.minReplicas",
                 id="autoscaling-to-zero"),
    pytest.param("model: m\nautoscaling: {maxReplicas: 2, metrics: [{template: cpu, "
                 "query: q, target: 1}]}",
                 "a scaling metric needs exactly one of query or template",
                 id="autoscaling-query-and-template"),
    pytest.param("model: m\nautoscaling: {maxReplicas: 2, metrics: "
                 "[{template: requests-in-flight, target: 4}]}",
                 "autoscaling metrics other than cpu need a Prometheus",
                 id="autoscaling-without-prometheus"),
    pytest.param("model: m\nretraining: {template: m-2, templateSpec: {training: "
                 "{image: t, command: [x]}}}",
                 "retraining needs template (a ModelVersion's name) or templateSpec",
                 id="retraining-both-templates"),
    pytest.param("model: m\nretraining: {onRegression: true}",
                 "retraining needs template (a ModelVersion's name) or templateSpec",
                 id="retraining-no-template"),
])
def test_updatepolicy_rejections(kube: Kube, namespace: str, spec: str, message: str) -> None:
    r = kube.apply_yaml(namespace, UP.format(name="bad", spec=indent(spec)))
    assert r.returncode != 0, "the API server accepted an invalid UpdatePolicy"
    assert message in r.stderr, r.stderr


@pytest.mark.parametrize(("field", "patch", "message"), [
    pytest.param("model", {"spec": {"model": "other"}}, "spec.model is immutable", id="model"),
    pytest.param("version", {"spec": {"version": "9"}}, "spec.version is immutable",
                 id="version"),
    pytest.param("artifact", {"spec": {"artifact": {"uri": "s3://elsewhere/"}}},
                 "spec.artifact is immutable", id="artifact"),
])
def test_identity_is_immutable(kube: Kube, namespace: str, field: str, patch: dict[str, object],
                               message: str) -> None:
    kube.create(namespace, served("m-v1", "m", "1"))
    with pytest.raises(Exception) as err:
        kube.patch_mv(namespace, "m-v1", patch)
    assert message in str(err.value)


def test_mutable_fields_can_change(kube: Kube, operator: OperatorProcess,
                                   namespace: str) -> None:
    """What is not immutable (description, serving) changes: the API server stores it as a
    new generation and the operator follows it."""
    created = kube.create(namespace, served("m-v1", "m", "1"))
    wait_for(lambda: conditions(kube, namespace, "m-v1").get("Ready", {}).get("status")
             == "True", what="m-v1 Ready")
    changed = kube.patch_mv(namespace, "m-v1", {"spec": {"description": "new", "serving": {
        "replicas": 3, "image": "example.com/m:1.1"}}})
    assert changed["spec"]["description"] == "new"
    assert changed["spec"]["serving"]["replicas"] == 3
    assert changed["metadata"]["generation"] == created["metadata"]["generation"] + 1

    def followed() -> bool:
        dep = kube.apps.read_namespaced_deployment("m-1", namespace)
        return bool(dep.spec.replicas == 3 and dep.status.ready_replicas == 3
                    and dep.spec.template.spec.containers[0].image == "example.com/m:1.1")
    wait_for(followed, what="the Deployment at 3 replicas of the new image")
    # Ready again once every replica runs the new spec (during the update the old pods count
    # as ready replicas, and the version is Pending).
    st = wait_for(lambda: (s := (kube.get_mv(namespace, "m-v1") or {})["status"]).get(
        "phase") == "Ready" and s["serving"]["readyReplicas"] == 3 and s,
        what="the status saying so")
    assert st["observedGeneration"] == changed["metadata"]["generation"]


def test_defaults_are_filled_in(kube: Kube, namespace: str) -> None:
    kube.create(namespace, served("m-v1", "m", "1"))
    mv = kube.get_mv(namespace, "m-v1")
    assert mv is not None and mv["spec"]["serving"]["runtime"] == "custom"


def conditions(kube: Kube, ns: str, name: str) -> dict[str, dict[str, str]]:
    mv = kube.get_mv(ns, name) or {}
    return {c["type"]: c for c in (mv.get("status") or {}).get("conditions", [])}


def test_duplicate_version_is_refused(kube: Kube, operator: OperatorProcess,
                                      namespace: str) -> None:
    kube.create(namespace, served("first", "m", "1"))
    wait_for(lambda: conditions(kube, namespace, "first").get("Ready", {}).get("status")
             == "True", what="first Ready")
    kube.create(namespace, served("second", "m", "1", image="other"))
    valid = wait_for(lambda: conditions(kube, namespace, "second").get("Valid"),
                     what="second judged")
    assert valid["status"] == "False" and valid["reason"] == "DuplicateVersion"
    assert "'first'" in valid["message"]
    warnings = wait_for(lambda: [e for e in kube.events(namespace, "second")
                                 if e.type == "Warning"], what="Warning event")
    assert warnings[0].reason == "DuplicateVersion" and "first" in warnings[0].message
    deps = kube.apps.list_namespaced_deployment(namespace).items
    assert [d.metadata.owner_references[0].name for d in deps] == ["first"]
    # Deleting the holder lets the later one take the version.
    kube.delete_mv(namespace, "first")
    wait_for(lambda: conditions(kube, namespace, "second").get("Ready", {}).get("status")
             == "True", timeout=60, what="second takes over")


@pytest.mark.parametrize(("serving", "needle"), [
    pytest.param({"resources": {"gpu": 16}}, "no node can run a serving pod asking for 16 GPU",
                 id="more-gpus-than-any-node"),
    pytest.param({"resources": {"gpu": 1}, "nodeSelector": {"pool": "none"}},
                 "no node can run", id="selector-matches-no-gpu-node"),
    pytest.param({"resources": {"cpu": "two"}}, "serving.resources.cpu", id="bad-quantity"),
    pytest.param({"env": [{"name": "MODEL_URI", "value": "x"}]}, "MODEL_URI is set by modelops",
                 id="reserved-env"),
])
def test_operator_reports_what_the_schema_cannot(kube: Kube, operator: OperatorProcess,
                                                 namespace: str, serving: dict[str, object],
                                                 needle: str) -> None:
    kube.create(namespace, served("m-v1", "m", "1", **serving))
    valid = wait_for(lambda: conditions(kube, namespace, "m-v1").get("Valid"), what="verdict")
    assert valid["status"] == "False" and valid["reason"] == "InvalidSpec"
    assert needle in valid["message"]
    assert (kube.get_mv(namespace, "m-v1") or {})["status"]["phase"] == "Failed"
    wait_for(lambda: [e for e in kube.events(namespace, "m-v1") if e.type == "Warning"],
             what="Warning event")
    assert kube.apps.list_namespaced_deployment(namespace).items == []


def test_gpu_version_lands_on_a_gpu_node(kube: Kube, operator: OperatorProcess,
                                         namespace: str) -> None:
    kube.create(namespace, served("m-v1", "m", "1", resources={"gpu": 4}))
    wait_for(lambda: conditions(kube, namespace, "m-v1").get("Ready", {}).get("status")
             == "True", what="Ready")
    pod = kube.core.list_namespaced_pod(namespace).items[0]
    assert pod.spec.node_name.startswith("kwok-gpu-")
    assert pod.spec.containers[0].resources.limits["nvidia.com/gpu"] == "4"


def test_version_refused_for_want_of_a_node_runs_when_one_joins(
        kube: Kube, operator: OperatorProcess, namespace: str) -> None:
    """Whether a node fits is the cluster's state, not the spec's: a new node is news."""
    pool = f"late-{namespace}"
    kube.create(namespace, served("m-v1", "m", "1", resources={"gpu": 1},
                                  nodeSelector={"pool": pool}))
    valid = wait_for(lambda: conditions(kube, namespace, "m-v1").get("Valid"), what="verdict")
    assert valid["status"] == "False" and "no node can run" in valid["message"]
    node = f"kwok-{pool}"[:63]
    kube.core.create_node({
        "metadata": {"name": node, "labels": {"type": "kwok", "pool": pool,
                                              "kubernetes.io/hostname": node},
                     "annotations": {"kwok.x-k8s.io/node": "fake"}},
        "status": {"allocatable": {"cpu": "8", "memory": "32Gi", "pods": "20",
                                   "nvidia.com/gpu": "1"},
                   "capacity": {"cpu": "8", "memory": "32Gi", "pods": "20",
                                "nvidia.com/gpu": "1"}}})
    try:
        wait_for(lambda: conditions(kube, namespace, "m-v1").get("Ready", {}).get("status")
                 == "True", timeout=60, what="served once a fitting node joined")
        assert conditions(kube, namespace, "m-v1")["Valid"]["status"] == "True"
        pod = kube.core.list_namespaced_pod(namespace).items[0]
        assert pod.spec.node_name == node
    finally:
        kube.core.delete_node(node)


@pytest.mark.parametrize(("window", "needle"), [
    pytest.param({"schedule": "0 25 * * *", "duration": "1h"}, "out of range 0-23",
                 id="hour-25"),
    pytest.param({"schedule": "0 2 * * funday", "duration": "1h"}, "is not a number",
                 id="unknown-weekday"),
])
def test_a_bad_window_schedule_is_a_condition_and_one_event_not_a_retry_loop(
        kube: Kube, operator: OperatorProcess, namespace: str, window: dict[str, str],
        needle: str) -> None:
    kube.create(namespace, served("m-v1", "m", "1"))
    kube.create(namespace, {"apiVersion": "modelops.io/v1alpha1", "kind": "UpdatePolicy",
                            "metadata": {"name": "m"},
                            "spec": {"model": "m", "autoUpdate": {"enabled": True,
                                                                  "window": window}}})

    def valid() -> dict[str, Any] | None:
        st = (kube.get_up(namespace, "m") or {}).get("status") or {}
        return next((c for c in st.get("conditions") or [] if c["type"] == "Valid"), None)
    cond = wait_for(valid, what="a Valid condition")
    assert cond["status"] == "False" and cond["reason"] == "InvalidSpec", cond
    assert "autoUpdate.window.schedule" in cond["message"] and needle in cond["message"], cond
    time.sleep(3)  # rounds come and go; the verdict is said once, and nothing raises
    warnings = [e for e in kube.events(namespace, "m") if e.type == "Warning"]
    assert [e.reason for e in warnings] == ["InvalidSpec"] and warnings[0].count in (None, 1)
    assert f"{namespace}/m: reconcile failed" not in operator.log_text()
    # Sunday as 7 is cron, and fixing the schedule makes the policy valid.
    kube.kubectl("patch", "updatepolicy", "m", "-n", namespace, "--type=merge", "-p",
                 '{"spec": {"autoUpdate": {"window": {"schedule": "0 2 * * 7"}}}}')
    wait_for(lambda: (valid() or {}).get("status") == "True", what="valid again")


def test_a_child_the_api_server_refuses_fails_the_version_once_until_the_spec_changes(
        kube: Kube, operator: OperatorProcess, namespace: str) -> None:
    # valueFrom is passed through as the user wrote it; an empty one passes our schema and
    # validation, and the API server refuses the Deployment made from it (422).
    kube.create(namespace, served("m-v1", "m", "1", env=[{"name": "X", "valueFrom": {}}]))
    ready = wait_for(lambda: (c := conditions(kube, namespace, "m-v1").get("Ready")) and
                     c["reason"] == "RejectedByAPIServer" and c, what="the refusal")
    assert "valueFrom" in ready["message"] or "must specify" in ready["message"], ready
    assert (kube.get_mv(namespace, "m-v1") or {})["status"]["phase"] == "Failed"
    time.sleep(5)  # a retry loop would have tried 3 more times by now (1, 2, 4 s)
    warnings = [e for e in kube.events(namespace, "m-v1") if e.type == "Warning"]
    assert [e.reason for e in warnings] == ["RejectedByAPIServer"], warnings
    assert operator.log_text().count(f"{namespace}/m-v1: the API server refused") == 1
    kube.kubectl("patch", "modelversion", "m-v1", "-n", namespace, "--type=merge", "-p",
                 '{"spec": {"serving": {"env": [{"name": "X", "value": "1"}]}}}')
    wait_for(lambda: (kube.get_mv(namespace, "m-v1") or {})["status"]["phase"] == "Ready",
             what="Ready once the spec is fixed")
    assert conditions(kube, namespace, "m-v1")["Valid"]["status"] == "True"
