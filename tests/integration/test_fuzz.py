"""Fuzzing bad input against the real API server and operator.

Hypothesis mutates valid ModelVersions and UpdatePolicies (wrong types, out-of-range numbers,
huge and unicode strings, missing fields, absurd step lists). Each must be either rejected by the
API server with a readable message, or accepted and judged by the operator (`Valid` True or
False with a reason), with no children for an invalid object and no endless rewriting.
"""

from __future__ import annotations

import copy
import itertools
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kubernetes.client.exceptions import ApiException

from tests.support.kube import GROUP, VERSION, Kube
from tests.support.operator import OperatorProcess
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

DROP = object()
# Small numbers and a few pointed strings reach what only the operator can judge (more GPUs
# than any node has, a Prometheus address outside the allow-list).
scalars = (st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.integers(0, 24)
           | st.floats(allow_nan=False, allow_infinity=False, width=32)
           | st.text(max_size=40) | st.text(min_size=200, max_size=5000)
           | st.sampled_from(["", "-1", "0", "1", "ü-ñ", "a" * 64, "s3://", "pvc://", "10Gi",
                              "-5", "1e9", "nope://x", "UPPER", "a/b",
                              "http://10.0.0.5:9090", "http://169.254.169.254/"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=12), inner, max_size=3), max_leaves=6)

MV_PATHS = ["spec.model", "spec.version", "spec.artifact", "spec.artifact.uri",
            "spec.artifact.digest", "spec.serving", "spec.serving.image", "spec.serving.runtime",
            "spec.serving.replicas", "spec.serving.port", "spec.serving.resources",
            "spec.serving.resources.gpu", "spec.serving.resources.gpu",
            "spec.serving.resources.memory", "spec.serving.env",
            "spec.serving.nodeSelector", "spec.training", "spec.training.nodes",
            "spec.training.gpusPerNode", "spec.training.steps", "spec.training.backend",
            "spec.training.outputURI", "spec.training.maxRestarts", "spec.evaluation",
            "spec.evaluation.gates", "spec.description"]
UP_PATHS = ["spec.model", "spec.targetVersion", "spec.replicas", "spec.strategy",
            "spec.strategy.canary.steps", "spec.analysis", "spec.analysis.interval",
            "spec.analysis.failureLimit", "spec.analysis.prometheus.address",
            "spec.analysis.metrics", "spec.trafficRouting", "spec.historyLimit",
            "spec.progressDeadlineSeconds", "spec.autoUpdate", "spec.paused"]
# Mutations the schema allows and only the operator can refuse.
OPERATOR_ONLY = {
    "ModelVersion": [("spec.serving.resources.gpu", 64), ("spec.training.gpusPerNode", 64),
                     ("spec.artifact.uri", "ftp://host/x"), ("spec.artifact.uri", "pvc://"),
                     ("spec.serving.resources.memory", "lots"),
                     ("spec.serving.env", [{"name": "X", "value": "1",
                                            "valueFrom": {"fieldRef": {"fieldPath": "x"}}}])],
    "UpdatePolicy": [("spec.analysis.prometheus.address", "http://10.0.0.5:9090"),
                     ("spec.analysis.prometheus.address", "http://169.254.169.254/")],
}
step = st.one_of(st.fixed_dictionaries({"setWeight": st.integers(-50, 500)}),
                 st.fixed_dictionaries({"pause": st.fixed_dictionaries(
                     {"duration": st.sampled_from(["1s", "-1s", "forever", "99999h", ""])})}),
                 values)


def base(kind: str, n: int) -> dict[str, Any]:
    if kind == "ModelVersion":
        spec: dict[str, Any] = {
            "model": f"fz{n}", "version": "1", "artifact": {"uri": f"s3://b/fz{n}/1/"},
            "serving": {"image": "example.com/s:1", "replicas": 1},
            "training": {"image": "example.com/t:1", "command": ["python", "t.py"],
                         "nodes": 1, "gpusPerNode": 0, "outputURI": f"s3://b/fz{n}/o/",
                         "podAnnotations": {"pod-complete.stage.kwok.x-k8s.io/delay": "3600s"}},
            "evaluation": {"image": "example.com/e:1", "command": ["e"],
                           "gates": [{"metric": "acc", "min": 0.5}]}}
    else:
        spec = {"model": f"fz{n}", "targetVersion": "1", "replicas": 2,
                "strategy": {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}},
                "analysis": {"interval": "30s", "prometheus": {"address": "http://p:9090"},
                             "metrics": [{"name": "e", "query": "up", "max": 1}]}}
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind,
            "metadata": {"name": f"fz{n}"}, "spec": spec}


