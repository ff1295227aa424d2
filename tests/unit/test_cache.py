"""The cache: which events are news, what our own notes hold, and what is forgotten."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from modelops.cache import Cache
from modelops.handlers.indexes import rules


def mv(gen: int = 1, phase: str | None = None, **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "modelops.io/v1alpha1", "kind": "ModelVersion",
            "metadata": {"name": "m-v1", "namespace": "ns", "uid": "u-1", "generation": gen,
                         **meta},
            "spec": {"model": "m", "version": "1", "artifact": {"uri": "s3://b/m"}},
            "status": {"phase": phase} if phase else {}}


def deployment(ready: int = 0, **status: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "m-1", "namespace": "ns", "uid": "d-1", "generation": 1,
                         "labels": {"modelops.io/model": "m"}},
            "spec": {"replicas": 1},
            "status": {"readyReplicas": ready, "observedGeneration": 1, **status}}


def cache() -> Cache:
    return Cache(rules("nvidia.com/gpu"))


def test_our_own_status_coming_back_is_no_news_and_clears_the_note() -> None:
    c = cache()
    assert c.file(None, mv()).news  # the first listing
    c.wrote(mv(), {"phase": "Pending"})
    assert c.status(mv()) == {"phase": "Pending"}  # our write, newer than the watch
    assert not c.file("MODIFIED", mv(phase="Pending")).news
    assert c.written == {}  # the watch knows it now: no note left behind


@pytest.mark.parametrize(("event", "why"), [
    pytest.param(mv(phase="Ready"), "someone else wrote status", id="foreign-status"),
    pytest.param(mv(gen=2, phase="Pending"), "the spec changed", id="spec-changed"),
    pytest.param(mv(phase="Pending", deletionTimestamp="2026-01-01T00:00:00Z"),
                 "it is being deleted", id="deleting"),
])
def test_anything_but_our_echo_is_news(event: dict[str, Any], why: str) -> None:
    c = cache()
    c.file(None, mv())
    c.wrote(mv(), {"phase": "Pending"})
    assert c.file("MODIFIED", event).news, why


def test_a_policy_status_written_by_someone_else_is_news_and_not_hidden() -> None:
    up = {"apiVersion": "modelops.io/v1alpha1", "kind": "UpdatePolicy",
          "metadata": {"name": "m", "namespace": "ns", "uid": "p-1", "generation": 1},
          "spec": {"model": "m"}, "status": {"phase": "Promoted"}}
    c = cache()
    c.file(None, up)
    c.wrote(up, {"phase": "Promoted", "stableVersion": "1"})
    edited = copy.deepcopy(up)
    edited["status"] = {"phase": "Promoted", "stableVersion": "0"}
    assert c.file("MODIFIED", edited).news
    echo = copy.deepcopy(up)
    echo["status"] = {"phase": "Promoted", "stableVersion": "1"}
    assert not c.file("MODIFIED", echo).news
    assert c.written == {}  # policies' notes are cleared too


def test_child_status_noise_is_not_news_but_readiness_is() -> None:
    c = cache()
    assert c.file(None, deployment()).news
    assert not c.file("MODIFIED", deployment(conditions=[{"type": "Progressing"}])).news
    assert c.file("MODIFIED", deployment(ready=1)).news


def test_our_write_answer_is_used_until_the_watch_brings_the_object() -> None:
    c = cache()
    c.file(None, deployment())
    c.answered(deployment(ready=1))
    assert c.deployment("ns", "m-1")["status"]["readyReplicas"] == 1
    c.file("MODIFIED", deployment(ready=0))
    assert c.deployment("ns", "m-1")["status"]["readyReplicas"] == 0


def test_deleted_objects_are_forgotten_everywhere() -> None:
    c = cache()
    c.file(None, mv())
    c.wrote(mv(), {"phase": "Pending"})
    c.file("DELETED", mv())
    assert c.written == {} and c.seen == {} and c.indexes.filed == {}
    assert c.version("ns", "m-v1") is None
    assert list(c.indexes.mv_infos) == []


def test_a_version_is_filed_with_its_rollout_info_once() -> None:
    c = cache()
    c.file(None, mv(phase="Ready"))
    [info] = c.indexes.mv_infos[("ns", "m")]
    assert (info.version, info.ready, info.service) == ("1", True, "m-1")
