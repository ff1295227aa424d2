"""Prometheus answers and the judge: garbage, gaps and NaN are never a pass."""

from __future__ import annotations

import json

import pytest

from modelops.analysis.judge import Sample, judge, overall, render
from modelops.analysis.prometheus import parse
from modelops.api.analysis import MetricCheck
from modelops.egress import address_allowed


def vector(*values: str) -> bytes:
    return json.dumps({"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {}, "value": [0, v]} for v in values]}}).encode()


@pytest.mark.parametrize(("raw", "value", "error"), [
    (vector("0.25"), 0.25, None),
    (vector(), None, "no data"),
    (vector("1", "2"), None, "2 series"),
    (b"<html>oops</html>", None, "not a query result"),
    (b'{"data": {"resultType": "matrix", "result": []}}', None, "matrix"),
    (json.dumps({"data": {"resultType": "scalar", "result": [0, "3"]}}).encode(), 3.0, None),
])
def test_parse(raw: bytes, value: float | None, error: str | None) -> None:
    s = parse(raw)
    assert s.value == value
    assert (error is None and s.error is None) or (error and error in (s.error or ""))


@pytest.mark.parametrize("text", ["NaN", "+Inf", "-Inf"])
def test_non_finite_values_are_inconclusive(text: str) -> None:
    check = MetricCheck(name="err", query="q", max=0.01)
    assert judge(check, parse(vector(text)))[0] == "Inconclusive"


def test_judge_bounds_and_overall() -> None:
    check = MetricCheck(name="acc", query="q", min=0.9, max=1.0)
    assert judge(check, Sample(0.95)) == ("Successful", None)
    assert judge(check, Sample(0.5))[0] == "Failed" and "below min" in judge(check,
                                                                             Sample(0.5))[1]
    assert judge(check, Sample(1.5))[0] == "Failed"
    assert judge(check, Sample(None, "unreachable")) == ("Inconclusive", "unreachable")
    assert overall(["Successful", "Inconclusive"]) == "Inconclusive"
    assert overall(["Inconclusive", "Failed"]) == "Failed"
    assert overall([]) == "Inconclusive"


def test_render_fills_the_template_variables() -> None:
    q = render('x{model="{{model}}",v="{{ canaryVersion }}",s="{{stableVersion}}",'
               'n="{{namespace}}"}', model="m", namespace="ns", canary="2", stable="1")
    assert q == 'x{model="m",v="2",s="1",n="ns"}'


@pytest.mark.parametrize(("address", "allowed"), [
    ("http://prometheus.monitoring:9090", True),
    ("http://prometheus:9090", True),
    ("http://prometheus.monitoring.svc.cluster.local:9090", True),
    ("http://127.0.0.1:9090", True),
    ("http://169.254.169.254/latest/meta-data", False),  # cloud metadata
    ("http://10.0.0.5:9090", False),
    ("https://evil.example.com/", False),
])
def test_default_allow_list(address: str, allowed: bool) -> None:
    assert address_allowed(address, []) is allowed


def test_configured_allow_list_is_by_prefix() -> None:
    allow = ["http://prometheus.monitoring:9090"]
    assert address_allowed("http://prometheus.monitoring:9090/", allow)
    assert not address_allowed("http://prometheus.other:9090", allow)
