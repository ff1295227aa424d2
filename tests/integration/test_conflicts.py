"""Users edit objects while the operator writes their status: nothing either side wrote is
lost, and the rollout ends as it would have without the edits."""

from __future__ import annotations

import threading

import pytest

from tests.support.kube import GROUP, VERSION, Kube
from tests.support.operator import OperatorProcess
from tests.support.rollout import stable_on_v1

pytestmark = pytest.mark.integration


def test_concurrent_user_edits_survive_status_writes(kube: Kube, operator: OperatorProcess,
                                                     namespace: str) -> None:
    m = stable_on_v1(kube, namespace, strategy={"canary": {"steps": [
        {"setWeight": 25}, {"pause": {"duration": "1s"}}, {"setWeight": 50},
        {"pause": {"duration": "1s"}}]}})
    m.patch({"targetVersion": "2"})
    done = threading.Event()
    edits: list[int] = []

    def user() -> None:
        # Read-modify-write with the resourceVersion, as kubectl edit does: 409s are expected
        # and retried; every successful edit must survive.
        while not done.is_set() and len(edits) < 40:
            up = kube.get_up(namespace, "m") or {}
            i = len(edits)
            up["metadata"].setdefault("labels", {})[f"edit-{i}"] = "yes"
            up["metadata"].setdefault("annotations", {})["team/note"] = f"edit {i}"
            up["spec"]["historyLimit"] = 10 + i
            try:
                kube.custom.replace_namespaced_custom_object(GROUP, VERSION, namespace,
                                                             "updatepolicies", "m", up)
            except Exception as e:
                assert getattr(e, "status", None) == 409, e
                continue
            edits.append(i)

    t = threading.Thread(target=user, daemon=True)
    t.start()
    st = m.wait("promoted under concurrent edits", timeout=90, phase="Promoted",
                stableVersion="2")
    done.set()
    t.join(30)
    up = kube.get_up(namespace, "m") or {}
    labels = up["metadata"].get("labels") or {}
    assert edits, "no user edit went through"
    assert all(labels.get(f"edit-{i}") == "yes" for i in edits), "a user label was lost"
    assert up["metadata"]["annotations"]["team/note"] == f"edit {edits[-1]}"
    assert up["spec"]["historyLimit"] == 10 + edits[-1]
    assert up["spec"]["targetVersion"] == "2"
    assert [h["version"] for h in st["history"]] == ["2", "1"]
    print(f"\n{len(edits)} user edits during the rollout, none lost")
