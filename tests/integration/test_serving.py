"""A ModelVersion with spec.serving is served: children, status, drift repair, deletion."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.kube import Kube
from tests.support.manifests import served
from tests.support.operator import OperatorProcess
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


def phase(kube: Kube, ns: str, name: str) -> str | None:
    mv = kube.get_mv(ns, name)
    return (mv or {}).get("status", {}).get("phase")


def conditions(mv: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in mv["status"]["conditions"]}


def test_served_version_becomes_ready(kube: Kube, operator: OperatorProcess,
                                      namespace: str) -> None:
    kube.create(namespace, served("sentiment-v1", "sentiment", "1", replicas=2))
    wait_for(lambda: phase(kube, namespace, "sentiment-v1") == "Ready", what="phase Ready")
    mv = kube.get_mv(namespace, "sentiment-v1")
    assert mv is not None
    st = mv["status"]
    assert st["observedGeneration"] == mv["metadata"]["generation"]
    assert st["serving"] == {"deployment": "sentiment-1", "service": "sentiment-1",
                             "replicas": 2, "readyReplicas": 2}
    conds = conditions(mv)
    assert conds["Valid"]["status"] == conds["Ready"]["status"] == "True"
    assert conds["Available"]["status"] == "True"

    dep = kube.apps.read_namespaced_deployment("sentiment-1", namespace)
    labels = dep.metadata.labels
    assert labels["app.kubernetes.io/managed-by"] == "modelops"
    assert labels["modelops.io/model"] == "sentiment" and labels["modelops.io/version"] == "1"
    owner = dep.metadata.owner_references[0]
    assert (owner.kind, owner.name, owner.uid) == ("ModelVersion", "sentiment-v1",
                                                   mv["metadata"]["uid"])
    svc = kube.core.read_namespaced_service("sentiment-1", namespace)
    assert svc.metadata.owner_references[0].uid == mv["metadata"]["uid"]
    assert svc.spec.selector["modelops.io/version"] == "1"
    # Serving by its first status is not news (no event: one write less per version); one
    # whose Pending was written first tells of its Ready. Nothing else, and nothing warns.
    reasons = [e.reason for e in kube.events(namespace, "sentiment-v1")]
    assert set(reasons) <= {"PhaseReady"}, reasons


def test_deleted_or_edited_children_are_repaired(kube: Kube, operator: OperatorProcess,
                                                 namespace: str) -> None:
    kube.create(namespace, served("m-v1", "m", "1", replicas=1))
    wait_for(lambda: phase(kube, namespace, "m-v1") == "Ready", what="Ready")
    old_uid = kube.apps.read_namespaced_deployment("m-1", namespace).metadata.uid
    kube.apps.delete_namespaced_deployment("m-1", namespace)
    wait_for(lambda: kube.apps.read_namespaced_deployment("m-1", namespace).metadata.uid
             != old_uid, what="Deployment recreated")
    kube.core.delete_namespaced_service("m-1", namespace)
    wait_for(lambda: kube.core.read_namespaced_service("m-1", namespace), what="Service back")
    kube.apps.patch_namespaced_deployment("m-1", namespace, {"spec": {"replicas": 5}})
    wait_for(lambda: kube.apps.read_namespaced_deployment("m-1", namespace).spec.replicas == 1,
             what="replicas reverted to the spec")


def test_spec_change_rolls_through(kube: Kube, operator: OperatorProcess, namespace: str) -> None:
    kube.create(namespace, served("m-v1", "m", "1", replicas=1))
    wait_for(lambda: phase(kube, namespace, "m-v1") == "Ready", what="Ready")
    kube.patch_mv(namespace, "m-v1", {"spec": {"serving": {"replicas": 3,
                                                            "resources": {"cpu": "500m"}}}})

    def rolled() -> bool:
        mv = kube.get_mv(namespace, "m-v1") or {}
        st = mv.get("status", {})
        return (st.get("observedGeneration") == mv["metadata"]["generation"]
                and st.get("serving", {}).get("readyReplicas") == 3 and st["phase"] == "Ready")
    wait_for(rolled, what="3 ready replicas")
    dep = kube.apps.read_namespaced_deployment("m-1", namespace)
    assert dep.spec.template.spec.containers[0].resources.limits["cpu"] == "500m"


def test_deleting_a_version_garbage_collects_its_children(kube: Kube, operator: OperatorProcess,
                                                          namespace: str) -> None:
    kube.create(namespace, served("m-v1", "m", "1", replicas=2))
    wait_for(lambda: phase(kube, namespace, "m-v1") == "Ready", what="Ready")
    kube.delete_mv(namespace, "m-v1")
    wait_for(lambda: kube.get_mv(namespace, "m-v1") is None, what="ModelVersion gone")
    wait_for(lambda: not kube.apps.list_namespaced_deployment(namespace).items
             and not kube.apps.list_namespaced_replica_set(namespace).items
             and not kube.core.list_namespaced_pod(namespace).items
             and not kube.core.list_namespaced_service(namespace).items,
             what="no children left")


def test_blocked_reconcile_is_retried_after_the_block_lifts(kube: Kube, operator: OperatorProcess,
                                                            namespace: str) -> None:
    """A quota refuses the Deployment: the version says so in a Warning event and, with no
    new event to prompt it, gets served once the quota goes."""
    kube.core.create_namespaced_resource_quota(namespace, {
        "metadata": {"name": "no-deployments"}, "spec": {"hard": {"count/deployments.apps": "0"}}})
    wait_for(lambda: kube.core.read_namespaced_resource_quota("no-deployments",
                                                              namespace).status.hard,
             what="quota computed")
    kube.create(namespace, served("q-v1", "q", "1", replicas=1))
    warning = wait_for(lambda: [e for e in kube.events(namespace, "q-v1")
                                if e.reason == "ReconcileError"], what="ReconcileError event")
    assert warning[0].type == "Warning" and "quota" in warning[0].message
    assert phase(kube, namespace, "q-v1") != "Ready"
    kube.core.delete_namespaced_resource_quota("no-deployments", namespace)
    wait_for(lambda: phase(kube, namespace, "q-v1") == "Ready", timeout=60,
             what="served after the quota went")
