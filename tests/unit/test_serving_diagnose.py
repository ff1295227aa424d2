"""Why serving pods are not ready, from their status: a table of real kubelet shapes."""

from __future__ import annotations

from typing import Any

import pytest

from modelops.serving.diagnose import Problem, diagnose


def pod(init: list[dict[str, Any]] | None = None, main: list[dict[str, Any]] | None = None,
        conditions: list[dict[str, Any]] | None = None, created: str = "2026-12-01T10:00:00Z",
        deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "p", "creationTimestamp": created}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-01T10:01:00Z"
    return {"metadata": meta, "status": {"initContainerStatuses": init or [],
                                         "containerStatuses": main or [],
                                         "conditions": conditions or []}}


FETCH_FAILED = {"name": "fetch-model", "image": "localhost/modelops/fetcher:dev",
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 2, "reason": "Error",
                                             "message": "digest mismatch for s3://m/1: ..."}}}
NO_IMAGE = {"name": "server", "image": "localhost/acme/missing:1",
            "state": {"waiting": {"reason": "ErrImageNeverPull",
                                  "message": "Container image is not present with pull policy "
                                             "of Never"}}}
CRASHING = {"name": "server", "image": "s:1", "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": 1, "message": "cannot load /mnt/models/x"}}}
NO_SECRET = {"name": "fetch-model", "image": "f:1",
             "state": {"waiting": {"reason": "CreateContainerConfigError",
                                   "message": 'secret "s3-creds" not found'}}}
STARTING = {"name": "server", "image": "s:1", "state": {"running": {}}}
UNSCHEDULABLE = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                 "message": "0/5 nodes are available"}


@pytest.mark.parametrize(("pods", "reason", "says"), [
    pytest.param([pod(init=[FETCH_FAILED])], "FetchFailed", "digest mismatch", id="fetch"),
    pytest.param([pod(main=[NO_IMAGE])], "ImageUnavailable", "localhost/acme/missing:1",
                 id="image"),
    pytest.param([pod(main=[CRASHING])], "ServerCrashing", "cannot load", id="crash"),
    pytest.param([pod(init=[NO_SECRET])], "ContainerConfigError", "s3-creds", id="secret"),
    pytest.param([pod(conditions=[UNSCHEDULABLE])], "Unschedulable", "0/5 nodes", id="sched"),
    pytest.param([pod(main=[STARTING])], None, None, id="starting"),
    pytest.param([pod(main=[CRASHING], deleting=True)], None, None, id="deleting-ignored"),
    pytest.param([pod(main=[STARTING], created="2026-12-01T10:05:00Z"),
                  pod(main=[CRASHING])], "ServerCrashing", "cannot load", id="any-pod"),
])
def test_diagnose(pods: list[dict[str, Any]], reason: str | None, says: str | None) -> None:
    got = diagnose(pods)
    if reason is None:
        assert got is None
    else:
        assert isinstance(got, Problem) and got.reason == reason
        assert says in got.message


def test_long_messages_keep_their_end() -> None:
    long = dict(CRASHING, lastState={"terminated": {"exitCode": 1,
                                                    "message": "x" * 5000 + " THE END"}})
    got = diagnose([pod(main=[long])])
    assert got is not None and got.message.endswith("THE END") and len(got.message) < 700
