"""docs/install.md's Argo CD walkthrough, run as written against the real Argo CD."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.support.gitops import Argo
from tests.support.kube import Kube
from tests.support.operator import OperatorProcess

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def walkthrough() -> str:
    text = (ROOT / "docs" / "install.md").read_text()
    found = re.search(r"<!-- walkthrough -->\n```sh\n(.*?)\n```", text, re.S)
    assert found, "docs/install.md has no walkthrough block"
    return found.group(1)


def test_the_install_docs_walkthrough_runs_as_written(kube: Kube, operator: OperatorProcess,
                                                      argocd: Argo) -> None:
    ns = f"walkthrough-{uuid.uuid4().hex[:5]}"
    who = {"GIT_AUTHOR_NAME": "docs", "GIT_AUTHOR_EMAIL": "docs@modelops.invalid"}
    env = {**os.environ, **who, "GIT_COMMITTER_NAME": "docs",
           "GIT_COMMITTER_EMAIL": "docs@modelops.invalid", "KUBECONFIG": kube.kubeconfig,
           "PYTHONPATH": str(ROOT / "operator"), "NS": ns,
           "REPO": argocd.server.new_repo(ns),
           # kubectl as the docs call it: the cluster's own, and the plugin from the venv.
           "PATH": f"{ROOT / 'hack' / 'cluster'}:{Path(sys.executable).parent}:"
                   f"{os.environ['PATH']}"}
    try:
        r = subprocess.run(["bash", "-euo", "pipefail", "-c", walkthrough()], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
        shown = [line for line in r.stdout.splitlines() if line.startswith("Synced ")]
        assert shown == ["Synced Suspended", "Synced Degraded"], r.stdout
        assert "Argo CD manages this UpdatePolicy" in r.stdout
        st = (kube.get_up(ns, "sentiment") or {}).get("status") or {}
        assert st["stableVersion"] == "1" and "hold" not in st
    finally:
        argocd.delete("sentiment")
        kube.kubectl("delete", "namespace", ns, "--wait=false", check=False)
