"""Monitoring and retraining under a real Argo CD: a regression rolls back without drift, and
the version retraining makes is the operator's: the app stays Synced, and a sync with prune
leaves it be."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml

from tests.support.emitter import Emitter
from tests.support.gitops import POLICY, GitOpsModel
from tests.support.prometheus import Prometheus
from tests.support.rollout import ERROR_RATE
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration
TEMPLATE = {
    "apiVersion": "modelops.io/v1alpha1", "kind": "ModelVersion",
    "metadata": {"name": "sentiment-t"},
    "spec": {"model": "sentiment", "version": "t", "description": "the retraining template",
             "training": {"image": "ghcr.io/acme/trainer:1", "command": ["python", "train.py"],
                          "outputURI": "s3://models/sentiment/t/", "nodes": 1,
                          "gpusPerNode": 0},
             "serving": {"image": "localhost/modelops/model-server:dev", "port": 8080}}}


def test_a_retrained_version_is_neither_drift_nor_pruned(
        gitops: GitOpsModel, prometheus: Prometheus,
        emitters: Callable[..., Emitter]) -> None:
    emitters("sentiment", "1")
    v2 = emitters("sentiment", "2")
    (gitops.repo.work / "examples/gitops/sentiment-template.yaml").write_text(
        yaml.safe_dump(TEMPLATE))

    def watched(o: dict[str, Any]) -> None:
        o["spec"].update(
            targetVersion="2", strategy={"canary": {"steps": []}},
            monitoring={"interval": "2s", "failureThreshold": 2, "action": "Rollback",
                        "prometheus": {"address": prometheus.address},
                        "metrics": [{"name": "error-rate", "query": ERROR_RATE,
                                     "max": 0.05}]},
            retraining={"template": "sentiment-t", "minInterval": "1h"})
    gitops.git("target 2, watched, retrained from a template", watched)
    gitops.health_until("Healthy")
    wait_for(lambda: (gitops.policy().get("monitoring") or {}).get("phase") == "Healthy",
             timeout=60, what="2 measured healthy")
    v2.set(error_rate=0.5)
    gitops.health_until("Degraded")  # held on 1 by the regression, against Git's 2
    st = gitops.policy()
    assert st["stableVersion"] == "1" and st["hold"]["reason"] == "MonitoringRegression"
    wait_for(lambda: "regression in monitoring" in gitops.health()[1], timeout=30,
             what=f"the hold in Argo CD's message; now {gitops.health()}")
    [run] = st["retraining"]["runs"]
    mv = wait_for(lambda: gitops.kube.get_mv(gitops.ns, run["name"]), timeout=30,
                  what="the retrained version")
    meta = mv["metadata"]
    assert not any(k.startswith("argocd.argoproj.io/") for k in meta.get("annotations") or {})
    assert "app.kubernetes.io/instance" not in (meta.get("labels") or {})
    wait_for(lambda: ((gitops.kube.get_mv(gitops.ns, run["name"]) or {}).get("status")
                      or {}).get("phase") == "Ready", timeout=90, what="it trained")
    # Not the app's resource, so not drift: Synced at Git's revision, and a new commit synced
    # with prune (the app's policy) leaves it in place.
    assert gitops.argocd.summary(gitops.app)[:2] == ("Synced", gitops.rev)
    assert gitops.argocd.resource(gitops.app, "ModelVersion", run["name"]) == {}
    gitops.git("4 replicas", lambda o: o["spec"].update(replicas=4), path=POLICY)
    gitops.argocd.settled(gitops.app)
    assert gitops.kube.get_mv(gitops.ns, run["name"]) is not None, "pruned by Argo CD"
    assert gitops.argocd.summary(gitops.app)[:2] == ("Synced", gitops.rev)
    # Git names the retrained version: the hold ends and it rolls out.
    gitops.target(run["version"])
    gitops.health_until("Healthy")
    assert gitops.policy()["stableVersion"] == run["version"]
