"""A restarted operator picks up where it was: it reconciles only once everything is listed,
and what had converged stays as it was (not one write)."""

from __future__ import annotations

import re

import pytest

from tests.support.kube import GROUP, VERSION, Kube
from tests.support.manifests import served
from tests.support.operator import OperatorProcess
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


def versions_of(kube: Kube, namespace: str) -> dict[str, str]:
    """kind/name -> resourceVersion of what the operator owns or writes in a namespace."""
    out = {}
    for plural in ("modelversions", "updatepolicies"):
        for o in kube.custom.list_namespaced_custom_object(GROUP, VERSION, namespace,
                                                           plural)["items"]:
            out[f"{plural}/{o['metadata']['name']}"] = o["metadata"]["resourceVersion"]
    for d in kube.apps.list_namespaced_deployment(namespace).items:
        out[f"deployments/{d.metadata.name}"] = d.metadata.resource_version
    for s in kube.core.list_namespaced_service(namespace).items:
        out[f"services/{s.metadata.name}"] = s.metadata.resource_version
    return out


def reconciled(operator: OperatorProcess) -> int:
    m = re.search(r'^modelops_reconcile_duration_seconds_count\{kind="ModelVersion"\} (\S+)$',
                  operator.metrics(), re.M)
    return int(float(m.group(1))) if m else 0


def test_restart_waits_for_the_listing_and_writes_nothing(kube: Kube, operator: OperatorProcess,
                                                          namespace: str) -> None:
    kube.create(namespace, served("r-v1", "r", "1"))
    kube.create(namespace, served("r-v2", "r", "2"))
    kube.create(namespace, {"apiVersion": "modelops.io/v1alpha1", "kind": "UpdatePolicy",
                            "metadata": {"name": "r"},
                            "spec": {"model": "r", "targetVersion": "1", "replicas": 2}})
    for name in ("r-v1", "r-v2"):
        wait_for(lambda n=name: (kube.get_mv(namespace, n) or {}).get("status", {}).get(
            "phase") == "Ready", what=f"{name} Ready")
    wait_for(lambda: (kube.get_up(namespace, "r") or {}).get("status", {}).get(
        "stableVersion") == "1", what="version 1 stable")
    wait_for(lambda: kube.apps.read_namespaced_deployment("r-2", namespace).spec.replicas == 0,
             what="the version no policy routes to scaled to zero")
    # Settled: the controllers and the operator have nothing left to do (no object changed
    # over two looks 2 s apart); only then is any later change the restart's doing.
    looks: list[dict[str, str]] = []

    def unchanged() -> dict[str, str] | None:
        looks.append(versions_of(kube, namespace))
        return looks[-1] if len(looks) > 1 and looks[-1] == looks[-2] else None
    before = wait_for(unchanged, timeout=60, interval=2, what="nothing changing any more")

    operator.restart()

    operator.wait_for_log("indexes hold all")
    log = operator.log_text()
    # Nothing was reconciled before the gate opened: it comes before any apply or write.
    assert "applying" not in log.split("indexes hold all")[0]
    # Every version was queued while the operator listed; one created now is reconciled after
    # them (the queue is first in, first out), and takes several rounds to be Ready.
    kube.create(namespace, served("s-v1", "s", "1"))
    wait_for(lambda: (kube.get_mv(namespace, "s-v1") or {}).get("status", {}).get(
        "phase") == "Ready", what="a version created after the restart Ready")
    assert reconciled(operator) > 2
    after = versions_of(kube, namespace)
    assert {k: after.get(k) for k in before} == before
