"""docs/install.md's advice for an app of apps: with deploy/argocd's Application health patch, a
sync wave waits until the Application of the wave before it is Healthy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.gitops import NS, Argo, application, slug
from tests.support.kube import Kube
from tests.support.operator import OperatorProcess
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
KEY = "resource.customizations.health.argoproj.io_Application"


def exists(kube: Kube, app: str) -> bool:
    return kube.kubectl("get", "application", app, "-n", NS, check=False).returncode == 0


def test_a_wave_waits_for_the_application_before_it(
        kube: Kube, operator: OperatorProcess, argocd: Argo, namespace: str,
        tmp_path: Path) -> None:
    kube.kubectl("-n", NS, "patch", "configmap", "argocd-cm", "--type", "merge", "--patch-file",
                 str(ROOT / "deploy" / "argocd" / "argocd-cm-app-health-patch.yaml"))
    parent, first, second = (slug(f"{w}-{namespace}") for w in ("wp", "w1", "w2"))
    repo = argocd.repo(parent, tmp_path / "repo")
    repo.copy("examples/gitops")
    v1 = "examples/gitops/sentiment-v1.yaml"
    repo.edit(v1, lambda o: o["spec"]["serving"].update(nodeSelector={"pool": "none-such"}))

    def child(name: str, path: str, wave: int) -> dict[str, Any]:
        app = application(name, repo.url, path, namespace)
        app["metadata"]["annotations"] = {"argocd.argoproj.io/sync-wave": str(wave)}
        return app
    apps = tmp_path / "repo" / "apps"
    apps.mkdir()
    (apps / "first.yaml").write_text(yaml.safe_dump(child(first, "examples/gitops", -1)))
    (apps / "second.yaml").write_text(yaml.safe_dump(child(second, "second", 0)))
    (tmp_path / "repo" / "second").mkdir()
    (tmp_path / "repo" / "second" / "cm.yaml").write_text(yaml.safe_dump(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "after-the-models"}}))
    rev = repo.commit("an app of apps in two waves")
    argocd.create(application(parent, repo.url, "apps", NS))
    try:
        wait_for(lambda: exists(kube, first) and argocd.summary(first)[2] == "Progressing",
                 timeout=90, what=f"{first} created and Progressing")
        # Argo CD's own word that the parent's sync holds wave 0 for the first Application's
        # health (its health as deploy/argocd's patch computes it from the ModelVersions).
        waiting = f"waiting for healthy state of argoproj.io/Application/{first}"

        def held() -> bool:
            op = argocd.get(parent).get("status", {}).get("operationState") or {}
            return op.get("phase") == "Running" and waiting in (op.get("message") or "")
        wait_for(held, timeout=60, what=f"{parent}'s sync waiting for {first}")
        assert not exists(kube, second), "wave 0 started before wave -1 was Healthy"
        repo.edit(v1, lambda o: o["spec"]["serving"].pop("nodeSelector"))
        rev = repo.commit("version 1 on any node")
        argocd.synced_at(first, rev, "Healthy")
        wait_for(lambda: exists(kube, second), timeout=90,
                 what=f"{second} created once {first} is Healthy")
        argocd.synced_at(second, rev, "Healthy")
    finally:
        for app in (parent, first, second):
            argocd.delete(app)
        kube.kubectl("-n", NS, "patch", "configmap", "argocd-cm", "--type", "merge", "-p",
                     json.dumps({"data": {KEY: None}}))
