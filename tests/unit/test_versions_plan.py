"""The ModelVersion plan: validity, duplicates, readiness, and what gets written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from modelops.desired import is_subset
from modelops.kube import patch_for
from modelops.settings import Settings
from modelops.versions.plan import Observed, deployment_readiness, plan
from modelops.versions.reconcile import holder

NOW = datetime(2026, 1, 1, tzinfo=UTC)
S = Settings()


def mv(status: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    base = {"model": "m", "version": "1", "artifact": {"uri": "s3://b/m/1"},
            "serving": {"image": "i", "replicas": 2}}
    base.update(spec)
    return {"apiVersion": "modelops.io/v1alpha1", "kind": "ModelVersion",
            "metadata": {"name": "m-v1", "namespace": "ns", "uid": "u", "generation": 3},
            "spec": {k: v for k, v in base.items() if v is not None}, "status": status or {}}


def dep(replicas: int, ready: int, generation: int = 1, observed: int = 1) -> dict[str, Any]:
    return {"metadata": {"generation": generation}, "spec": {"replicas": replicas},
            "status": {"observedGeneration": observed, "readyReplicas": ready,
                       "updatedReplicas": ready}}


def test_new_version_creates_children_and_is_pending() -> None:
    p = plan(mv(), Observed(), S, NOW)
    assert [o["kind"] for o in p.apply] == ["Deployment", "Service"]
    assert p.status["phase"] == "Pending"
    assert p.status["observedGeneration"] == 3
    assert p.events == []  # being Pending at first is not news


def test_a_new_versions_first_status_waits_for_its_deployment() -> None:
    """One status write instead of two for a version that serves within first_status_wait."""
    d, s = children(ready=0)
    born = {**d["metadata"], "creationTimestamp": "2026-01-01T00:00:00Z"}
    d = {**d, "metadata": born}
    assert plan(mv(), Observed(), S, NOW).write_status is False  # its Deployment is new
    early = plan(mv(), Observed(deployment=d, service=s), S, NOW + timedelta(seconds=1))
    assert early.status["phase"] == "Pending" and not early.write_status
    assert early.recheck_after == pytest.approx(S.first_status_wait - 1)
    late = plan(mv(), Observed(deployment=d, service=s), S,
                NOW + timedelta(seconds=S.first_status_wait))
    assert late.status["phase"] == "Pending" and late.write_status
    d_ready, _ = children(ready=2)
    ready = plan(mv(), Observed(deployment={**d_ready, "metadata": born}, service=s), S, NOW)
    assert ready.status["phase"] == "Ready" and ready.write_status
    assert ready.events == []  # serving at its first status: not news, one write less
    # A version whose Pending was written tells of its Ready.
    then = plan(mv(status=late.status), Observed(deployment={**d_ready, "metadata": born},
                                                 service=s), S, NOW)
    assert [e.reason for e in then.events] == ["PhaseReady"]
    # Written once, a Pending status is kept up to date as before.
    again = plan(mv(status=late.status), Observed(deployment=d, service=s), S, NOW)
    assert again.write_status
    # A version that cannot serve says so at once.
    bad = plan(mv(serving={"image": "i", "env": [{"name": "MODEL_URI", "value": "x"}]}),
               Observed(), S, NOW)
    assert bad.status["phase"] == "Failed" and bad.write_status


def children(ready: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The version's Deployment (as observed, `ready` of 2 replicas ready) and Service."""
    d, s = plan(mv(), Observed(), S, NOW).apply
    d = {**d, "status": {"observedGeneration": 1, "readyReplicas": ready, "updatedReplicas": 2}}
    d["metadata"] = {**d["metadata"], "generation": 1}
    return d, s


def test_converged_version_writes_nothing() -> None:
    d, s = children(ready=2)
    ready = plan(mv(), Observed(deployment=d, service=s), S, NOW)
    assert ready.apply == [] and ready.status["phase"] == "Ready"
    again = plan(mv(status=ready.status), Observed(deployment=d, service=s), S, NOW)
    assert again.apply == [] and again.events == [] and again.status == ready.status


def test_duplicate_gets_no_children_and_a_warning() -> None:
    p = plan(mv(), Observed(duplicate_of="older"), S, NOW)
    assert p.apply == [] and p.status["phase"] == "Failed"
    valid = {c["type"]: c for c in p.status["conditions"]}["Valid"]
    assert valid["status"] == "False" and valid["reason"] == "DuplicateVersion"
    assert "'older'" in valid["message"]
    assert p.events[0].type == "Warning" and p.events[0].reason == "DuplicateVersion"
    # the same verdict next time is not news
    again = plan(mv(status=p.status), Observed(duplicate_of="older"), S, NOW)
    assert again.events == []


