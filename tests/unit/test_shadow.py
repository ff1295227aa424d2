"""The comparer of setMirror steps: what of two answers it compares and when they agree, the
Deployment it runs as, and how long it lives after mirroring (in tables)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from modelops.api.updatepolicy import UpdatePolicySpec
from modelops.rollout.routing import keeps_shadow
from modelops.rollout.state import Observed, decide
from modelops.rollout.target import VersionInfo
from modelops.shadow import children
from modelops.shadow.compare import agree, overlap, pick, prediction
from modelops.shadow.server import Answer, Comparer, Config
from modelops.traffic.base import Backend

V2 = {"model_name": "iris", "model_version": "2", "id": "a",
      "outputs": [{"name": "output-0", "datatype": "INT64", "shape": [1], "data": [1]}]}
V1 = {**V2, "model_version": "1", "id": "b"}


@pytest.mark.parametrize(("a", "b", "runtime", "path", "overlap_min", "same"), [
    pytest.param(V1, V2, "custom", None, None, True, id="same-class-other-version-and-id"),
    pytest.param(V1, {**V2, "outputs": [{"data": [2]}]}, "custom", None, None, False,
                 id="another-class"),
    pytest.param({"choices": [{"text": "the cat sat"}]}, {"choices": [{"text": "the cat sat"}],
                                                        "id": "x"}, "llamacpp", None, None,
                 True, id="llm-exact"),
    pytest.param({"choices": [{"message": {"content": "the cat sat on the mat"}}]},
                 {"choices": [{"message": {"content": "the cat sat on a mat"}}]}, "vllm",
                 None, 0.6, True, id="llm-overlap-enough"),
    pytest.param({"choices": [{"text": "the cat sat"}]}, {"choices": [{"text": "dogs run"}]},
                 "vllm", None, 0.5, False, id="llm-overlap-too-little"),
    pytest.param({"label": "a", "score": 0.9}, {"label": "a", "score": 0.8}, "torchserve",
                 "label", None, True, id="a-path"),
    pytest.param({"label": "a", "score": 0.9}, {"label": "a", "score": 0.8}, "torchserve",
                 None, None, False, id="whole-answer-by-default"),
])
def test_when_two_answers_agree(a: Any, b: Any, runtime: str, path: str | None,
                                overlap_min: float | None, same: bool) -> None:
    pa = prediction(json.dumps(a).encode(), runtime, path)
    pb = prediction(json.dumps(b).encode(), runtime, path)
    assert agree(pa, pb, overlap_min) is same


def test_paths_and_overlap() -> None:
    assert pick({"a": [{"b": 1}, {"b": 2}]}, "a.*.b") == [1, 2]
    assert pick({"a": [{"b": 1}]}, "a.0.b") == 1 and pick({"a": 1}, "x.y") is None
    assert overlap("A b", "a B c") == pytest.approx(2 / 3) and overlap("", "") == 1.0
    assert prediction(b"not json", "custom", None) == "not json"


def test_the_comparer_counts_agreement_errors_and_latency() -> None:
    c = Comparer(Config(stable="http://s", canary="http://c"), CollectorRegistry())
    ok1, ok2 = (Answer(True, json.dumps(v).encode(), t) for v, t in ((V1, 0.01), (V2, 0.03)))
    other = Answer(True, json.dumps({**V2, "outputs": [{"data": [0]}]}).encode(), 0.02)
    assert c.judge(ok1, ok2) is True and c.judge(ok1, other) is False
    assert c.judge(ok1, Answer(False, b"boom", 0.5)) is False  # a failed canary disagrees
    assert c.judge(Answer(False, b"boom", 0.5), ok2) is None  # no reference: not compared
    text = asyncio.run(c.metrics(None)).body.decode()  # type: ignore[arg-type]
    assert "modelops_shadow_compared_total 3.0" in text
    assert "modelops_shadow_agreed_total 1.0" in text
    assert c.difference._count.get() == 2  # type: ignore[attr-defined]


UP = {"apiVersion": "modelops.io/v1alpha1", "kind": "UpdatePolicy",
      "metadata": {"name": "iris", "namespace": "ns", "uid": "u"}}


def test_the_comparer_runs_beside_the_canary_with_its_labels() -> None:
    spec = UpdatePolicySpec.model_validate({"model": "iris", "strategy": {"canary": {
        "shadow": {"answer": "outputs.*.data", "tokenOverlap": 0.8}}}})
    dep, svc = children.manifests(
        UP, spec, Backend("1", "iris-1", 8080), Backend("2", "iris-2", 8080), "custom",
        "img:1", {"nodeSelector": {"n": "real"}, "tolerations": [{"key": "t"}],
                  "containers": [{"resources": {"limits": {"nvidia.com/gpu": 1}}}]})
    pod = dep["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"n": "real"} and pod["tolerations"] == [{"key": "t"}]
    assert "nvidia.com/gpu" not in json.dumps(pod)  # placement only, never the canary's GPUs
    labels = dep["spec"]["template"]["metadata"]["labels"]
    assert labels["modelops.io/model"] == "iris" and labels["modelops.io/version"] == "2"
    assert "modelops.io/serving" not in labels  # never behind the model's Service
    assert "modelops.io/version" not in dep["spec"]["selector"]["matchLabels"]  # immutable
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    assert env["MODELOPS_SHADOW_STABLE"] == "http://iris-1.ns.svc:8080"
    assert env["MODELOPS_SHADOW_TOKEN_OVERLAP"] == "0.8"
    assert svc["metadata"]["name"] == children.name("iris") == "iris-shadow"
    assert len(children.name("x" * 63)) <= 63


T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_the_comparer_outlives_mirroring_until_the_gateway_routes_around_it() -> None:
    spec = UpdatePolicySpec.model_validate({"model": "m", "targetVersion": "1", "strategy": {
        "canary": {"trafficRouting": {"gatewayAPI": {"httpRoute": "r"}}}}})
    vs = {"1": VersionInfo("1", "m-v1", "Ready", "2026-01-01T00:00:00Z", service="m-1")}
    mirrored = {"metadata": {"name": "r", "generation": 2}, "spec": {"rules": [{"backendRefs": [
        {"kind": "TraefikService", "name": "r-mirror"}]}]}, "status": {"parents": [
            {"conditions": [{"type": t, "status": "True", "observedGeneration": 2}
                            for t in ("Accepted", "ResolvedRefs")]}]}}
    plain = json.loads(json.dumps(mirrored).replace("TraefikService", "Service"))
    st: dict[str, Any] = {"stableVersion": "1", "phase": "Promoted"}

    def keeps(route: dict[str, Any], after: float) -> bool:
        now = T0 + timedelta(seconds=after)
        d = decide(spec, st, Observed(vs, {"1": 1}, route, shadow_exists=True), now)
        st.clear()
        st.update(d.status)
        return keeps_shadow(d.typed, True, now)

    assert keeps(mirrored, 0) and "shadowUntil" not in st  # still mirrored
    assert keeps(plain, 1) and st["shadowUntil"] == "2026-01-01T00:00:11Z"
    assert not keeps(plain, 12)  # grace over: deleted this round
