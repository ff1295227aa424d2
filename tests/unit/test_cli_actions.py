"""Which patch each steering command of `kubectl modelops` makes, and when it refuses."""

from __future__ import annotations

from typing import Any

import pytest

from modelops.cli import actions
from modelops.cli.errors import FAILED, NOT_FOUND, CliError
from modelops.cli.summary import ACTION_ANNOTATION

STEPS = [{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}, {"pause": {"duration": "1m"}}]
PROMOTED_1 = {"revision": 1, "version": "1", "outcome": "Promoted", "reason": "FirstVersion"}


def policy(spec: dict[str, Any] | None = None, status: dict[str, Any] | None = None,
           annotations: dict[str, str] | None = None, generation: int = 2,
           observed: int | None = 2) -> dict[str, Any]:
    st = {"stableVersion": "1", "history": [PROMOTED_1], **(status or {})}
    if observed is not None:
        st["observedGeneration"] = observed
    return {"metadata": {"name": "m", "namespace": "ns", "generation": generation,
                         "annotations": annotations or {}},
            "spec": {"model": "m", "targetVersion": "2", "strategy": {"canary": {"steps": STEPS}},
                     **(spec or {})},
            "status": st}


def canary(step: int = 1, **status: Any) -> dict[str, Any]:
    return {"canaryVersion": "2", "currentStepIndex": step, "phase": "Progressing", **status}


def mv(version: str, phase: str = "Ready") -> dict[str, Any]:
    return {"metadata": {"name": f"m-v{version}"}, "spec": {"model": "m", "version": version},
            "status": {"phase": phase}}


def action_patch(action: str) -> dict[str, Any]:
    return {"metadata": {"annotations": {ACTION_ANNOTATION: action}}}


def test_the_annotation_is_the_one_the_operator_reads() -> None:
    from modelops.rollout.reconcile import ACTION_ANNOTATION as operators

    assert operators == ACTION_ANNOTATION


@pytest.mark.parametrize(("full", "action"), [(False, "promote"), (True, "promote-full")])
def test_promote_annotates_the_policy(full: bool, action: str) -> None:
    change = actions.promote(policy(status=canary(1)), full)
    assert change.patch == action_patch(action)
    assert change.changes == [(f"metadata.annotations[{ACTION_ANNOTATION}]", None, action)]
    if not full:
        assert "step 2/4 (pause until promoted)" in change.note


@pytest.mark.parametrize(("up", "message"), [
    pytest.param(policy(), "nothing to promote: model 'm' has no rollout in progress (1 serves",
                 id="no-rollout"),
    pytest.param(policy({"paused": True}, canary(1)), "spec.paused is true", id="user-paused"),
    pytest.param(policy(status=canary(1, pauseReason="analysis inconclusive 2 time(s)")),
                 "the operator paused the rollout: analysis inconclusive", id="operator-paused"),
    pytest.param(policy(status=canary(4)), "all steps are done", id="steps-done"),
    pytest.param(policy(status=canary(1), annotations={ACTION_ANNOTATION: "abort"}),
                 "action 'abort' has not been taken", id="other-action-waiting"),
])
def test_promote_refuses_what_the_operator_would_ignore(up: dict[str, Any], message: str
                                                        ) -> None:
    with pytest.raises(CliError) as e:
        actions.promote(up)
    assert message in e.value.message
    assert e.value.code == FAILED


def test_a_stale_status_is_not_trusted_to_refuse() -> None:
    # The user just changed targetVersion: the operator has not started the rollout yet.
    up = policy(generation=3, observed=2)
    assert actions.promote(up).patch == action_patch("promote")
    assert actions.abort(up).patch == action_patch("abort")


def test_the_same_action_waiting_is_a_no_op() -> None:
    change = actions.promote(policy(status=canary(1), annotations={ACTION_ANNOTATION: "promote"}))
    assert change.patch == {} and "already waiting" in change.note