@pytest.mark.parametrize(("spec", "needle"), [
    pytest.param({"artifact": {"uri": "oci://r/m"}}, "cannot be fetched", id="scheme"),
    pytest.param({"serving": {"image": "i", "resources": {"cpu": "lots"}}},
                 "serving.resources.cpu", id="quantity"),
    pytest.param({"serving": {"image": "i", "env": [{"name": "MODEL_URI", "value": "x"}]}},
                 "MODEL_URI is set by modelops", id="reserved-env"),
])
def test_invalid_specs_get_a_message_and_no_children(spec: dict[str, Any], needle: str) -> None:
    settings = Settings(fetch_schemes=["s3"])
    p = plan(mv(**spec), Observed(), settings, NOW)
    assert p.apply == []
    valid = {c["type"]: c for c in p.status["conditions"]}["Valid"]
    assert valid["reason"] == "InvalidSpec" and needle in valid["message"]


def test_policy_managed_replicas_win_over_spec() -> None:
    p = plan(mv(), Observed(managed_replicas=0), S, NOW)
    assert p.apply[0]["spec"]["replicas"] == 0


def test_unserved_version_is_ready_without_children() -> None:
    p = plan(mv(serving=None), Observed(), S, NOW)
    assert p.apply == [] and p.status["phase"] == "Ready"


@pytest.mark.parametrize(("d", "replicas", "expected"), [
    pytest.param(None, 1, (False, False), id="missing"),
    pytest.param(dep(2, 2), 2, (True, True), id="all-ready"),
    pytest.param(dep(2, 1), 2, (False, True), id="partly"),
    pytest.param(dep(2, 2, generation=2, observed=1), 2, (False, True), id="stale-generation"),
    pytest.param(dep(3, 2), 2, (False, True), id="scaling"),
    pytest.param(dep(0, 0), 0, (True, False), id="scaled-to-zero"),
])
def test_deployment_readiness(d: dict[str, Any] | None, replicas: int,
                              expected: tuple[bool, bool]) -> None:
    assert deployment_readiness(d, replicas)[:2] == expected


@pytest.mark.parametrize(("want", "have", "same"), [
    ({"a": 1}, {"a": 1, "b": 2}, True),
    ({"a": 1}, {"a": 2}, False),
    ({"a": [{"x": 1}]}, {"a": [{"x": 1, "y": 2}]}, True),
    ({"a": [1, 2]}, {"a": [1]}, False),
    ({"cpu": "0.5"}, {"cpu": "500m"}, True),
    ({"cpu": "1"}, {"cpu": "2"}, False),
    ({"image": "a"}, {"image": "b"}, False),
    ({"a": {"b": 1}}, {}, False),
])
def test_is_subset(want: Any, have: Any, same: bool) -> None:
    assert is_subset(want, have) is same


def test_patch_for_nulls_removed_keys() -> None:
    assert patch_for({"a": 1, "b": 2}, {"a": 1, "c": 3}) == {"c": 3, "b": None}
    # Nested objects merge, so a key gone inside one is nulled there (else it would stay).
    old = {"n": {"pending": [1], "sent": 5, "keep": 1}, "l": [1, 2]}
    new = {"n": {"sent": 6, "keep": 1}, "l": [2]}
    assert patch_for(old, new) == {"n": {"sent": 6, "pending": None}, "l": [2]}
    assert patch_for({"n": 1}, {"n": {"a": 1}}) == {"n": {"a": 1}}


def test_holder_is_oldest_then_name() -> None:
    assert holder([("2026-01-02", "a"), ("2026-01-01", "z"), ("2026-01-01", "b")]) == "b"
    assert holder([]) is None


def test_deletion_is_held_only_by_live_policies() -> None:
    from modelops.versions.deletion import deletion_blocker
    live = {"name": "p", "stable": "1", "canary": "2", "deleting": False}
    assert deletion_blocker("2", [live]) is not None
    assert deletion_blocker("3", [live]) is None
    assert deletion_blocker("1", [{**live, "deleting": True}]) is None
    # A rolled-back canary still draining takes traffic; a warm version takes none.
    draining = {**live, "canary": None, "outgoing": {"version": "2", "serving": True}}
    assert deletion_blocker("2", [draining]) is not None
    warm = {**live, "canary": None, "outgoing": {"version": "2", "serving": False}}
    assert deletion_blocker("2", [warm]) is None


def _pending(seconds: float) -> tuple[dict[str, Any], Observed]:
    """A version whose pods have not been ready for `seconds`."""
    d, s = children(ready=0)
    st = plan(mv(), Observed(deployment=d, service=s), S, NOW - timedelta(seconds=seconds)).status
    return mv(status=st), Observed(deployment=d, service=s)


def test_fresh_pods_are_not_looked_at_but_checked_again_later() -> None:
    body, obs = _pending(1)
    p = plan(body, obs, S, NOW)
    assert p.needs_pods is None and p.recheck_after
    assert p.status["phase"] == "Pending"


