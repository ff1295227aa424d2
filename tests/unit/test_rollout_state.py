"""The rollout state machine, driven step by step with a fake clock and observed state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from modelops.api.updatepolicy import UpdatePolicySpec
from modelops.rollout.policy import policy_record
from modelops.rollout.replicas import version_replicas
from modelops.rollout.state import Decision, Observed, decide
from modelops.rollout.target import VersionInfo
from modelops.rollout.verdict import measurement_due
from modelops.traffic.replicas import split

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
STEPS = [{"setWeight": 10}, {"pause": {"duration": "60s"}}, {"setWeight": 50},
         {"pause": {}}]
ANALYSIS = {"interval": "30s", "failureLimit": 1, "inconclusiveLimit": 1,
            "prometheus": {"address": "http://127.0.0.1:9090"},
            "metrics": [{"name": "error-rate", "query": "q", "max": 0.01}]}


def policy(**spec: Any) -> UpdatePolicySpec:
    base: dict[str, Any] = {"model": "m", "replicas": 4,
                            "strategy": {"canary": {"steps": STEPS}}}
    base.update(spec)
    return UpdatePolicySpec.model_validate(base)


def versions(*vs: str, phase: str = "Ready") -> dict[str, VersionInfo]:
    return {v: VersionInfo(v, f"m-{v}", phase, f"2026-01-0{i + 1}T00:00:00Z")
            for i, v in enumerate(vs)}


class Sim:
    """Runs decide() like the operator would: replicas follow the status at once."""

    def __init__(self, spec: UpdatePolicySpec, vs: dict[str, VersionInfo]) -> None:
        self.spec, self.vs, self.now = spec, vs, T0
        self.status: dict[str, Any] = {}
        self.events: list[tuple[str, str, str]] = []

    def ready(self) -> dict[str, int]:
        """Every version's pods, as the status asks for them (rollout.replicas), all ready."""
        meta = {"creationTimestamp": "2026-01-01T00:00:00Z"}
        [record] = policy_record("ns", "m", meta, self.spec.dump(), self.status).values()

        def asked(v: str | None) -> int:
            return version_replicas(record, v or "", lambda c: version_replicas(
                record, c or "", lambda _: 0))
        return {v: n for v in self.vs if (n := asked(v))}

    def step(self, after: float = 0, measurement: list[dict[str, Any]] | None = None,
             action: str | None = None, **obs: Any) -> Decision:
        self.now += timedelta(seconds=after)
        if action:
            self.status["pendingAction"] = action
        d = decide(self.spec, self.status, Observed(self.vs, obs.get("ready", self.ready()),
                                                     route=obs.get("route"),
                                                     measurement=measurement,
                                                     monitoring=obs.get("monitoring")),
                   self.now)
        self.status = d.status
        self.events += d.events
        # The final full-size step and the hand-overs move replicas; they are ready at once
        # here, and the operator is woken by that change: decide again at the same moment.
        message = str(self.status.get("message"))
        if "ready" not in obs and (("full size" in message and self.status.get("canaryVersion")
                                    and self.status.get("canaryWeight") == 100)
                                   or "incoming" in self.status or "to leave" in message):
            d = decide(self.spec, self.status, Observed(self.vs, self.ready()), self.now)
            self.status = d.status
            self.events += d.events
        return d

    @property
    def phase(self) -> str:
        return str(self.status.get("phase"))

    def reasons(self) -> list[str]:
        return [e[1] for e in self.events]


def m(value: float | None, phase: str) -> list[dict[str, Any]]:
    return [{"name": "error-rate", "value": value, "phase": phase, "time": "t"}]


def rolled_out(spec: UpdatePolicySpec | None = None) -> Sim:
    """A model whose version 1 is stable and whose target is now 2."""
    sim = Sim(spec or policy(targetVersion="1"), versions("1", "2"))
    sim.step()
    sim.spec = sim.spec.model_copy(update={"target_version": "2"})
    return sim


def test_first_version_takes_all_traffic_at_once() -> None:
    sim = Sim(policy(targetVersion="1"), versions("1"))
    sim.step()
    assert (sim.phase, sim.status["stableVersion"], sim.status["canaryWeight"]) == (
        "Promoted", "1", 0)
    assert sim.status["history"][0]["reason"] == "FirstVersion"


def test_first_version_waits_until_ready() -> None:
    sim = Sim(policy(targetVersion="1"), versions("1", phase="Training"))
    sim.step()
    assert sim.phase == "Idle" and "stableVersion" not in sim.status