def test_abort_needs_a_rollout() -> None:
    assert actions.abort(policy(status=canary(2))).patch == action_patch("abort")
    with pytest.raises(CliError, match="nothing to abort"):
        actions.abort(policy())


@pytest.mark.parametrize(("last", "target", "ok"), [
    ({"version": "2", "fromVersion": "1", "outcome": "RolledBack", "reason": "AnalysisFailed"},
     "2", True),
    ({"version": "2", "fromVersion": "1", "outcome": "Aborted", "reason": "UserAbort"}, "2", True),
    ({"version": "2", "fromVersion": "1", "outcome": "Promoted"}, "2", False),
    # targetVersion moved on since: retry would not roll anything out
    ({"version": "2", "fromVersion": "1", "outcome": "Aborted"}, "3", False),
    # a fast rollback to 1 (from 2) leaves nothing to retry
    ({"version": "1", "fromVersion": "2", "outcome": "RolledBack", "reason": "TargetRollback"},
     "1", False),
])
def test_retry_only_after_a_rollback_or_abort(last: dict[str, Any], target: str, ok: bool
                                             ) -> None:
    up = policy({"targetVersion": target}, {"history": [last, PROMOTED_1]})
    if ok:
        assert actions.retry(up).patch == action_patch("retry")
    else:
        with pytest.raises(CliError, match="nothing to retry"):
            actions.retry(up)


def test_pause_sets_spec_paused_once() -> None:
    change = actions.pause(policy(status=canary(1)))
    assert change.patch == {"spec": {"paused": True}}
    assert change.changes == [("spec.paused", False, True)]
    again = actions.pause(policy({"paused": True}, canary(1)))
    assert again.patch == {} and "already paused" in again.note


@pytest.mark.parametrize(("spec", "status", "patch"), [
    pytest.param({"paused": True}, canary(1), {"spec": {"paused": False}}, id="user-pause"),
    pytest.param({}, canary(1, pauseReason="analysis inconclusive"), action_patch("resume"),
                 id="operator-pause"),
    pytest.param({"paused": True}, canary(1, pauseReason="analysis inconclusive"),
                 {"spec": {"paused": False}, **action_patch("resume")}, id="both"),
])
def test_resume_lifts_either_kind_of_pause(spec: dict[str, Any], status: dict[str, Any],
                                          patch: dict[str, Any]) -> None:
    assert actions.resume(policy(spec, status)).patch == patch


def test_resume_already_waiting_is_a_no_op() -> None:
    up = policy(status=canary(1, pauseReason="analysis inconclusive"),
                annotations={ACTION_ANNOTATION: "resume"})
    change = actions.resume(up)
    assert change.patch == {} and "already waits" in change.note


def test_resume_with_nothing_paused_points_at_promote() -> None:
    change = actions.resume(policy(status=canary(1)))
    assert change.patch == {}
    assert "step 2/4 waits for `promote`" in change.note


def test_rollback_sets_the_target_to_a_version_that_served() -> None:
    up = policy({"targetVersion": "2"}, {"stableVersion": "2", "history": [
        {"version": "2", "fromVersion": "1", "outcome": "Promoted"}, PROMOTED_1]})
    change = actions.rollback(up, [mv("1"), mv("2")], "1")
    assert change.patch == {"spec": {"targetVersion": "1"}}
    assert change.changes == [("spec.targetVersion", "2", "1")]
    assert "at once" in change.note


def test_rollback_to_the_stable_version_ends_a_canary() -> None:
    change = actions.rollback(policy(status=canary(1)), [mv("1"), mv("2")], "1")
    assert change.patch == {"spec": {"targetVersion": "1"}}
    assert "the rollout of 2 ends" in change.note


def test_rollback_refuses_a_version_that_never_served() -> None:
    with pytest.raises(CliError) as e:
        actions.rollback(policy({"targetVersion": "1"}), [mv("1"), mv("3")], "3")
    assert "starts a canary rollout, not a rollback" in e.value.message
    assert e.value.hint and '"targetVersion":"3"' in e.value.hint


