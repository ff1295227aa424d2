"""Hand-overs without an outage: warm standby after a promotion, a rolled-back canary that
drains, a rollback that waits for its target's pods, and a new rollout that waits for a warm
version to leave the Service."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from modelops.rollout.replicas import version_replicas
from tests.unit.test_rollout_state import Sim, policy, rolled_out, versions

NO_STEPS = {"canary": {"steps": []}}


def promoted(**spec: object) -> Sim:
    sim = rolled_out(policy(targetVersion="1", strategy=NO_STEPS, **spec))
    sim.step()
    assert sim.status["stableVersion"] == "2"
    return sim


def test_the_previous_stable_stays_warm_then_goes() -> None:
    sim = promoted(scaleDownDelaySeconds=45)
    out = sim.status["outgoing"]
    assert (out["version"], out["replicas"], out["serving"]) == ("1", 4, False)
    assert sim.ready() == {"1": 4, "2": 4}  # warm at full size, out of traffic
    sim.step(after=30)
    assert sim.status["outgoing"]["replicas"] == 4
    sim.step(after=16)
    assert sim.status["outgoing"]["replicas"] == 0  # its time is over: scaled down ...
    sim.step(ready={"1": 2, "2": 4})
    assert "outgoing" in sim.status  # ... and remembered while pods are left
    sim.step(ready={"2": 4})
    assert "outgoing" not in sim.status


def test_no_delay_no_warm_standby() -> None:
    sim = promoted(scaleDownDelaySeconds=0)
    assert "outgoing" not in sim.status and sim.ready() == {"2": 4}


def test_a_rollback_to_the_warm_version_is_instant() -> None:
    sim = promoted()
    sim.spec = sim.spec.model_copy(update={"target_version": "1"})
    sim.step(after=10)
    assert sim.status["stableVersion"] == "1" and sim.phase == "RolledBack"
    assert sim.status["outgoing"]["version"] == "2"  # and now 2 is the warm one
    assert "RollbackStarted" not in sim.reasons()


def test_a_rollback_to_a_cold_version_waits_for_its_pods() -> None:
    sim = promoted()
    sim.spec = sim.spec.model_copy(update={"target_version": "1"})
    sim.step(after=60, ready={"2": 4})  # 1 is no longer warm
    st = sim.status
    assert st["stableVersion"] == "2" and st["incoming"]["version"] == "1"
    assert "waiting for its pods (0/4)" in st["message"] and "RollbackStarted" in sim.reasons()
    [record] = __import__("modelops.rollout.policy", fromlist=["x"]).policy_record(
        "ns", "m", {}, sim.spec.dump(), st).values()
    assert version_replicas(record, "1", lambda _: 0) == 4  # comes up beside the stable
    assert version_replicas(record, "2", lambda _: 0) == 4  # which keeps all its pods
    sim.step(after=5, ready={"1": 3, "2": 4})
    assert sim.status["stableVersion"] == "2"
    sim.step(after=5, ready={"1": 4, "2": 4})
    st = sim.status
    assert st["stableVersion"] == "1" and sim.phase == "RolledBack" and "incoming" not in st
    assert st["history"][0]["reason"] == "TargetRollback"
    assert st["history"][0]["startTime"] < st["history"][0]["endTime"]


def test_a_rollback_whose_pods_never_come_gives_up_and_keeps_the_stable() -> None:
    sim = promoted(progressDeadlineSeconds=60)
    sim.spec = sim.spec.model_copy(update={"target_version": "1"})
    sim.step(after=60, ready={"2": 4})
    sim.step(after=61, ready={"1": 1, "2": 4})
    st = sim.status
    assert st["stableVersion"] == "2" and sim.phase == "Degraded" and "incoming" not in st
    assert "ProgressDeadlineExceeded" in sim.reasons()
    sim.step(after=30, ready={"1": 1, "2": 4})  # not tried again by itself ...
    assert "incoming" not in sim.status and "`retry`" in sim.status["message"]
    sim.step(action="retry", ready={"1": 1, "2": 4})  # ... but `retry` tries it again
    assert sim.status["incoming"]["version"] == "1" and sim.status["stableVersion"] == "2"


def test_a_rolled_back_canary_drains_until_the_stable_is_whole() -> None:
    sim = rolled_out(policy(targetVersion="1", analysis={
        "interval": "30s", "failureLimit": 0, "prometheus": {"address": "http://p:9090"},
        "metrics": [{"name": "error-rate", "query": "q", "max": 0.01}]}))
    sim.step()  # 10%: 3 stable + 1 canary
    sim.step(after=30, ready={"1": 3, "2": 1},
             measurement=[{"name": "error-rate", "value": 0.4, "phase": "Failed"}])
    st = sim.status
    assert sim.phase == "RolledBack" and "canaryVersion" not in st
    assert st["outgoing"] == {"version": "2", "replicas": 1, "serving": True}
    sim.step(after=2, ready={"1": 3, "2": 1})
    assert st["outgoing"]["serving"]  # still sharing the Service: 3 stable pods are not 4
    sim.step(after=2, ready={"1": 4, "2": 1})
    assert "outgoing" not in sim.status  # the stable is whole: the canary may go


def test_a_canary_that_never_got_ready_goes_at_once() -> None:
    # Its pods never served, the stable never gave up one: nothing is left to drain, and no
    # pod of either version will change to wake the policy later (seen on a real node).
    sim = rolled_out(policy(targetVersion="1", progressDeadlineSeconds=60))
    sim.step(ready={"1": 4})
    assert sim.status["canaryVersion"] == "2"
    sim.step(after=61, ready={"1": 4})
    assert sim.phase == "Degraded" and "outgoing" not in sim.status
    assert sim.ready() == {"1": 4}  # no pods asked of 2 any more


def route(*services: str, accepted: bool = True) -> dict[str, Any]:
    gen = 3
    return {"metadata": {"name": "r", "generation": gen}, "spec": {"rules": [{"backendRefs": [
        {"name": s, "port": 8080, "weight": 50} for s in services]}]},
            "status": {"parents": [{"conditions": [
                {"type": t, "status": "True", "observedGeneration": gen if accepted else 1}
                for t in ("Accepted", "ResolvedRefs")]}]}}


def test_a_routed_canary_keeps_its_pods_until_the_gateway_routes_around_it() -> None:
    sim = rolled_out(policy(targetVersion="1", strategy={"canary": {
        "steps": [{"setWeight": 10}, {"pause": {}}],
        "trafficRouting": {"gatewayAPI": {"httpRoute": "r"}}}}))
    sim.vs = {v: replace(info, service=f"m-{v}") for v, info in sim.vs.items()}
    sim.step()
    sim.step(action="abort", route=route("m-1", "m-2"))
    assert sim.phase == "Degraded"
    assert sim.status["outgoing"] == {"version": "2", "replicas": 1, "serving": True}
    sim.step(after=1, route=route("m-1", "m-2"))  # the route still names it
    sim.step(after=1, route=route("m-1", accepted=False))  # rewritten, not yet accepted
    assert sim.status["outgoing"]["serving"] is True and sim.ready()["2"] == 1
    sim.step(after=1, route=route("m-1"))  # accepted without it: warm 30 s more, then gone
    assert sim.status["outgoing"]["serving"] is False and sim.ready()["2"] == 1
    sim.step(after=31, route=route("m-1"))
    assert sim.ready().get("2") is None
    sim.step(after=1, route=route("m-1"), ready={"1": 4})
    assert "outgoing" not in sim.status


def test_a_new_rollout_waits_for_the_warm_version_to_leave_the_service() -> None:
    sim = promoted()
    sim.vs = versions("1", "2", "3")
    sim.spec = sim.spec.model_copy(update={"target_version": "3"})
    sim.step(after=5, ready={"1": 4, "2": 4})
    st = sim.status
    assert "canaryVersion" not in st and st["outgoing"]["replicas"] == 0
    assert "waiting for 1 to leave" in st["message"]
    sim.step(after=1, ready={"2": 4})
    assert sim.status["canaryVersion"] == "3" and "outgoing" not in sim.status


def test_a_retry_waits_while_its_version_is_not_ready_instead_of_being_lost() -> None:
    sim = rolled_out()
    sim.step()
    sim.step(action="abort")
    sim.step(after=1)
    sim.vs = versions("1", "2")
    sim.vs["2"] = sim.vs["2"].__class__("2", "m-2", "Pending", sim.vs["2"].created)
    sim.step(action="retry")  # v2 is Pending for a moment (it was just scaled down)
    assert sim.status.get("pendingAction") == "retry" and "canaryVersion" not in sim.status
    assert "ActionIgnored" not in sim.reasons()
    sim.vs = versions("1", "2")
    sim.step(after=1)
    assert sim.status["canaryVersion"] == "2" and "Retry" in sim.reasons()
    assert "pendingAction" not in sim.status
