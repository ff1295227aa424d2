"""A manual rollback that never writes spec: the hold, how it ends, and what it refuses."""

from __future__ import annotations

import pytest

from modelops.api.updatepolicy import valid_action
from tests.unit.test_rollout_state import Sim, policy, rolled_out, versions


def promoted_2() -> Sim:
    """1 served, then 2 was promoted; Git's target is 2; later rollouts have steps."""
    sim = rolled_out(policy(targetVersion="1", strategy={"canary": {"steps": []}}))
    sim.step()
    assert sim.status["stableVersion"] == "2" and sim.phase == "Promoted"
    sim.spec = sim.spec.model_copy(update={"strategy": policy().strategy})
    return sim


def test_rollback_holds_the_old_version_against_the_target() -> None:
    sim = promoted_2()
    sim.step(action="rollback:1")
    st = sim.status
    assert (st["stableVersion"], sim.phase, st["hold"]["version"], st["hold"]["target"]) == (
        "1", "RolledBack", "1", "2")
    assert st["history"][0]["reason"] == "ManualRollback"
    assert "held on 1" in st["message"] and "Held" in sim.reasons()
    for _ in range(3):  # the target still says 2: traffic stays on 1, nothing flaps
        sim.step(after=30)
        assert sim.status["stableVersion"] == "1" and "canaryVersion" not in sim.status
    assert sim.status["revision"] == st["revision"]


def test_a_new_target_ends_the_hold_and_rolls_out() -> None:
    sim = promoted_2()
    sim.vs = versions("1", "2", "3")
    sim.step(action="rollback:1")
    sim.spec = sim.spec.model_copy(update={"target_version": "3"})
    sim.step()
    assert "hold" not in sim.status and sim.status["canaryVersion"] == "3"
    assert sim.status["stableVersion"] == "1" and "HoldEnded" in sim.reasons()


def test_git_agreeing_with_the_hold_ends_it_healthy() -> None:
    sim = promoted_2()
    sim.step(action="rollback:1")
    sim.spec = sim.spec.model_copy(update={"target_version": "1"})
    sim.step()
    # As when Git sets the target back itself: RolledBack, with the target serving (Healthy).
    assert "hold" not in sim.status and sim.phase == "RolledBack"
    assert sim.status["stableVersion"] == "1" and "held" not in sim.status["message"]


def test_retry_ends_the_hold_with_a_canary_not_a_jump() -> None:
    sim = promoted_2()
    sim.step(action="rollback:1")
    sim.step(action="retry")
    st = sim.status
    assert "hold" not in st and st["canaryVersion"] == "2" and sim.phase == "Progressing"
    assert st["currentStepIndex"] == 0 and st["canaryWeight"] == 10  # step 1 again


def test_rollback_during_a_canary_aborts_it_and_holds_the_stable() -> None:
    sim = rolled_out()
    sim.step()
    assert sim.status["canaryVersion"] == "2"
    sim.step(action="rollback:1")
    st = sim.status
    assert "canaryVersion" not in st and st["stableVersion"] == "1"
    assert st["hold"] == {"version": "1", "target": "2", "since": st["hold"]["since"],
                          "reason": "ManualRollback"}
    assert st["history"][0]["outcome"] == "Aborted"
    assert st["history"][0]["reason"] == "ManualRollback"


def test_the_hold_is_only_status_so_a_restart_keeps_it() -> None:
    sim = promoted_2()
    sim.step(action="rollback:1")
    saved = dict(sim.status)
    fresh = Sim(sim.spec, sim.vs)  # a new operator: nothing but the stored status
    fresh.status, fresh.now = saved, sim.now
    fresh.step(after=60)
    assert fresh.status["stableVersion"] == "1" and fresh.status["hold"]["version"] == "1"


@pytest.mark.parametrize("action, why", [
    pytest.param("rollback:3", "has not served", id="never-served"),
    pytest.param("rollback:2", "already is the target", id="already-there"),
])
def test_rollbacks_that_fit_nothing_are_refused(action: str, why: str) -> None:
    sim = promoted_2()
    sim.vs = versions("1", "2", "3")
    before = sim.status["stableVersion"]
    sim.step(action=action)
    assert sim.status["stableVersion"] == before and "hold" not in sim.status
    assert any(e[1] == "ActionIgnored" and why in e[2] for e in sim.events)


@pytest.mark.parametrize("action, ok", [
    ("rollback:1", True), ("rollback:v1.2-rc", True), ("rollback:", False),
    ("rollback:bad/version", False), ("promote", True), ("explode", False),
])
def test_valid_actions(action: str, ok: bool) -> None:
    assert valid_action(action) is ok
