"""`kubectl modelops export/import` bundles and `compare` rows, without a cluster."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from modelops.cli import bundle
from modelops.cli.compare import compare_rows, diff_paths, flatten
from modelops.cli.errors import CliError

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def stored_mv(version: str, **spec: Any) -> dict[str, Any]:
    """A ModelVersion as the API server returns it: server fields, status, operator marks."""
    return {
        "apiVersion": "modelops.io/v1alpha1", "kind": "ModelVersion",
        "metadata": {
            "name": f"m-v{version}", "namespace": "src", "uid": "u-1", "generation": 1,
            "resourceVersion": "42", "creationTimestamp": f"2026-01-01T10:0{version}:00Z",
            "managedFields": [{"manager": "kubectl"}], "finalizers": ["modelops.io/finalizer"],
            "labels": {"team": "nlp"},
            "annotations": {"modelops.io/last-handled-configuration": "{}",
                            "kopf.zalando.org/touch-dummy": "x",
                            "kubectl.kubernetes.io/last-applied-configuration": "{}",
                            "example.com/owner": "alice"}},
        "spec": {"model": "m", "version": version,
                 "artifact": {"uri": f"s3://models/m/{version}/"},
                 "serving": {"runtime": "custom", "image": f"img:{version}", "replicas": 1},
                 **spec},
        "status": {"phase": "Ready", "observedGeneration": 1},
    }


def stored_up() -> dict[str, Any]:
    return {"apiVersion": "modelops.io/v1alpha1", "kind": "UpdatePolicy",
            "metadata": {"name": "m", "namespace": "src", "uid": "u-2", "generation": 3,
                         "resourceVersion": "43", "creationTimestamp": "2026-01-01T10:00:00Z",
                         "annotations": {"modelops.io/action": "promote"}},
            "spec": {"model": "m", "targetVersion": "2", "replicas": 4},
            "status": {"phase": "Promoted", "stableVersion": "2"}}


def exported() -> list[dict[str, Any]]:
    text = bundle.export_bundle("src", "m", [stored_mv("2"), stored_mv("1")], stored_up(), NOW)
    assert text.startswith("# modelops bundle of model 'm': 2 version(s), its UpdatePolicy; "
                           "exported from namespace src at 2026-01-01T12:00:00Z")
    return bundle.load_bundle(text, "bundle.yaml")


def test_export_keeps_only_what_a_user_wrote() -> None:
    items = exported()
    assert [(o["kind"], o["metadata"]["name"]) for o in items] == [
        ("ModelVersion", "m-v1"), ("ModelVersion", "m-v2"), ("UpdatePolicy", "m")]
    mv = items[0]
    assert set(mv) == {"apiVersion", "kind", "metadata", "spec"}
    assert mv["metadata"] == {"name": "m-v1", "labels": {"team": "nlp"},
                              "annotations": {"example.com/owner": "alice"}}
    assert items[2]["metadata"] == {"name": "m"}  # the pending action is not carried along
    assert items[2]["spec"]["targetVersion"] == "2"


def test_export_is_a_list_kubectl_can_apply() -> None:
    doc = yaml.safe_load(bundle.export_bundle("src", "m", [stored_mv("1")], None, NOW))
    assert doc["apiVersion"] == "v1" and doc["kind"] == "List" and len(doc["items"]) == 1


def test_load_takes_several_documents_and_puts_versions_first() -> None:
    up, mv = bundle.portable(stored_up()), bundle.portable(stored_mv("1"))
    items = bundle.load_bundle(yaml.safe_dump_all([up, mv]), "f")
    assert [o["kind"] for o in items] == ["ModelVersion", "UpdatePolicy"]


@pytest.mark.parametrize(("text", "message"), [
    ("a: [", "is not valid YAML"),
    ("", "holds no objects"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", "is a ConfigMap"),
    ("apiVersion: modelops.io/v2\nkind: ModelVersion\nmetadata: {name: x}\nspec: {model: m}\n",
     "has apiVersion 'modelops.io/v2'"),
    ("apiVersion: modelops.io/v1alpha1\nkind: ModelVersion\nmetadata: {name: x}\nspec: {}\n",
     "needs metadata.name and spec.model"),
])
def test_load_refuses_what_is_not_a_bundle(text: str, message: str) -> None:
    with pytest.raises(CliError, match=message):
        bundle.load_bundle(text, "f")


def test_import_into_an_empty_namespace_creates_everything() -> None:
    steps = bundle.plan_import(exported(), [], [])
    assert [(s.name, s.action) for s in steps] == [("m-v1", "create"), ("m-v2", "create"),
                                                   ("m", "create")]
    assert bundle.refused(steps) is None


def test_import_of_what_is_there_is_a_no_op_even_without_defaults() -> None:
    items = exported()
    for o in items:  # a hand-written bundle leaves the CRD's defaults out
        o["spec"].get("serving", {}).pop("replicas", None)
        o["spec"].get("serving", {}).pop("runtime", None)
    # Already there under other names (the operator matches versions by (model, version)).
    there = [{**stored_mv(v), "metadata": {**stored_mv(v)["metadata"], "name": f"x{v}"}}
             for v in ("1", "2")]
    steps = bundle.plan_import(items, there, [stored_up()])
    assert [s.action for s in steps] == ["unchanged"] * 3
    assert "exists (as x1) with the same content" in steps[0].detail


def test_import_refuses_to_overwrite_different_content() -> None:
    items = exported()
    changed = stored_mv("1")
    changed["spec"]["artifact"]["uri"] = "s3://elsewhere/"
    changed["spec"]["serving"]["image"] = "img:other"
    steps = bundle.plan_import(items, [changed], [])
    assert [s.action for s in steps] == ["conflict", "create", "create"]
    assert steps[0].detail == ("model m version 1 exists with different content: "
                               "artifact.uri, serving.image")
    error = bundle.refused(steps)
    assert error is not None and "nothing was changed" in error.message
    assert "modelversion/m-v1: model m version 1 exists" in error.message


def test_import_refuses_a_name_taken_by_another_version() -> None:
    other = stored_mv("9")
    other["metadata"]["name"] = "m-v1"
    steps = bundle.plan_import(exported(), [other], [])
    assert steps[0].action == "conflict"
    assert steps[0].detail == "the name is taken by model m version 9"


def test_import_refuses_a_policy_that_differs() -> None:
    there = stored_up()
    there["spec"]["targetVersion"] = "1"
    steps = bundle.plan_import(exported(), [stored_mv("1"), stored_mv("2")], [there])
    assert [s.action for s in steps] == ["unchanged", "unchanged", "conflict"]
    assert "targetVersion" in steps[2].detail


def test_created_objects_carry_no_namespace_or_status() -> None:
    obj = bundle.creatable({**stored_mv("1")})
    assert "status" not in obj and "namespace" not in obj["metadata"]


# -- compare -------------------------------------------------------------------------------
def test_flatten_and_diff_paths() -> None:
    assert flatten({"a": {"b": 1, "c": [1, 2]}, "d": {}}) == {"a.b": 1, "a.c": [1, 2], "d": {}}
    assert diff_paths({"a": {"b": 1}}, {"a": {"b": 2, "c": 3}}) == ["a.b", "a.c"]


def test_compare_rows_mark_differences_and_metric_deltas() -> None:
    a = copy.deepcopy(stored_mv("1", evaluation={"image": "eval:1", "command": ["e"],
                                                 "gates": [{"metric": "accuracy", "min": 0.9}]}))
    b = copy.deepcopy(stored_mv("2", evaluation={"image": "eval:1", "command": ["e"],
                                                 "gates": [{"metric": "accuracy", "min": 0.9}]}))
    a["status"]["evaluation"] = {"metrics": {"accuracy": 0.91, "f1": 0.8}, "passed": True}
    b["status"]["evaluation"] = {"metrics": {"accuracy": 0.94, "f1": 0.8}, "passed": True}
    rows = {(r["section"], r["field"]): r for r in compare_rows(a, b)}
    acc = rows[("evaluation results", "accuracy")]
    assert (acc["a"], acc["b"], acc["differs"], acc["delta"]) == (0.91, 0.94, True, "+0.03")
    assert rows[("evaluation results", "f1")]["differs"] is False
    assert rows[("serving", "image")]["differs"] is True
    assert rows[("serving", "replicas")]["differs"] is False
    assert rows[("evaluation", "gates")]["differs"] is False
    assert rows[("artifact", "uri")]["differs"] is True
    sections = [r["section"] for r in compare_rows(a, b)]
    assert sections.index("evaluation results") < sections.index("serving")


def test_compare_shows_the_scheduled_evaluation_trend() -> None:
    def version(*accuracies: float) -> dict[str, Any]:
        runs = [{"run": i + 1, "endTime": "t", "passed": a >= 0.9, "metrics": {"accuracy": a}}
                for i, a in enumerate(accuracies)]
        return {"spec": {}, "status": {"evaluation": {"runs": list(reversed(runs))}}}
    rows = {(r["section"], r["field"]): r for r in compare_rows(version(0.95, 0.93),
                                                              version(0.94, 0.9, 0.85))}
    trend = rows[("scheduled evaluation", "trend.accuracy")]
    assert (trend["a"], trend["b"]) == ("0.95 > 0.93", "0.94 > 0.9 > 0.85")
    latest = rows[("scheduled evaluation", "latest.accuracy")]
    assert latest["delta"] == "-0.08" and rows[("scheduled evaluation", "failed")]["b"] == 1
