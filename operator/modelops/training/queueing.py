"""Where a queued Job stands with Kueue, from the Job and Kueue's Workload for it. Pure.

A Job of a training with `queueName` is created suspended with Kueue's queue label; Kueue
makes one Workload of it (the whole gang, as one Indexed Job) and unsuspends the Job once the
gang's quota is reserved, all of it at once. Kueue suspends it again to preempt it (its pods
go, the Job stays) and unsuspends it when it is admitted again; the trainer resumes from its
checkpoint. The Workload's conditions carry Kueue's reason and message (Pending: no quota
yet; Inadmissible: e.g. no such LocalQueue; Evicted: preempted)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..api.conditions import parse_time
from ..api.modelversion import TrainingStatus

KUEUE_API = "kueue.x-k8s.io/v1beta2"  # the Workloads read (handlers.indexes.WORKLOADS)
KUEUE_WORD_WAIT = 30.0  # seconds a failed Job that Kueue admitted waits for Kueue's word
# Seconds after a preemption was seen in which a failure of the Job is still its stopped
# pods' (their termination grace period, 30 s by default, and slack for a busy node).
STOPPED_PODS_GRACE = 90.0


@dataclass(frozen=True)
class QueueState:
    queued: bool  # waiting for admission (True), or admitted and running (False)
    reason: str  # Kueue's (Pending, Inadmissible, Preempted...), or Admitted, or ours
    message: str
    cluster_queue: str | None = None  # the ClusterQueue that admitted it
    evicted: bool = False  # the wait is after a preemption (or another eviction)


def _cond(wl: dict[str, Any] | None, type_: str) -> dict[str, Any] | None:
    return next((c for c in (wl or {}).get("conditions") or [] if c.get("type") == type_), None)


def queue_state(job: dict[str, Any], kueue: bool | None = True) -> QueueState:
    """`job`: the Job summary (indexes.job_summary) with Kueue's Workload under "workload"
    (indexes.workload_summary) when there is one; `kueue`: whether the cluster serves Kueue's
    Workloads (None: not known)."""
    wl = job.get("workload")
    if not job.get("suspend"):
        cq = (wl or {}).get("clusterQueue")
        return QueueState(False, "Admitted", "admitted" + (f" by ClusterQueue {cq}" if cq
                                                           else ""), cq)
    evicted = _cond(wl, "Evicted")
    was_evicted = bool(evicted and evicted.get("status") == "True")
    if wl is None:
        if kueue is False:
            return QueueState(True, "KueueNotInstalled", "queueName is set but this cluster "
                              "does not serve Kueue (kueue.x-k8s.io/v1beta2 workloads): the "
                              "Job waits, suspended, until Kueue is installed")
        return QueueState(True, "WaitingForKueue", "Kueue has made no Workload of the Job "
                          "yet (is its controller running?)")
    reserved, admitted = _cond(wl, "QuotaReserved"), _cond(wl, "Admitted")
    if evicted is not None and was_evicted:  # preempted: waits again, resumes later
        return QueueState(True, str(evicted.get("reason") or "Evicted"),
                          str(evicted.get("message") or ""), evicted=True)
    if reserved is not None and reserved.get("status") == "False":
        return QueueState(True, str(reserved.get("reason") or "Pending"),
                          str(reserved.get("message") or ""))
    if admitted is not None and admitted.get("status") == "True":
        # Admitted a moment ago; Kueue is unsuspending the Job.
        return QueueState(True, "Admitted", "admitted; the Job starts",
                          wl.get("clusterQueue"))
    if reserved is not None and admitted is not None:
        return QueueState(True, str(admitted.get("reason") or "QuotaReserved"),
                          str(admitted.get("message") or "quota reserved, not yet admitted"))
    return QueueState(True, "Pending", f"waiting in LocalQueue {wl.get('queue')}")


def preempted(job: dict[str, Any] | None) -> str | None:
    """Kueue's message when a Job that ended Failed had been evicted (preempted) first: its
    pods, stopped by the suspension, exit non-zero, and the Job controller sometimes counts
    that against the pod-failure policy before it sees the suspension. Not the gang's fault."""
    evicted = _cond((job or {}).get("workload"), "Evicted")
    if evicted is not None and evicted.get("status") == "True":
        return f"{evicted.get('reason') or 'Evicted'}: {evicted.get('message') or ''}".strip(
            ": ")
    # Kueue's word may not be in yet (another watch), or it was reset: the Job says it too.
    # Ours are created suspended only before admission, when no pod can fail: a failed Job
    # still suspended was stopped by Kueue while it ran.
    if job is not None and job.get("suspend"):
        return "Suspended: Kueue suspended the running Job"
    return None


def awaiting_kueue(job: dict[str, Any] | None, now: datetime) -> float | None:
    """Seconds left to wait before judging a failed Job that Kueue admitted, while its
    Workload says neither Evicted nor Finished: Kueue marks a preempted Workload Evicted before
    it suspends the Job, but the Job's failure (its stopped pods exit non-zero) can reach us
    first, on another watch. None: judge it now (Kueue said, or was silent too long)."""
    wl = (job or {}).get("workload")
    if job is None or wl is None:
        return None
    if any((_cond(wl, t) or {}).get("status") == "True" for t in ("Evicted", "Finished")):
        return None
    failed = _failed(job)
    since = (parse_time(failed["lastTransitionTime"])
             if failed and failed.get("lastTransitionTime") else now)
    left = KUEUE_WORD_WAIT - (now - since).total_seconds()
    return left if left > 0 else None


def stopped_by_preemption(job: dict[str, Any] | None, training: TrainingStatus) -> str | None:
    """Kueue preempted this very Job (`training.preemptedJob`, seen at `training.queuedTime`):
    the pods it stopped may still be terminating when Kueue admits the Job again, and their
    non-zero exit then fails it with Kueue's eviction already cleared. A failure that soon
    after the preemption is the preemption's (the message says so); None: it is not."""
    failed = _failed(job)
    since = training.queued_time
    if (failed is None or not failed.get("lastTransitionTime") or not since
            or training.preempted_job != ((job or {}).get("metadata") or {}).get("name")):
        return None
    after = (parse_time(failed["lastTransitionTime"]) - parse_time(since)).total_seconds()
    if after > STOPPED_PODS_GRACE:
        return None
    return (f"Preempted: the pods it stopped failed the Job {max(after, 0):.0f}s after the "
            "preemption")


def _failed(job: dict[str, Any] | None) -> dict[str, Any] | None:
    return next((c for c in ((job or {}).get("status") or {}).get("conditions") or []
                 if c.get("type") == "Failed" and c.get("status") == "True"), None)