def mutate(obj: dict[str, Any], path: str, value: Any) -> None:
    keys = path.split(".")
    node = obj
    for k in keys[:-1]:
        if not isinstance(node.get(k), dict):
            node[k] = {}
        node = node[k]
    if value is DROP:
        node.pop(keys[-1], None)
    else:
        node[keys[-1]] = value


def children_of(kube: Kube, ns: str, uid: str) -> list[str]:
    out = []
    for items in (kube.apps.list_namespaced_deployment(ns).items,
                  kube.batch.list_namespaced_job(ns).items,
                  kube.core.list_namespaced_service(ns).items):
        out += [i.metadata.name for i in items
                if any(r.uid == uid for r in i.metadata.owner_references or [])]
    return out


def test_fuzzed_manifests_are_rejected_or_judged(kube: Kube, operator: OperatorProcess,
                                                 namespace: str) -> None:
    counter = itertools.count()
    rejected: list[str] = []
    accepted: list[tuple[str, str]] = []
    plural = {"ModelVersion": "modelversions", "UpdatePolicy": "updatepolicies"}

    @settings(max_examples=300, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(kind=st.sampled_from(["ModelVersion", "UpdatePolicy"]), data=st.data())
    def one(kind: str, data: st.DataObject) -> None:
        n = next(counter)
        obj = copy.deepcopy(base(kind, n))
        paths = MV_PATHS if kind == "ModelVersion" else UP_PATHS
        for _ in range(data.draw(st.integers(1, 3))):
            if data.draw(st.integers(0, 3)) == 0:
                path, value = data.draw(st.sampled_from(OPERATOR_ONLY[kind]))
            else:
                path = data.draw(st.sampled_from(paths))
                value = data.draw(st.lists(step, max_size=40) if path.endswith("steps") else
                                  st.just(DROP) | values)
            mutate(obj, path, value if value is DROP else copy.deepcopy(value))
        try:
            kube.custom.create_namespaced_custom_object(GROUP, VERSION, namespace,
                                                        plural[kind], obj)
        except ApiException as e:
            assert e.status in (400, 422), f"{e.status}: {e.body}"
            assert "spec" in e.body or "Invalid" in e.body, e.body
            rejected.append(e.body)
            return
        accepted.append((kind, obj["metadata"]["name"]))

    one()
    assert operator.proc is not None and operator.proc.poll() is None, "the operator died"

    def judged(kind: str, name: str) -> dict[str, Any] | None:
        obj = kube._get(plural[kind], namespace, name) or {}
        conds = {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}
        return obj if "Valid" in conds else None

    objs = {}
    for kind, name in accepted:
        objs[(kind, name)] = wait_for(lambda k=kind, n=name: judged(k, n), timeout=60,
                                      what=f"{kind} {name} judged")
    invalid = {}
    for key, obj in objs.items():
        valid = next(c for c in obj["status"]["conditions"] if c["type"] == "Valid")
        assert valid["reason"] and (valid["status"] == "True" or valid["message"])
        if valid["status"] == "False":
            invalid[key] = obj["metadata"]["resourceVersion"]
            assert not children_of(kube, namespace, obj["metadata"]["uid"]), key
    # An invalid object is judged once, not rewritten in a loop.
    time.sleep(4)
    moving = [k for k, rv in invalid.items()
              if (kube._get(plural[k[0]], namespace, k[1]) or {})["metadata"]["resourceVersion"]
              != rv]
    assert operator.proc.poll() is None, "the operator died"
    print(f"\nfuzz: {len(rejected) + len(accepted)} manifests; {len(rejected)} rejected by "
          f"the API server; {len(accepted)} accepted: {len(accepted) - len(invalid)} valid, "
          f"{len(invalid)} Valid=False; invalid ones still changing after 4 s: {len(moving)}")
    assert not moving, f"invalid objects rewritten in a loop: {moving[:5]}"
