"""Refusals that wait for the spec to change, index snapshots that survive changes, and children
kept compact in the indexes."""

from __future__ import annotations

from datetime import UTC, datetime

from modelops.api.conditions import refused_as_is
from modelops.desired import is_subset
from modelops.indexes import Indexes, child, compact, values
from modelops.settings import Settings
from modelops.versions.plan import Observed, plan


def test_a_refusal_waits_for_a_new_generation() -> None:
    refused = {"conditions": [{"type": "Valid", "status": "False",
                               "reason": "RejectedByAPIServer", "observedGeneration": 4}]}
    assert refused_as_is(refused, {"generation": 4})
    assert not refused_as_is(refused, {"generation": 5})  # the spec changed: try it
    invalid = {"conditions": [{**refused["conditions"][0], "reason": "InvalidSpec"}]}
    assert not refused_as_is(invalid, {"generation": 4})  # planned again each time, no writes
    assert not refused_as_is({}, {"generation": 1})


def test_values_is_a_copy_that_survives_changes_to_the_index() -> None:
    index: dict[tuple[str, str], list[str]] = {("ns", "m"): ["a", "b"]}
    seen = []
    for v in values(index, ("ns", "m")):
        index[("ns", "other")] = ["c"]  # what a watch event does while a handler awaits
        index[("ns", "m")].append("x")
        seen.append(v)
    assert seen == ["a", "b"]
    assert values(index, ("ns", "missing")) == []


def test_a_compact_child_compares_like_the_live_one() -> None:
    mv = {"apiVersion": "modelops.io/v1alpha1", "kind": "ModelVersion",
          "metadata": {"name": "m-v1", "namespace": "ns", "uid": "u", "generation": 1},
          "spec": {"model": "m", "version": "1", "artifact": {"uri": "s3://b/m/1/"},
                   "serving": {"image": "i", "replicas": 2}}}
    dep, _ = plan(mv, Observed(), Settings(), datetime.now(UTC)).apply
    live = {**dep, "metadata": {**dep["metadata"], "resourceVersion": "7",
                                "managedFields": [{"manager": "modelops"}]},
            "status": {"readyReplicas": 2, "conditions": [{"type": "Available"}]}}
    kept = compact(live)
    assert "managedFields" not in kept["metadata"] and "spec" not in kept
    assert kept["status"] == {"readyReplicas": 2}  # only what the plans read
    whole = child({("ns", "m-1"): [kept]}, ("ns", "m-1"))
    assert whole is not None and is_subset(dep, whole)
    assert child({}, ("ns", "m-1")) is None
    drifted = {**live, "spec": {**live["spec"], "replicas": 5}}
    assert not is_subset(dep, child({("ns", "m-1"): [compact(drifted)]}, ("ns", "m-1")))


def test_refiling_moves_an_object_and_deleting_forgets_it() -> None:
    idx = Indexes()
    idx.refile("u1", [("mv_by_model", ("ns", "m"), "a"), ("mv_by_name", ("ns", "a"), "a")])
    idx.refile("u2", [("mv_by_model", ("ns", "m"), "b")])
    assert sorted(idx.mv_by_model[("ns", "m")]) == ["a", "b"]
    idx.refile("u1", [("mv_by_model", ("ns", "other"), "a2")])  # its model changed
    assert list(idx.mv_by_model[("ns", "m")]) == ["b"]
    assert ("ns", "a") not in idx.mv_by_name and values(idx.mv_by_model, ("ns", "other")) == ["a2"]
    idx.refile("u2", (), present=False)
    assert ("ns", "m") not in idx.mv_by_model and "u2" not in idx.filed and "u1" in idx.filed
    idx.refile("u3", [])  # filed under no key (a Job of no version), yet seen: start-up counts it
    assert idx.filed["u3"] == []