def test_healthy_canary_walks_every_step() -> None:
    sim = rolled_out()
    sim.step()
    st = sim.status
    assert (st["canaryVersion"], st["currentStepIndex"], st["canaryWeight"]) == ("2", 0, 10)
    sim.step()  # replicas now follow: 10% reached -> into the timed pause
    assert st is not sim.status and sim.status["currentStepIndex"] == 1
    assert sim.status["actualCanaryWeight"] == 25  # 1 of 4 pods: the honest share
    d = sim.step(after=59)
    assert sim.status["currentStepIndex"] == 1 and d.requeue_after == pytest.approx(1, abs=0.6)
    sim.step(after=1)
    assert sim.status["currentStepIndex"] == 2 and sim.status["canaryWeight"] == 50
    sim.step()
    assert sim.status["currentStepIndex"] == 3 and sim.phase == "Paused"
    sim.step(after=3600)
    assert sim.phase == "Paused"  # an indefinite pause waits for a person
    sim.step(action="promote")
    assert sim.phase == "Promoted" and sim.status["stableVersion"] == "2"
    assert "canaryVersion" not in sim.status and sim.status["canaryWeight"] == 0
    h = sim.status["history"][0]
    assert (h["revision"], h["version"], h["fromVersion"], h["outcome"]) == (2, "2", "1",
                                                                             "Promoted")
    story = [r for r in sim.reasons() if r in ("RolloutStarted", "WeightSet", "Promoted")]
    assert story[1:] == ["RolloutStarted", "WeightSet", "WeightSet", "Promoted"]


def test_promote_full_skips_to_100() -> None:
    sim = rolled_out()
    sim.step()
    sim.step(action="promote-full")
    assert sim.phase == "Promoted" and sim.status["stableVersion"] == "2"


def test_analysis_failure_rolls_back_with_the_values() -> None:
    sim = rolled_out(policy(targetVersion="1", analysis=ANALYSIS))
    sim.step()
    sim.step(measurement=m(0.001, "Successful"))
    sim.step(after=30, measurement=m(0.2, "Failed"))
    assert sim.phase == "Progressing" and sim.status["analysis"]["failures"] == 1
    sim.step(after=30, measurement=m(0.3, "Failed"))
    assert sim.phase == "RolledBack" and sim.status["stableVersion"] == "1"
    assert "canaryVersion" not in sim.status and sim.status["canaryWeight"] == 0
    h = sim.status["history"][0]
    assert h["outcome"] == "RolledBack" and h["reason"] == "AnalysisFailed"
    assert "error-rate=0.3 (Failed)" in h["message"]
    # the same target is not rolled out again by itself...
    sim.step(after=60)
    assert sim.phase == "RolledBack" and "canaryVersion" not in sim.status
    # ...until a person says retry
    sim.step(action="retry")
    assert sim.status["canaryVersion"] == "2" and sim.status["revision"] == 3


def test_inconclusive_pauses_and_data_resumes() -> None:
    sim = rolled_out(policy(targetVersion="1", analysis=ANALYSIS))
    sim.step()
    sim.step(measurement=m(None, "Inconclusive"))
    assert sim.phase == "Progressing"
    sim.step(after=30, measurement=m(None, "Inconclusive"))
    assert sim.phase == "Paused" and "inconclusive" in sim.status["pauseReason"]
    idx = sim.status["currentStepIndex"]
    sim.step(after=300)
    assert sim.status["currentStepIndex"] == idx  # no progress, no promotion, on no data
    sim.step(after=30, measurement=m(0.001, "Successful"))
    assert sim.phase == "Progressing" and "pauseReason" not in sim.status


def test_never_promotes_without_a_clean_measurement() -> None:
    sim = rolled_out(policy(targetVersion="1", analysis=ANALYSIS,
                            strategy={"canary": {"steps": [{"setWeight": 50}]}}))
    sim.step()
    sim.step()
    assert sim.status.get("canaryVersion") == "2"
    assert "waiting for a successful analysis" in sim.status["message"]
    assert sim.status["canaryWeight"] == 50  # missing data never grows the canary
    sim.step(after=1, measurement=m(0.0, "Successful"))
    assert sim.phase == "Promoted"