def test_pods_unready_for_a_while_are_diagnosed_into_conditions_and_a_warning() -> None:
    from modelops.api.conditions import get_condition
    from modelops.serving.diagnose import Problem
    body, obs = _pending(30)
    p = plan(body, obs, S, NOW)
    assert p.needs_pods == "modelops.io/model=m,modelops.io/version=1,modelops.io/serving=true"
    obs.pod_problem, obs.pods_checked = Problem("FetchFailed", "fetching the artifact failed: "
                                                               "digest mismatch"), True
    p = plan(body, obs, S, NOW)
    ready = get_condition(p.status["conditions"], "Ready")
    avail = get_condition(p.status["conditions"], "Available")
    assert ready and ready["reason"] == "FetchFailed" and "digest mismatch" in ready["message"]
    assert avail and avail["reason"] == "FetchFailed"
    assert p.status["phase"] == "Pending" and p.apply == []
    assert [(e.type, e.reason) for e in p.events] == [("Warning", "FetchFailed")]
    # the same problem seen again is not news
    again = plan(mv(status=p.status), obs, S, NOW)
    assert again.events == [] and again.status == p.status


def test_a_ready_version_is_never_diagnosed_nor_rechecked() -> None:
    d, s = children(ready=2)
    p = plan(mv(), Observed(deployment=d, service=s), S, NOW)
    assert p.needs_pods is None and p.recheck_after is None


def conditions(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status["conditions"]}


def test_what_a_version_learned_outlives_its_scale_down_until_the_spec_changes() -> None:
    from modelops.serving.diagnose import Problem
    _, s = children(ready=0)
    digest = {"uri": "s3://b/m/1", "digest": "sha256:" + "0" * 64}
    refused = Problem("FetchFailed", "fetching the artifact failed: digest mismatch")
    # At zero replicas before it ever served: Ready (it waits for its rollout), not verified.
    idle = plan(mv(artifact=digest), Observed(deployment=dep(0, 0), service=s,
                                              managed_replicas=0), S, NOW)
    assert idle.status["phase"] == "Ready"
    assert conditions(idle.status)["Verified"]["status"] == "Unknown"
    assert "not verified yet" in conditions(idle.status)["Ready"]["message"]
    # Scaled up, its pods refuse the artifact: Pending with the pods' words, Verified=False.
    tried = plan(mv(status=idle.status, artifact=digest),
                 Observed(deployment=dep(1, 0), service=s, managed_replicas=1,
                          pod_problem=refused, pods_checked=True), S, NOW)
    assert tried.status["phase"] == "Pending"
    verified = conditions(tried.status)["Verified"]
    assert (verified["status"], verified["reason"]) == ("False", "FetchFailed")
    # Scaled back to zero, the pods are gone, the refusal is not: Failed, never Ready.
    later = NOW + timedelta(minutes=5)
    zero = plan(mv(status=tried.status, artifact=digest),
                Observed(deployment=dep(0, 0), service=s, managed_replicas=0), S, later)
    ready = conditions(zero.status)["Ready"]
    assert zero.status["phase"] == "Failed" and ready["status"] == "False"
    assert ready["reason"] == "FetchFailed" and "digest mismatch" in ready["message"]
    assert conditions(zero.status)["Verified"]["lastTransitionTime"] == verified[
        "lastTransitionTime"]
    # A new spec (generation) forgets it: the next pods learn afresh.
    changed = mv(status=zero.status, artifact=digest)
    changed["metadata"]["generation"] = 4
    fresh = plan(changed, Observed(deployment=dep(0, 0), service=s, managed_replicas=0), S,
                 later)
    assert fresh.status["phase"] == "Ready"
    assert conditions(fresh.status)["Verified"]["status"] == "Unknown"


def test_a_version_that_served_stays_verified_at_zero() -> None:
    d, s = children(ready=2)
    digest = {"uri": "s3://b/m/1", "digest": "sha256:" + "0" * 64}
    served = plan(mv(artifact=digest), Observed(deployment=d, service=s), S, NOW)
    v = conditions(served.status)["Verified"]
    assert v["status"] == "True" and "digest verified" in v["message"]
    zero = plan(mv(status=served.status, artifact=digest),
                Observed(deployment=dep(0, 0), service=s, managed_replicas=0), S, NOW)
    assert zero.status["phase"] == "Ready"
    assert "verified when it last served" in conditions(zero.status)["Ready"]["message"]
    # A pod that cannot be scheduled says nothing about the version itself.
    from modelops.serving.diagnose import Problem
    stuck = plan(mv(status=zero.status, artifact=digest),
                 Observed(deployment=dep(1, 0), service=s, managed_replicas=1,
                          pod_problem=Problem("Unschedulable", "no node"), pods_checked=True),
                 S, NOW)
    assert conditions(stuck.status)["Verified"]["status"] == "True"
