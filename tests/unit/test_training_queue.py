"""A queued training gang (spec.training.queueName) as Kueue's Workload tells it: queued with
Kueue's reason, admitted whole, preempted and admitted again; and what Kueue's absence says."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from modelops.indexes import compact, job_summary
from modelops.training.queueing import KUEUE_WORD_WAIT, STOPPED_PODS_GRACE, queue_state
from modelops.versions.plan import Observed, plan
from tests.unit.test_training_plan import NOW, S, cond, mv


def wl(*conds: tuple[str, str, str, str], cq: str | None = None) -> dict[str, Any]:
    return {"queue": "training", "clusterQueue": cq,
            "conditions": [{"type": t, "status": s, "reason": r, "message": m}
                           for t, s, r, m in conds]}


PENDING = ("QuotaReserved", "False", "Pending",
           "couldn't assign flavors to pod set main: insufficient unused quota for cpu in "
           "flavor real-node, 1 more needed")
NO_QUEUE = ("QuotaReserved", "False", "Inadmissible", "LocalQueue nope doesn't exist")
ADMITTED = ("Admitted", "True", "Admitted", "The workload is admitted")
FINISHED = ("Finished", "True", "JobFinished", "Job finished failed")
PREEMPTED = ("Evicted", "True", "Preempted", "Preempted to accommodate a workload (UID: x) "
             "due to prioritization in the ClusterQueue")


def job(suspend: bool, workload: dict[str, Any] | None) -> dict[str, Any]:
    return {"metadata": {"name": "llm-7-train-1"}, "suspend": suspend,
            "status": {"conditions": []}, "workload": workload}


@pytest.mark.parametrize(("j", "kueue", "queued", "reason"), [
    pytest.param(job(False, wl(ADMITTED, cq="modelops")), True, False, "Admitted",
                 id="running"),
    pytest.param(job(True, wl(PENDING)), True, True, "Pending", id="no-quota-yet"),
    pytest.param(job(True, wl(NO_QUEUE)), True, True, "Inadmissible", id="unknown-queue"),
    pytest.param(job(True, wl(PREEMPTED, PENDING)), True, True, "Preempted", id="preempted"),
    pytest.param(job(True, wl(("QuotaReserved", "True", "QuotaReserved", ""), ADMITTED)),
                 True, True, "Admitted", id="admitted-not-yet-unsuspended"),
    pytest.param(job(True, None), False, True, "KueueNotInstalled", id="no-kueue"),
    pytest.param(job(True, None), None, True, "WaitingForKueue", id="no-workload-yet"),
])
def test_where_a_queued_job_stands(j: dict[str, Any], kueue: bool | None, queued: bool,
                                   reason: str) -> None:
    q = queue_state(j, kueue)
    assert (q.queued, q.reason) == (queued, reason)
    assert q.evicted == (reason == "Preempted")


def test_a_gang_waits_in_the_queue_is_admitted_whole_and_preempted_then_resumes() -> None:
    body = mv(nodes=2, queueName="training", priorityClass="low")
    p = plan(body, Observed(), S, NOW)
    created = p.create[1]
    assert created["spec"]["suspend"] is True  # one Indexed Job: one Workload, all or nothing
    assert (created["spec"]["parallelism"], created["spec"]["completions"]) == (2, 2)
    labels = created["metadata"]["labels"]
    assert labels["kueue.x-k8s.io/queue-name"] == "training"
    assert labels["kueue.x-k8s.io/priority-class"] == "low"
    assert "kueue.x-k8s.io/queue-name" not in created["spec"]["template"]["metadata"]["labels"]
    body = {**body, "status": p.status}

    def step(j: dict[str, Any], after: float, kueue: bool | None = True) -> Any:
        nonlocal body
        p = plan(body, Observed(jobs={"llm-7-train-1": j}, kueue=kueue), S,
                 NOW + timedelta(seconds=after))
        body = {**body, "status": p.status}
        return p

    p = step(job(True, wl(PENDING)), 1)
    assert cond(p, "Queued")["status"] == "True" and cond(p, "Queued")["reason"] == "Pending"
    assert "insufficient unused quota" in cond(p, "Queued")["message"]
    assert cond(p, "Trained")["reason"] == "Queued"
    assert p.status["phase"] == "Training"
    assert [(e.type, e.reason) for e in p.events] == [("Normal", "Queued")]
    assert p.status["training"]["queuedTime"] == "2026-01-01T00:00:01Z"
    assert step(job(True, wl(PENDING)), 5).events == []  # still waiting: said once

    p = step(job(False, wl(ADMITTED, cq="modelops")), 31)
    assert cond(p, "Queued")["status"] == "False" and cond(p, "Trained")["reason"] == "Training"
    assert [(e.reason, e.message) for e in p.events] == [
        ("Admitted", "admitted by ClusterQueue modelops after 30s in the queue")]
    t = p.status["training"]
    assert (t["admittedTime"], t["clusterQueue"]) == ("2026-01-01T00:00:31Z", "modelops")

    p = step(job(True, wl(PREEMPTED, PENDING)), 60)
    assert [(e.type, e.reason) for e in p.events] == [("Warning", "Preempted")]
    assert "resumes from its checkpoint" in p.events[0].message
    assert cond(p, "Queued")["reason"] == "Preempted"
    assert p.status["training"]["preemptions"] == 1
    assert p.create == []  # the same Job waits: no new attempt, no restart counted
    assert p.status["training"]["attempts"] == 1

    p = step(job(False, wl(ADMITTED, cq="modelops")), 90)
    assert [e.reason for e in p.events] == ["Admitted"]
    assert p.status["training"]["preemptions"] == 1


def failed(name: str, workload: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": name}, "suspend": True, "workload": workload, "status": {
        "conditions": [{"type": "Failed", "status": "True", "reason": "PodFailurePolicy",
                        "message": "Container trainer for pod x-0 failed with exit code 143"}]}}


@pytest.mark.parametrize("seen_waiting", [True, False], ids=["seen-waiting", "unseen"])
def test_a_preemption_that_failed_the_job_costs_no_restart(seen_waiting: bool) -> None:
    """Kueue suspends the gang's Job; its stopped pods exit 143 and the Job controller may
    count that against the pod-failure policy first: the Job ends Failed. That attempt is a
    preemption (counted once), not the gang's failure: the next attempt waits in the queue
    and the restart budget (maxRestarts 0 here) is untouched."""
    body = mv(nodes=2, queueName="training", maxRestarts=0, checkpoint={"claimName": "c"})
    body = {**body, "status": plan(body, Observed(), S, NOW).status}
    running = job(False, wl(ADMITTED, cq="modelops"))
    body = {**body, "status": plan(body, Observed(jobs={"llm-7-train-1": running}), S,
                                   NOW).status}
    if seen_waiting:
        body = {**body, "status": plan(body, Observed(jobs={"llm-7-train-1": job(
            True, wl(PREEMPTED, PENDING))}), S, NOW).status}
    p = plan(body, Observed(jobs={"llm-7-train-1": failed("llm-7-train-1", wl(
        PREEMPTED, PENDING))}), S, NOW + timedelta(seconds=9))
    t = p.status["training"]
    assert t["preemptions"] == 1 and t["attempts"] == 2 and p.status["phase"] == "Training"
    assert [o["metadata"]["name"] for o in p.create] == ["llm-7-train-2"]
    assert p.create[0]["spec"]["suspend"] is True
    reasons = [(e.type, e.reason) for e in p.events]
    assert ("Warning", "GangRestart") not in reasons
    assert ("Warning", "Preempted") in reasons
    assert t["history"][-1]["reason"].startswith("Preempted by Kueue: Preempted: ")

    # Kueue's Workload not updated yet: the Job, failed while suspended, says it as well.
    p = plan(body, Observed(jobs={"llm-7-train-1": failed("llm-7-train-1", wl(ADMITTED))}),
             S, NOW)
    assert p.status["training"]["attempts"] == 2 and p.status["phase"] == "Training"
    assert p.status["training"]["history"][-1]["reason"].startswith(
        "Preempted by Kueue: Suspended")

    # The same Job failing with no eviction in sight: Kueue marks a preempted Workload Evicted
    # before it suspends the Job, but that word comes on another watch. Wait for it...
    own = {**failed("llm-7-train-1", wl(ADMITTED)), "suspend": False}
    p = plan(body, Observed(jobs={"llm-7-train-1": own}), S, NOW)
    assert p.status["phase"] == "Training" and p.create == []
    assert p.recheck_after == KUEUE_WORD_WAIT
    assert "waiting for Kueue's word" in cond(p, "Trained")["message"]
    # ... and once Kueue says the Workload finished, it is the gang's own: over the budget.
    finished = {**failed("llm-7-train-1", wl(ADMITTED, FINISHED)), "suspend": False}
    p = plan(body, Observed(jobs={"llm-7-train-1": finished}), S, NOW)
    assert p.status["phase"] == "Failed" and cond(p, "Trained")["reason"] == (
        "MaxRestartsExceeded")
    # Kueue silent for KUEUE_WORD_WAIT after the failure: judged as the gang's own too (long
    # after any admission, so not the stopped pods of a preemption either).
    own["status"]["conditions"][0]["lastTransitionTime"] = "2026-01-01T00:05:00Z"
    p = plan(body, Observed(jobs={"llm-7-train-1": own}), S,
             NOW + timedelta(seconds=300 + KUEUE_WORD_WAIT + 1))
    assert p.status["phase"] == "Failed"


@pytest.mark.parametrize(("after", "preemption"), [(40, True), (STOPPED_PODS_GRACE + 30, False)])
def test_pods_a_preemption_stopped_may_fail_the_job_after_it_is_admitted_again(
        after: float, preemption: bool) -> None:
    """Kueue preempts the gang and admits it again while the stopped pods still terminate;
    their exit fails the Job with Kueue's eviction already cleared. Soon after the preemption
    that is the preemption's; long after, the gang's own."""
    body = mv(nodes=2, queueName="training", maxRestarts=0, checkpoint={"claimName": "c"})
    body = {**body, "status": plan(body, Observed(), S, NOW).status}
    for at, j in ((0, job(False, wl(ADMITTED, cq="modelops"))),
                  (30, job(True, wl(PREEMPTED, PENDING))),
                  (60, job(False, wl(ADMITTED, cq="modelops")))):
        body = {**body, "status": plan(body, Observed(jobs={"llm-7-train-1": j}), S,
                                       NOW + timedelta(seconds=at)).status}
    assert body["status"]["training"]["preemptions"] == 1
    stopped = {**failed("llm-7-train-1", wl(ADMITTED, FINISHED)), "suspend": False}
    stopped["status"]["conditions"][0]["lastTransitionTime"] = (  # after the preemption (30)
        NOW + timedelta(seconds=30 + after)).strftime("%Y-%m-%dT%H:%M:%SZ")
    p = plan(body, Observed(jobs={"llm-7-train-1": stopped}), S,
             NOW + timedelta(seconds=31 + after))
    t = p.status["training"]
    if preemption:
        assert p.status["phase"] == "Training" and t["attempts"] == 2
        assert t["history"][-1]["reason"].startswith("Preempted by Kueue: Preempted: the pods")
        assert t["preemptions"] == 1  # the same preemption, counted once
    else:
        assert p.status["phase"] == "Failed"


def test_a_queue_that_cannot_admit_says_so_as_a_warning() -> None:
    body = mv(queueName="nope")
    body = {**body, "status": plan(body, Observed(), S, NOW).status}
    p = plan(body, Observed(jobs={"llm-7-train-1": job(True, wl(NO_QUEUE))}), S, NOW)
    assert cond(p, "Queued")["reason"] == "Inadmissible"
    assert [(e.type, e.reason) for e in p.events] == [("Warning", "Inadmissible")]
    p = plan(body, Observed(jobs={"llm-7-train-1": job(True, None)}, kueue=False), S, NOW)
    assert cond(p, "Queued")["reason"] == "KueueNotInstalled"
    assert "does not serve Kueue" in cond(p, "Queued")["message"]


def test_the_job_summary_says_suspended_from_the_watched_form() -> None:
    body = {"kind": "Job", "metadata": {"name": "j", "namespace": "ns", "uid": "u"},
            "spec": {"suspend": True, "parallelism": 2}, "status": {}}
    assert job_summary(compact(body))["suspend"] is True  # as the watch files it
    assert job_summary(body)["suspend"] is True
    assert job_summary({**body, "spec": {}})["suspend"] is False