def test_abort_then_retry() -> None:
    sim = rolled_out()
    sim.step()
    sim.step(action="abort")
    assert sim.phase == "Degraded" and sim.status["history"][0]["outcome"] == "Aborted"
    sim.step(after=10)
    assert "canaryVersion" not in sim.status
    sim.step(action="retry")
    assert sim.status["canaryVersion"] == "2" and sim.phase == "Progressing"


def test_target_back_to_history_is_a_fast_rollback() -> None:
    sim = rolled_out(policy(targetVersion="1", strategy={"canary": {"steps": []}}))
    sim.step()
    assert sim.status["stableVersion"] == "2"
    sim.spec = sim.spec.model_copy(update={"target_version": "1"})
    sim.step()
    assert sim.phase == "RolledBack" and sim.status["stableVersion"] == "1"
    assert "canaryVersion" not in sim.status
    assert sim.status["history"][0]["reason"] == "TargetRollback"


def test_progress_deadline_fails_a_stuck_step() -> None:
    sim = rolled_out(policy(targetVersion="1", progressDeadlineSeconds=60))
    sim.step(ready={"1": 4})  # the canary never gets a ready pod
    sim.step(after=30, ready={"1": 4})
    assert sim.phase == "Progressing"
    sim.step(after=31, ready={"1": 4})
    assert sim.phase == "Degraded" and sim.status["stableVersion"] == "1"
    assert sim.status["history"][0]["reason"] == "ProgressDeadlineExceeded"


def test_spec_paused_time_does_not_count_against_a_timed_pause() -> None:
    sim = rolled_out()
    sim.step()
    sim.step()  # in the 60s pause
    sim.spec = sim.spec.model_copy(update={"paused": True})
    sim.step(after=30)
    assert sim.phase == "Paused"
    sim.step(after=600)
    sim.spec = sim.spec.model_copy(update={"paused": False})
    sim.step()
    assert sim.status["currentStepIndex"] == 1  # 30s of the pause are left
    sim.step(after=30)
    assert sim.status["currentStepIndex"] == 2


def test_auto_update_follows_the_newest_ready_version_inside_the_window() -> None:
    spec = policy(autoUpdate={"enabled": True, "window": {"schedule": "0 2 * * *",
                                                          "duration": "4h"}})
    sim = Sim(spec, versions("1"))
    sim.step()
    assert sim.status["stableVersion"] == "1"
    sim.vs = versions("1", "2")
    sim.step()  # 12:00 is outside 02:00-06:00
    assert "canaryVersion" not in sim.status and "outside the window" in sim.status["message"]
    sim.now = datetime(2026, 1, 6, 2, 30, tzinfo=UTC)
    sim.step()
    assert sim.status["canaryVersion"] == "2"


def test_target_version_wins_over_auto_update() -> None:
    sim = Sim(policy(targetVersion="1", autoUpdate={"enabled": True}), versions("1", "2"))
    sim.step()
    sim.step()
    assert sim.status["stableVersion"] == "1" and "canaryVersion" not in sim.status


def test_failed_version_is_never_rolled_out() -> None:
    sim = rolled_out()
    sim.vs = {**sim.vs, "2": VersionInfo("2", "m-2", "Failed", "x")}
    sim.step()
    assert "canaryVersion" not in sim.status and "failed" in sim.status["message"]


def test_restart_continues_a_step_at_the_right_moment() -> None:
    sim = rolled_out()
    sim.step()
    sim.step()  # pause of 60s began at T0
    saved = dict(sim.status)
    fresh = Sim(sim.spec, sim.vs)  # a new operator process: only the stored status
    fresh.status, fresh.now = saved, sim.now
    fresh.step(after=59)
    assert fresh.status["currentStepIndex"] == 1
    fresh.step(after=1)
    assert fresh.status["currentStepIndex"] == 2


def test_measurement_is_due_every_interval_while_a_canary_is_live() -> None:
    spec = policy(analysis=ANALYSIS)
    assert not measurement_due(spec, {}, T0)
    live = {"canaryVersion": "2"}
    assert measurement_due(spec, live, T0)
    live["analysis"] = {"lastMeasurementTime": "2026-01-05T12:00:00Z"}
    assert not measurement_due(spec, live, T0 + timedelta(seconds=29))
    assert measurement_due(spec, live, T0 + timedelta(seconds=30))


def test_unusable_actions_are_dropped() -> None:
    sim = Sim(policy(targetVersion="1"), versions("1"))
    sim.step()
    sim.step(action="promote")
    assert "pendingAction" not in sim.status and "ActionIgnored" in sim.reasons()