def test_rollback_to_an_unknown_version_is_not_found() -> None:
    with pytest.raises(CliError) as e:
        actions.rollback(policy(), [mv("1"), mv("2")], "9")
    assert e.value.code == NOT_FOUND and "versions: 1, 2" in e.value.message


def test_rollback_to_where_it_already_is_changes_nothing() -> None:
    change = actions.rollback(policy({"targetVersion": "1"}), [mv("1")], "1")
    assert change.patch == {} and "nothing changed" in change.note


def test_rollback_warns_about_auto_update_and_unready_versions() -> None:
    up = policy({"targetVersion": None, "autoUpdate": {"enabled": True}},
                {"stableVersion": "2", "history": [
                    {"version": "2", "fromVersion": "1", "outcome": "Promoted"}, PROMOTED_1]})
    change = actions.rollback(up, [mv("1", phase="Pending"), mv("2")], "1")
    assert "autoUpdate is on" in change.note and "version 1 is Pending" in change.note


PROMOTED_2 = {"stableVersion": "2", "history": [
    {"version": "2", "fromVersion": "1", "outcome": "Promoted"}, PROMOTED_1]}


@pytest.mark.parametrize("meta, manager", [
    pytest.param({"annotations": {"argocd.argoproj.io/tracking-id":
                                  "app:modelops.io/UpdatePolicy:ns/m"}}, "Argo CD", id="argo"),
    pytest.param({"managedFields": [{"manager": "argocd-controller"}]}, "Argo CD",
                 id="argo-ssa"),
    pytest.param({"labels": {"kustomize.toolkit.fluxcd.io/name": "apps"}}, "Flux", id="flux"),
    pytest.param({"labels": {"app.kubernetes.io/instance": "mine"},
                  "managedFields": [{"manager": "kubectl-client-side-apply"}]}, None,
                 id="kubectl"),
])
def test_gitops_manager(meta: dict[str, Any], manager: str | None) -> None:
    assert actions.gitops_manager({"metadata": meta}) == manager


def test_rollback_under_gitops_holds_without_writing_spec() -> None:
    up = policy({"targetVersion": "2"}, PROMOTED_2)
    up["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"] = "a:b"
    change = actions.rollback(up, [mv("1"), mv("2")], "1")
    assert change.patch == action_patch("rollback:1") and "spec" not in change.patch
    assert change.note.startswith("Argo CD manages this UpdatePolicy")
    assert "retry" in change.note


def test_rollback_by_a_role_that_may_not_edit_spec_holds() -> None:
    up = policy({"targetVersion": "2"}, PROMOTED_2)
    change = actions.rollback(up, [mv("1"), mv("2")], "1", may_edit_spec=False)
    assert change.patch == action_patch("rollback:1")
    assert change.note.startswith("your role may not change this UpdatePolicy's spec")
    assert actions.rollback(up, [mv("1"), mv("2")], "1").patch == {
        "spec": {"targetVersion": "1"}}


@pytest.mark.parametrize("mode, patch", [
    ("hold", action_patch("rollback:1")),
    ("target", {"spec": {"targetVersion": "1"}}),
])
def test_rollback_mode_overrides_the_detection(mode: str, patch: dict[str, Any]) -> None:
    up = policy({"targetVersion": "2"}, PROMOTED_2)
    up["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"] = "a:b"
    assert actions.rollback(up, [mv("1"), mv("2")], "1", mode).patch == patch


def test_hold_refuses_a_version_that_never_served() -> None:
    with pytest.raises(CliError, match="has not served before"):
        actions.rollback(policy({"targetVersion": "2"}, PROMOTED_2), [mv("1"), mv("3")], "3",
                         "hold")


def test_retry_ends_a_hold() -> None:
    up = policy({"targetVersion": "2"}, {"stableVersion": "1", "hold": {
        "version": "1", "target": "2"}, "history": PROMOTED_2["history"]})
    change = actions.retry(up)
    assert change.patch == action_patch("retry") and "hold on 1 ends" in change.note
