"""Summaries and rich views of `kubectl modelops`, and the --watch loop, without a cluster."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pytest
from rich.console import Console, RenderableType

from modelops.cli import summary, views
from modelops.cli.actions import Change
from modelops.cli.errors import FAILED, UNREACHABLE, CliError
from modelops.cli.watch import watch

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
STEPS = [{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}, {"pause": {"duration": "30s"}}]


def mv(version: str, phase: str | None = "Ready", created: str = "2026-01-01T10:00:00Z",
       **status: Any) -> dict[str, Any]:
    return {"metadata": {"name": f"m-v{version}", "namespace": "ns",
                         "creationTimestamp": created},
            "spec": {"model": "m", "version": version},
            "status": {"phase": phase, **status} if phase else {}}


def up(status: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "m", "namespace": "ns", "generation": 2,
                         "creationTimestamp": "2026-01-01T10:00:00Z"},
            "spec": {"model": "m", "targetVersion": "2", "replicas": 4,
                     "strategy": {"canary": {"steps": STEPS}}, **spec},
            "status": {"observedGeneration": 2, **(status or {})}}


ROLLING = {
    "phase": "Paused", "stableVersion": "1", "canaryVersion": "2", "currentStepIndex": 1,
    "canaryWeight": 25, "actualCanaryWeight": 25, "revision": 2,
    "rolloutStartTime": "2026-01-01T11:58:00Z", "message": "step 2/4: paused until promoted",
    "analysis": {"phase": "Running", "failures": 0, "inconclusive": 0,
                 "lastMeasurementTime": "2026-01-01T11:59:58Z",
                 "metrics": [{"name": "error-rate", "value": 0.004, "phase": "Successful"}]},
    "conditions": [{"type": "Healthy", "status": "True", "reason": "StableServing",
                    "message": "", "lastTransitionTime": "2026-01-01T11:00:00Z"}],
    "history": [{"revision": 1, "version": "1", "outcome": "Promoted", "reason": "FirstVersion",
                 "startTime": "2026-01-01T10:00:00Z", "endTime": "2026-01-01T10:00:00Z"}],
}
ANALYSIS = {"interval": "30s", "prometheus": {"address": "http://p:9090"},
            "metrics": [{"name": "error-rate", "query": "q", "max": 0.01}]}


def text(renderable: RenderableType, width: int = 160) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined]


def rolling_summary() -> dict[str, Any]:
    return summary.model_summary("ns", "m", [mv("1"), mv("2", created="2026-01-01T11:00:00Z")],
                                 up(ROLLING, analysis=ANALYSIS), NOW)


@pytest.mark.parametrize(("seconds", "shown"), [
    (None, "-"), (0, "0s"), (59, "59s"), (60, "1m"), (192, "3m12s"), (3600, "1h"),
    (7500, "2h5m"), (86400 * 3 + 3600 * 4, "3d4h"),
])
def test_human_duration(seconds: float | None, shown: str) -> None:
    assert summary.human_duration(seconds) == shown


def test_group_models_obeys_the_oldest_policy_and_sorts() -> None:
    older = up()
    newer = {**up(), "metadata": {**up()["metadata"], "name": "z",
                                  "creationTimestamp": "2026-01-01T11:00:00Z"}}
    other = {**mv("1"), "spec": {"model": "a", "version": "1"}}
    groups = summary.group_models([mv("2", created="2026-01-01T11:00:00Z"), mv("1"), other],
                                  [newer, older])
    assert list(groups) == [("ns", "a"), ("ns", "m")]
    versions, policy = groups[("ns", "m")]
    assert [v["spec"]["version"] for v in versions] == ["1", "2"]
    assert policy is not None and policy["metadata"]["name"] == "m"
    assert groups[("ns", "a")][1] is None


def test_model_summary_of_a_canary() -> None:
    s = rolling_summary()
    p = s["policy"]
    assert (p["stableVersion"], p["canaryVersion"], p["canaryWeight"]) == ("1", "2", 25)
    assert p["step"] == {"index": 1, "count": 4, "description": "pause until promoted"}
    assert p["steps"] == ["weight 25%", "pause until promoted", "weight 50%", "pause 30s"]
    # Limits the user left out come from the CRD's defaults; thresholds join the results.
    assert (p["analysis"]["failureLimit"], p["analysis"]["inconclusiveLimit"]) == (2, 3)
    assert p["analysis"]["metrics"][0] == {"name": "error-rate", "value": 0.004,
                                           "phase": "Successful", "max": 0.01}
    assert p["analysis"]["lastMeasurementAge"] == "2s"
    assert [(v["version"], v["role"]) for v in s["versions"]] == [("1", "stable"),
                                                                  ("2", "canary")]
    assert s["rolloutActive"] is True


@pytest.mark.parametrize(("status", "target", "versions", "active"), [
    pytest.param({"stableVersion": "1"}, "1", [mv("1")], False, id="settled"),
    pytest.param({"stableVersion": "1"}, "2", [mv("1"), mv("2", "Pending")], True,
                 id="target-becoming-ready"),
    pytest.param({"stableVersion": "1"}, "2", [mv("1"), mv("2", "Failed")], False,
                 id="target-failed"),
    pytest.param({"stableVersion": "1"}, "2", [mv("1")], False, id="target-missing"),
    pytest.param({"stableVersion": "1", "history": [
        {"version": "2", "fromVersion": "1", "outcome": "RolledBack"}]}, "2",
        [mv("1"), mv("2")], False, id="waits-for-retry"),
    pytest.param({"stableVersion": "1", "pendingAction": "promote"}, "1", [mv("1")], True,
                 id="action-pending"),
])
def test_rollout_active(status: dict[str, Any], target: str, versions: list[dict[str, Any]],
                        active: bool) -> None:
    s = summary.model_summary("ns", "m", versions, up(status, targetVersion=target), NOW)
    assert s["rolloutActive"] is active


def test_a_stale_status_counts_as_active() -> None:
    stale = up({"stableVersion": "1"}, targetVersion="1")
    stale["metadata"]["generation"] = 3
    assert summary.model_summary("ns", "m", [mv("1")], stale, NOW)["rolloutActive"] is True


@pytest.mark.parametrize(("phase", "last", "failed"), [
    ("Promoted", {"outcome": "Promoted"}, False),
    ("RolledBack", {"outcome": "RolledBack", "reason": "AnalysisFailed"}, True),
    ("RolledBack", {"outcome": "RolledBack", "reason": "TargetRollback"}, False),
    ("Degraded", {"outcome": "Aborted", "reason": "UserAbort"}, True),
])
def test_watch_failed(phase: str, last: dict[str, Any], failed: bool) -> None:
    s = summary.model_summary("ns", "m", [mv("1")], up({"phase": phase, "stableVersion": "1",
                                                         "history": [last]}), NOW)
    assert summary.watch_failed(s) is failed


def test_history_rows_put_the_running_rollout_first() -> None:
    status = {**ROLLING, "history": [
        {"revision": 2, "version": "3", "fromVersion": "1", "outcome": "RolledBack",
         "reason": "AnalysisFailed", "startTime": "2026-01-01T11:00:00Z",
         "endTime": "2026-01-01T11:03:12Z", "message": "error-rate=0.5 (Failed)"},
        *ROLLING["history"]]}
    rows = summary.history_rows(up(status), NOW)
    assert [(r["revision"], r["outcome"]) for r in rows] == [(2, "InProgress"),
                                                            (2, "RolledBack"), (1, "Promoted")]
    assert rows[0]["duration"] == "2m" and rows[1]["duration"] == "3m12s"
    assert rows[1]["durationSeconds"] == 192
    out = text(views.history_view(rows))
    assert "AnalysisFailed" in out and "error-rate=0.5 (Failed)" in out and "3m12s" in out


def test_status_view_draws_weights_steps_analysis_and_versions() -> None:
    out = text(views.status_view(rolling_summary()))
    for expected in ("model m  namespace ns", "policy m  phase Paused", "stable 1   canary 2",
                     "canary weight 25% set / 25% actual", "✓ 1. weight 25%",
                     "▶ 2. pause until promoted", "  3. weight 50%", "error-rate", "<= 0.01",
                     "failures 0/2", "Successful", "StableServing", "m-v2"):
        assert expected in out, (expected, out)
    assert "━" in out  # the progress bar over the steps


def test_status_view_without_a_policy_and_with_a_failed_version() -> None:
    failed = mv("1", "Failed", conditions=[
        {"type": "Valid", "status": "True"},
        {"type": "Evaluated", "status": "False", "reason": "GatesFailed",
         "message": "accuracy=0.8 is below min 0.9"}],
        evaluation={"metrics": {"accuracy": 0.8}, "passed": False})
    out = text(views.status_view(summary.model_summary("ns", "m", [failed], None, NOW)))
    assert "no UpdatePolicy" in out
    assert "Evaluated: GatesFailed accuracy=0.8 is below min 0.9" in out
    assert "accuracy=0.8 (gates failed)" in out


def test_list_view_columns() -> None:
    s = rolling_summary()
    out = text(views.list_view([s], all_namespaces=True))
    header, row = out.splitlines()[:2]
    assert header.split() == ["NAMESPACE", "MODEL", "STABLE", "CANARY", "WEIGHT", "STEP",
                              "PHASE", "VERSIONS"]
    assert row.split() == ["ns", "m", "1", "2", "25/25%", "2/4", "Paused", "1:Ready",
                           "2:Ready"]
    assert "NAMESPACE" not in text(views.list_view([s], all_namespaces=False))
    assert text(views.list_view([], False)).strip() == "No models found."


def test_change_lines() -> None:
    lines = views.change_lines("ns", "m", Change({"spec": {"paused": True}},
                                                 [("spec.paused", False, True)], "holds"))
    assert lines == ["updatepolicy/m patched (namespace ns):", "  spec.paused: false -> true",
                     "holds"]
    assert views.change_lines("ns", "m", Change({}, note="already paused")) == [
        "updatepolicy/m unchanged: already paused"]


# -- the --watch loop, with a fake clock ---------------------------------------------------
class Fake:
    def __init__(self, frames: list[list[dict[str, Any]] | Exception]) -> None:
        self.frames, self.t, self.calls = frames, 0.0, 0

    def fetch(self) -> list[dict[str, Any]]:
        frame = self.frames[min(self.calls, len(self.frames) - 1)]
        self.calls += 1
        if isinstance(frame, Exception):
            raise frame
        return frame

    def sleep(self, s: float) -> None:
        self.t += s


def frame(step: int | None, phase: str) -> list[dict[str, Any]]:
    status = ({**ROLLING, "currentStepIndex": step, "phase": phase} if step is not None else
              {"stableVersion": "2", "phase": phase})
    return [summary.model_summary("ns", "m", [mv("1"), mv("2")], up(status), NOW)]


def test_watch_prints_a_line_per_change_off_a_terminal() -> None:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    fake = Fake([frame(1, "Paused"), frame(1, "Paused"), frame(2, "Progressing"),
                 frame(None, "Promoted")])
    last = watch(fake.fetch, views.list_view, console, 1.0, None, lambda: fake.t, fake.sleep)
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert [ln.split()[1] for ln in lines] == ["phase=Paused", "phase=Progressing",
                                                "phase=Promoted"]
    assert "step=2/4" in lines[0] and "step=3/4" in lines[1]
    assert last[0]["policy"]["phase"] == "Promoted" and fake.calls == 4


def test_watch_redraws_in_place_on_a_terminal() -> None:
    console = Console(file=io.StringIO(), width=120, height=60, force_terminal=True,
                      color_system=None)
    fake = Fake([frame(1, "Paused"), frame(3, "Progressing"), frame(None, "Promoted")])
    watch(fake.fetch, lambda s: views.status_view(s[0]), console, 1.0, None,
          lambda: fake.t, fake.sleep)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert "\x1b[1A" in out and "\x1b[2K" in out  # cursor up + erase: drawn over, not appended
    assert out.index("▶ 2. pause until promoted") < out.index("▶ 4. pause 30s") \
        < out.index("phase Promoted")


def test_watch_times_out_and_tolerates_a_few_dropped_polls() -> None:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    flaky = CliError("cannot reach", UNREACHABLE)
    fake = Fake([flaky, flaky, frame(1, "Paused")])
    with pytest.raises(CliError) as e:
        watch(fake.fetch, views.list_view, console, 1.0, 5.0, lambda: fake.t, fake.sleep)
    assert e.value.code == FAILED and "timed out after 5s" in e.value.message
    fake = Fake([flaky] * 10)
    with pytest.raises(CliError) as e:
        watch(fake.fetch, views.list_view, console, 1.0, 60.0, lambda: fake.t, fake.sleep)
    assert e.value.code == UNREACHABLE and fake.calls == 4


@pytest.mark.parametrize(("status", "expected"), [
    pytest.param({"outgoing": {"version": "1", "replicas": 4, "serving": False,
                               "until": "2026-01-01T12:00:30Z"}},
                 "1 stays warm (4 pod(s), no traffic) until 2026-01-01T12:00:30Z", id="warm"),
    pytest.param({"outgoing": {"version": "2", "replicas": 1, "serving": True}},
                 "2 drains: it keeps its 1 pod(s)", id="draining"),
    pytest.param({"incoming": {"version": "0", "reason": "TargetRollback", "since": "t"}},
                 "rolling back to 0 once its pods are ready", id="incoming"),
])
def test_status_view_says_what_is_handed_over(status: dict[str, Any], expected: str) -> None:
    st = {"phase": "Promoted", "stableVersion": "2", "observedGeneration": 2, **status}
    s = summary.model_summary("ns", "m", [mv("1"), mv("2")], up(st, targetVersion="2"), NOW)
    assert expected in text(views.status_view(s))


def test_status_view_shows_monitoring_its_trend_and_the_last_regression() -> None:
    metric = {"name": "error-rate", "value": 0.2, "phase": "Failed", "time": "t"}
    st = {"phase": "RolledBack", "stableVersion": "1", "observedGeneration": 2, "monitoring": {
        "version": "1", "phase": "Failing", "since": "2026-01-01T11:00:00Z",
        "lastMeasurementTime": "2026-01-01T11:59:30Z", "consecutiveFailures": 1,
        "measurements": [{"time": "t3", "version": "1", "phase": "Failed", "metrics": [metric]},
                         {"time": "t2", "version": "1", "phase": "Successful", "metrics": []},
                         {"time": "t1", "version": "2", "phase": "Inconclusive", "metrics": []}],
        "lastRegression": {"time": "2026-01-01T10:59:00Z", "version": "2", "action": "Rollback",
                           "to": "1", "message": "error-rate=0.5 (Failed)"}}}
    spec = {"targetVersion": "2", "monitoring": {
        "interval": "30s", "failureThreshold": 3, "action": "Rollback",
        "prometheus": {"address": "http://p:9090"},
        "metrics": [{"name": "error-rate", "template": "error-rate", "max": 0.05}]}}
    s = summary.model_summary("ns", "m", [mv("1"), mv("2")], up(st, **spec), NOW)
    out = text(views.status_view(s))
    for expected in ("monitoring Failing 1", "failures in a row 1/3", "every 30s",
                     "on regression Rollback", "last measured 30s ago", "trend ?✓✗",
                     "<= 0.05", "last regression: 2 at 2026-01-01T10:59:00Z, rolled back to 1",
                     "error-rate=0.5 (Failed)"):
        assert expected in out, (expected, out)


def test_status_view_shows_pending_notifications() -> None:
    st = {"phase": "Promoted", "stableVersion": "2", "observedGeneration": 2, "notifications": {
        "sent": 14, "nextId": 17, "pending": [
            {"id": 15, "receiver": "team", "reason": "Regression", "type": "Warning",
             "message": "m", "time": "t", "attempts": 3, "lastError": "connection refused"},
            {"id": 16, "receiver": "team", "reason": "RolledBack", "type": "Normal",
             "message": "m", "time": "t"}]}}
    s = summary.model_summary("ns", "m", [mv("1"), mv("2")], up(st, targetVersion="2"), NOW)
    out = text(views.status_view(s))
    assert ("notifications 14 sent, 2 pending (oldest: Regression to team, 3 failed "
            "attempt(s): connection refused)") in out, out


def test_status_view_shows_the_last_retraining() -> None:
    st = {"phase": "RolledBack", "stableVersion": "1", "observedGeneration": 2, "retraining": {
        "runs": [{"version": "r20261201-031500", "name": "m-r20261201-031500",
                  "reason": "Regression", "message": "2 regressed: error-rate=0.5",
                  "startTime": "2026-12-01T03:15:00Z", "outcome": "Running"}]}}
    s = summary.model_summary("ns", "m", [mv("1"), mv("2")], up(st, targetVersion="2"), NOW)
    out = text(views.status_view(s))
    assert ("retraining r20261201-031500 Running (Regression, started 2026-12-01T03:15:00Z): "
            "2 regressed: error-rate=0.5") in out, out


def test_versions_show_their_latest_scheduled_evaluation_and_its_runs() -> None:
    runs = [{"run": 3, "jobName": "j", "startTime": "t"},
            {"run": 2, "jobName": "j", "startTime": "t", "endTime": "t", "passed": False,
             "metrics": {"accuracy": 0.8}},
            {"run": 1, "jobName": "j", "startTime": "t", "endTime": "t", "passed": True,
             "metrics": {"accuracy": 0.93}}]
    s = summary.model_summary("ns", "m", [mv("2", evaluation={
        "metrics": {"accuracy": 0.95}, "passed": True, "runs": runs})], None, NOW)
    out = text(views.status_view(s))
    assert "accuracy=0.8 runs ✓✗" in out, out
