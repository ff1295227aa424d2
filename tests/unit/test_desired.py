"""When a child is written again: changed fields, outside edits, and fields we stopped setting."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from modelops.desired import HASH_ANNOTATION, needs_apply, stamp


def deployment(**pod: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "m-1", "namespace": "ns", "annotations": {"a": "b"}},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "c"}],
                                                          **pod}}}}


def live(want: dict[str, Any]) -> dict[str, Any]:
    """What the API server gives back: our fields plus defaults."""
    have = copy.deepcopy(want)
    have["spec"]["progressDeadlineSeconds"] = 600
    have["metadata"]["uid"] = "u"
    return have


def test_stamp_is_stable_and_keeps_other_annotations() -> None:
    once = stamp(deployment())
    assert stamp(once) == once and once["metadata"]["annotations"]["a"] == "b"
    assert stamp(deployment(nodeSelector={"x": "y"}))["metadata"]["annotations"][
        HASH_ANNOTATION] != once["metadata"]["annotations"][HASH_ANNOTATION]


@pytest.mark.parametrize("have, want, apply", [
    pytest.param(None, deployment(), True, id="missing"),
    pytest.param(live(stamp(deployment())), deployment(), False, id="converged"),
    pytest.param(live(stamp(deployment(nodeSelector={"pool": "none"}))), deployment(), True,
                 id="a field we stopped setting"),
    pytest.param(live(deployment()), deployment(), True, id="made before the hash"),
])
def test_needs_apply(have: dict[str, Any] | None, want: dict[str, Any], apply: bool) -> None:
    assert needs_apply(stamp(want), have) is apply


def test_an_outside_edit_of_our_field_is_seen_though_the_hash_matches() -> None:
    want = stamp(deployment())
    have = live(want)
    have["spec"]["replicas"] = 5
    assert needs_apply(want, have)
