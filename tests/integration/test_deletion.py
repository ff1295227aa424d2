"""A version that a policy routes traffic to is not deleted out from under it."""

from __future__ import annotations

import pytest

from modelops.versions.deletion import PROTECTION
from tests.support.kube import GROUP, VERSION, Kube
from tests.support.manifests import served
from tests.support.operator import OperatorProcess
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


def finalizers(kube: Kube, namespace: str, name: str) -> list[str]:
    return list((kube.get_mv(namespace, name) or {}).get("metadata", {}).get("finalizers") or [])


def policy(target: str) -> dict[str, object]:
    return {"apiVersion": "modelops.io/v1alpha1", "kind": "UpdatePolicy",
            "metadata": {"name": "m"},
            "spec": {"model": "m", "targetVersion": target, "replicas": 1}}


def test_served_version_waits_for_its_policy(kube: Kube, operator: OperatorProcess,
                                             namespace: str) -> None:
    kube.create(namespace, served("m-v1", "m", "1"))
    kube.create(namespace, policy("1"))
    wait_for(lambda: (kube.get_up(namespace, "m") or {}).get("status", {}).get("stableVersion")
             == "1", what="version 1 stable")
    wait_for(lambda: kube.apps.read_namespaced_deployment("m-1", namespace).status.ready_replicas
             == 1, what="version 1 serving")
    wait_for(lambda: finalizers(kube, namespace, "m-v1") == [PROTECTION],
             what="the traffic-protection finalizer on the routed version")

    kube.delete_mv(namespace, "m-v1")

    def held() -> dict[str, str] | None:
        mv = kube.get_mv(namespace, "m-v1") or {}
        conds = {c["type"]: c for c in mv.get("status", {}).get("conditions", [])}
        return conds.get("Terminating")
    cond = wait_for(held, what="Terminating condition")
    assert cond["status"] == "True" and cond["reason"] == "InUse"
    assert "UpdatePolicy 'm'" in cond["message"]
    events = wait_for(lambda: [e for e in kube.events(namespace, "m-v1")
                               if e.reason == "DeletionBlocked"], what="DeletionBlocked event")
    assert events[0].type == "Warning"
    assert kube.apps.read_namespaced_deployment("m-1", namespace).status.ready_replicas == 1
    assert kube.get_mv(namespace, "m-v1") is not None

    # The policy moves on to version 2 (no steps: straight through); then 1 may go.
    kube.create(namespace, served("m-v2", "m", "2"))
    kube.custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, "updatepolicies", "m",
                                               {"spec": {"targetVersion": "2"}})
    wait_for(lambda: kube.get_mv(namespace, "m-v1") is None, timeout=60,
             what="deletion completes once the policy moved on")
    wait_for(lambda: finalizers(kube, namespace, "m-v2") == [PROTECTION],
             what="the protection moved to the new stable version")
    wait_for(lambda: [d.metadata.name for d in kube.apps.list_namespaced_deployment(
        namespace).items] == ["m-2"], what="version 1's children garbage-collected")


def test_unused_version_is_deleted_at_once(kube: Kube, operator: OperatorProcess,
                                           namespace: str) -> None:
    kube.create(namespace, served("m-v1", "m", "1"))
    wait_for(lambda: (kube.get_mv(namespace, "m-v1") or {}).get("status", {}).get("phase")
             == "Ready", what="Ready")
    # Nothing routes traffic to it: no finalizer, so no write to add one and none to remove it.
    assert finalizers(kube, namespace, "m-v1") == []
    kube.delete_mv(namespace, "m-v1")
    wait_for(lambda: kube.get_mv(namespace, "m-v1") is None, timeout=15, what="gone")


def test_finalizer_of_earlier_releases_is_released(kube: Kube, operator: OperatorProcess,
                                                  namespace: str) -> None:
    """Earlier builds put kopf's finalizer on every version; the operator now takes it off
    (a version that nothing routes traffic to needs none), so deleting one does not hang."""
    mv = served("m-v1", "m", "1")
    mv["metadata"]["finalizers"] = ["modelops.io/finalizer"]
    kube.create(namespace, mv)
    wait_for(lambda: finalizers(kube, namespace, "m-v1") == [], what="old finalizer released")
    kube.delete_mv(namespace, "m-v1")
    wait_for(lambda: kube.get_mv(namespace, "m-v1") is None, timeout=15, what="gone")