def test_auto_update_target_holds_while_the_serving_version_scales_up() -> None:
    """Scaled up by the policy, the new stable goes Pending; that must not flip the target."""
    spec = policy(autoUpdate={"enabled": True})
    sim = Sim(spec, versions("1", "2"))
    sim.step()
    assert sim.status["stableVersion"] == "2"
    sim.vs = {**sim.vs, "2": VersionInfo("2", "m-2", "Pending", "2026-01-02T00:00:00Z")}
    sim.step()
    assert sim.status["stableVersion"] == "2" and sim.phase == "Promoted"
    assert "canaryVersion" not in sim.status


def test_a_duplicate_claim_does_not_hide_the_version_holder() -> None:
    from modelops.rollout.target import model_versions

    def mv(name: str, created: str, phase: str) -> dict[str, Any]:
        return {"metadata": {"name": name, "creationTimestamp": created},
                "spec": {"model": "m", "version": "1", "artifact": {"uri": "s3://a"}},
                "status": {"phase": phase}}
    vs = model_versions([mv("m-v1", "2026-01-01T00:00:00Z", "Ready"),
                         mv("m-v1-again", "2026-01-02T00:00:00Z", "Failed")])
    assert vs["1"].name == "m-v1" and vs["1"].ready


def test_setting_the_target_back_after_an_abort_is_healthy_again() -> None:
    sim = rolled_out()
    sim.step()
    sim.step(action="abort")
    assert sim.phase == "Degraded"
    sim.spec = sim.spec.model_copy(update={"target_version": "1"})
    sim.step()
    assert sim.phase == "Promoted" and sim.status["stableVersion"] == "1"


def test_a_canary_that_never_starts_is_never_promoted_and_rolls_back_at_the_deadline() -> None:
    # No steps: the rollout is only the final full-size step. The canary's pods never get
    # ready (a fetch that fails, an image the node lacks): the stable keeps every replica.
    sim = rolled_out(policy(targetVersion="1", strategy=None, progressDeadlineSeconds=60))
    broken = {"1": 4, "2": 0}
    sim.step(ready=broken)
    assert sim.status["stableVersion"] == "1" and sim.status["canaryVersion"] == "2"
    assert "full size (0/4)" in sim.status["message"]
    assert split(4, sim.status["canaryWeight"]) == (4, 4)  # a surge, not a swap
    sim.step(after=30, ready=broken)
    assert sim.phase == "Progressing" and sim.status["stableVersion"] == "1"
    sim.step(after=31, ready=broken)
    assert sim.status["stableVersion"] == "1" and not sim.status.get("canaryVersion")
    assert "ProgressDeadlineExceeded" in sim.reasons()
    # Its pods refused it (a wrong digest): scaled to zero it reads Failed, and a `retry`
    # does not roll it out again; the policy says why, every round.
    sim.vs = {**sim.vs, "2": VersionInfo("2", "m-2", "Failed", "x")}
    for _ in range(2):
        sim.step(after=5, action="retry", ready={"1": 4, "2": 0})
        assert not sim.status.get("canaryVersion") and not sim.status.get("pendingAction")
        assert "will not be rolled out until its spec changes" in sim.status["message"]
    assert sim.reasons().count("ActionIgnored") == 2 and "RolloutStarted" not in \
        sim.reasons()[-2:]


def test_promotion_waits_for_the_canary_at_full_size() -> None:
    sim = rolled_out(policy(targetVersion="1", strategy=None))
    sim.step(ready={"1": 4, "2": 3})
    assert sim.status.get("canaryVersion") == "2"
    sim.step(after=5, ready={"1": 4, "2": 4})
    assert sim.status["stableVersion"] == "2" and sim.phase == "Promoted"


def test_no_data_while_the_canary_starts_is_not_counted() -> None:
    spec = policy(targetVersion="1", analysis=ANALYSIS)
    sim = rolled_out(spec)
    for _ in range(5):  # real pods take seconds to fetch and load: nothing to measure yet
        sim.step(after=30, measurement=m(None, "Inconclusive"), ready={"1": 4, "2": 0})
    assert sim.phase == "Progressing" and not sim.status.get("pauseReason")
    assert sim.status["analysis"]["inconclusive"] == 0
    sim.step(after=30, measurement=m(None, "Inconclusive"), ready={"1": 3, "2": 1})
    sim.step(after=30, measurement=m(None, "Inconclusive"), ready={"1": 3, "2": 1})
    assert sim.phase == "Paused"  # a gap once it serves counts as before
