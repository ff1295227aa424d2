"""A scaler and a real Argo CD on one UpdatePolicy (docs/autoscaling.md, "With Argo CD"): the
scaler writes spec.replicas through the scale subresource, as an HPA does. With `replicas`
ignored as the docs say, Argo CD neither reports drift nor puts Git's number back; without
it, self-heal and the scaler fight, which is why the docs say so."""

from __future__ import annotations

import json
import time

import pytest

from tests.support.gitops import NS, GitOpsModel
from tests.support.kube import Kube
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration
IGNORE_REPLICAS = {"ignoreDifferences": [{"group": "modelops.io", "kind": "UpdatePolicy",
                                          "jsonPointers": ["/spec/replicas"]}],
                   "syncPolicy": {"automated": {"prune": True, "selfHeal": True},
                                  "syncOptions": ["RespectIgnoreDifferences=true"]}}


def replicas(kube: Kube, ns: str) -> int:
    return int((kube.get_up(ns, "sentiment") or {})["spec"]["replicas"])


def scale(kube: Kube, ns: str, n: int) -> None:
    kube.kubectl("scale", "updatepolicy/sentiment", "-n", ns, f"--replicas={n}")


def test_a_scaler_and_argocd_do_not_fight_over_replicas_ignored_as_documented(
        kube: Kube, gitops: GitOpsModel, namespace: str) -> None:
    kube.kubectl("patch", "application", gitops.app, "-n", NS, "--type", "merge",
                 "-p", json.dumps({"spec": IGNORE_REPLICAS}))
    before = gitops.argocd.settled(gitops.app)
    scale(kube, namespace, 5)
    time.sleep(15)  # several of the controller's looks at the app
    assert replicas(kube, namespace) == 5, "Argo CD put Git's replicas back"
    sync, rev, _ = gitops.argocd.summary(gitops.app)
    assert (sync, rev) == ("Synced", gitops.rev), "the scaler's replicas read as drift"
    assert gitops.argocd.syncs(gitops.app) == before, "self-heal ran a sync"
    # A change in Git still syncs, and leaves the scaler's number alone.
    gitops.git("a longer history", lambda o: o["spec"].update(historyLimit=12))
    assert replicas(kube, namespace) == 5
    assert (kube.get_up(namespace, "sentiment") or {})["spec"]["historyLimit"] == 12


def test_without_the_ignore_self_heal_puts_gits_replicas_back(
        kube: Kube, gitops: GitOpsModel, namespace: str) -> None:
    gitops.argocd.settled(gitops.app)
    scale(kube, namespace, 5)
    # What the docs warn about: Git's 2 comes back, and an HPA would write its own again.
    wait_for(lambda: replicas(kube, namespace) == 2, timeout=60,
             what="self-heal restoring Git's replicas")
