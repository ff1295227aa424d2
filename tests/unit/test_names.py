from __future__ import annotations

import re

import pytest

from modelops.serving.names import child_name

DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


@pytest.mark.parametrize(("model", "version", "expected"), [
    pytest.param("sentiment", "2", "sentiment-2", id="plain"),
    pytest.param("sentiment", "v2-rc1", "sentiment-v2-rc1", id="dashes-kept"),
])
def test_simple_versions_keep_readable_names(model: str, version: str, expected: str) -> None:
    assert child_name(model, version) == expected


@pytest.mark.parametrize(("model", "version"), [
    pytest.param("m", "1.0", id="dot"),
    pytest.param("m", "V1", id="upper"),
    pytest.param("m", "a_b", id="underscore"),
    pytest.param("m" * 50, "x" * 63, id="longest"),
    pytest.param("m", "1.0.0-rc.1", id="semver"),
])
def test_other_versions_get_valid_distinct_names(model: str, version: str) -> None:
    name = child_name(model, version)
    assert DNS1035.match(name) and len(name) <= 63, name


def test_versions_that_slug_alike_do_not_collide() -> None:
    names = {child_name("m", v) for v in ("1.0", "1-0", "1_0", "1.0".upper())}
    assert len(names) == 3  # "1.0".upper() == "1.0"


def test_suffix() -> None:
    assert child_name("m", "1", "train") == "m-1-train"
    assert len(child_name("m" * 50, "x" * 63, "train")) <= 63
