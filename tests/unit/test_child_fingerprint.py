"""Which child events are worth a reconcile: what the plans read, nothing else."""

from __future__ import annotations

import copy
from typing import Any

import kopf

from modelops.cache import child_reads as of_kept
from modelops.indexes import compact


def fingerprint(body: kopf.Body) -> tuple[Any, ...]:
    return of_kept(compact(body))


def deployment(**status: Any) -> kopf.Body:
    return kopf.Body({"apiVersion": "apps/v1", "kind": "Deployment",
                      "metadata": {"name": "m-1", "uid": "u", "generation": 1,
                                   "resourceVersion": "10", "labels": {"a": "b"}},
                      "spec": {"replicas": 1},
                      "status": {"observedGeneration": 1, "replicas": 1, **status}})


def test_status_noise_is_not_news() -> None:
    before = deployment(conditions=[{"type": "Progressing", "reason": "NewReplicaSetCreated"}])
    after = deployment(conditions=[{"type": "Progressing", "reason": "ReplicaSetUpdated"}])
    raw = copy.deepcopy(dict(after))
    raw["metadata"]["resourceVersion"] = "11"
    assert fingerprint(before) == fingerprint(kopf.Body(raw))


def test_readiness_spec_and_labels_are_news() -> None:
    base = fingerprint(deployment())
    assert fingerprint(deployment(readyReplicas=1)) != base
    edited = copy.deepcopy(dict(deployment()))
    edited["spec"]["replicas"] = 3
    edited["metadata"]["generation"] = 2
    assert fingerprint(kopf.Body(edited)) != base
    relabelled = copy.deepcopy(dict(deployment()))
    relabelled["metadata"]["labels"] = {}
    assert fingerprint(kopf.Body(relabelled)) != base


def test_job_conditions_are_news() -> None:
    job: dict[str, Any] = {"kind": "Job", "metadata": {"name": "j", "uid": "j"}, "spec": {},
                           "status": {"active": 2}}
    done = copy.deepcopy(job)
    done["status"]["conditions"] = [{"type": "Complete", "status": "True"}]
    assert fingerprint(kopf.Body(job)) != fingerprint(kopf.Body(done))
    busier = copy.deepcopy(job)
    busier["status"]["active"] = 3
    assert fingerprint(kopf.Body(job)) == fingerprint(kopf.Body(busier))
