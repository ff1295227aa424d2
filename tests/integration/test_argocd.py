"""modelops under a real Argo CD: the chart and the GitOps example synced from a git server,
health through Argo CD's own Lua engine, no drift while rollouts run, no self-heal loops, and a
manual rollback that self-heal leaves alone."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import USER_ARGOCD_SETTINGS
from tests.integration.test_cli import cli, ok
from tests.support.emitter import Emitter
from tests.support.gitops import Argo, GitOpsModel
from tests.support.kube import Kube
from tests.support.operator import OperatorProcess
from tests.support.prometheus import Prometheus
from tests.support.rollout import ERROR_RATE, analysis
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def test_health_patch_keeps_the_users_settings(kube: Kube, argocd: Argo) -> None:
    data = kube.get_json("configmap", "argocd-cm", "-n", "argocd")["data"]
    for key, value in USER_ARGOCD_SETTINGS.items():
        assert data.get(key) == value, f"the patch dropped the user's {key}"
    for kind in ("ModelVersion", "UpdatePolicy"):
        script = (ROOT / "deploy" / "argocd" / "health" / f"modelops.io_{kind}.lua").read_text()
        assert data[f"resource.customizations.health.modelops.io_{kind}"] == script


def test_chart_syncs_once_and_stays_synced(kube: Kube, argocd: Argo, tmp_path: Path) -> None:
    repo = argocd.repo("chart", tmp_path / "chart")
    repo.copy("charts/modelops")
    rev = repo.commit("the chart")
    app = yaml.safe_load((ROOT / "deploy" / "argocd" / "application.yaml").read_text())
    app["spec"]["source"]["repoURL"] = repo.url  # the rest exactly as docs/install.md shows
    name = app["metadata"]["name"]
    argocd.create(app)
    try:
        argocd.synced_at(name, rev, "Healthy", timeout=180)
        dist = next(d for d in yaml.safe_load_all((ROOT / "dist" / "install.yaml").read_text())
                    if d and d["kind"] == "Namespace")
        labels = kube.core.read_namespace("modelops-system").metadata.labels or {}
        for key, value in dist["metadata"]["labels"].items():
            assert labels.get(key) == value, f"namespace label {key} differs from dist/"
        for crd in sorted((ROOT / "crds").glob("modelops.io_*.yaml")):
            obj = yaml.safe_load(crd.read_text())
            r = argocd.resource(name, "CustomResourceDefinition", obj["metadata"]["name"])
            assert r.get("status") == "Synced", r
        # A CRD the API server normalises would be OutOfSync now and re-applied by self-heal.
        before = argocd.settled(name)
        time.sleep(20)
        assert argocd.summary(name) == ("Synced", rev, "Healthy")
        assert argocd.syncs(name) == before, "self-heal synced again: something drifts"
        # The CRD upgrade docs/install.md gives, beside Argo CD's field manager.
        r = kube.kubectl("apply", "--server-side", "-f", str(ROOT / "crds"), check=False)
        assert r.returncode == 0, r.stderr
    finally:
        # Without Argo CD's resources finalizer the app goes and what it made stays: remove
        # all of it but the CRDs, which every other test uses.
        argocd.delete(name)
        for kind in ("clusterrolebinding", "clusterrole"):
            kube.kubectl("delete", kind, "-l", "app.kubernetes.io/instance=modelops",
                         check=False)
        kube.kubectl("delete", "namespace", "modelops-system", "--wait=false", check=False)


def test_example_folder_syncs_healthy_and_walks_a_canary(gitops: GitOpsModel) -> None:
    assert gitops.health("ModelVersion", "sentiment-v1") == ("Healthy", "Ready")
    assert gitops.health("ModelVersion", "sentiment-v2") == ("Healthy", "Ready")
    assert gitops.health()[0] == "Healthy"
    syncs = gitops.argocd.syncs(gitops.app)
    gitops.target("2")
    seen = gitops.health_until("Suspended")
    assert "Progressing" in seen, seen  # the canary's 50% step and its timed pause
    assert gitops.health() == ("Suspended", "step 3/3: paused until promoted")
    # The one change in Git is synced once; Argo CD 3.2 may apply the same revision to the
    # policy once more right after, while its cache catches up (seen under load).
    at_pause = gitops.argocd.syncs(gitops.app)
    assert at_pause - syncs in (1, 2), (syncs, at_pause)
    ok(cli(gitops.kube, "promote", "sentiment", "-n", gitops.ns))
    gitops.health_until("Healthy")
    assert gitops.policy()["stableVersion"] == "2"
    # The rollout itself never looked like drift: no sync from the pause to the end.
    assert gitops.argocd.syncs(gitops.app) == at_pause


def test_a_version_is_progressing_until_it_serves(
        kube: Kube, operator: OperatorProcess, argocd: Argo, namespace: str,
        tmp_path: Path) -> None:
    """Pending -> Ready through Argo CD: version 1 first asks for nodes that do not exist."""
    v1 = "examples/gitops/sentiment-v1.yaml"

    def nowhere(o: dict[str, Any]) -> None:
        o["spec"]["serving"]["nodeSelector"] = {"modelops.io/pool": "none-such"}
    m = GitOpsModel(kube, argocd, namespace, tmp_path / "repo",
                    first=lambda repo: repo.edit(v1, nowhere))
    try:
        argocd.synced_at(m.app, m.rev)
        wait_for(lambda: m.health("ModelVersion", "sentiment-v1") == ("Progressing", "Pending"),
                 what=f"v1 Progressing; now {m.health('ModelVersion', 'sentiment-v1')}")
        assert argocd.summary(m.app)[2] == "Progressing"
        m.git("v1 on any node", lambda o: o["spec"]["serving"].pop("nodeSelector"), path=v1)
        wait_for(lambda: m.health("ModelVersion", "sentiment-v1") == ("Healthy", "Ready"),
                 what=f"v1 Healthy; now {m.health('ModelVersion', 'sentiment-v1')}")
        wait_for(lambda: argocd.summary(m.app) == ("Synced", m.rev, "Healthy"),
                 what=f"the app Healthy; now {argocd.summary(m.app)}")
    finally:
        m.close()


def test_abort_is_degraded_until_git_decides(gitops: GitOpsModel) -> None:
    gitops.target("2")
    gitops.health_until("Suspended")
    ok(cli(gitops.kube, "abort", "sentiment", "-n", gitops.ns))
    gitops.health_until("Degraded")
    assert gitops.policy()["stableVersion"] == "1"
    gitops.target("1")  # Git takes the abort on board
    gitops.health_until("Healthy")


def test_health_waits_for_the_operator_to_see_a_new_spec(gitops: GitOpsModel,
                                                          operator: OperatorProcess) -> None:
    operator.stop()
    try:
        gitops.git("4 replicas", lambda o: o["spec"].update(replicas=4))
        wait_for(lambda: gitops.health() == (
            "Progressing", "Waiting for the operator to see the latest spec"),
            what=f"Progressing while the operator is away; now {gitops.health()}")
    finally:
        operator.start()
    gitops.health_until("Healthy")


def test_automatic_rollback_is_degraded(gitops: GitOpsModel, prometheus: Prometheus,
                                        emitters: Callable[..., Emitter]) -> None:
    emitters("sentiment", "1")
    emitters("sentiment", "2", error_rate=0.5)
    query = ERROR_RATE.replace("{{namespace}}", gitops.ns).replace(
        "{{model}}", "sentiment").replace("{{canaryVersion}}", "2")
    wait_for(lambda: (r := prometheus.query(query)) and float(r[0]["value"][1]) > 0.05,
             timeout=30, what="version 2's errors visible in Prometheus")

    def canary_with_analysis(o: dict[str, Any]) -> None:
        o["spec"].update(targetVersion="2", analysis=analysis(prometheus.address))
    gitops.git("target 2, with analysis", canary_with_analysis)
    seen = gitops.health_until("Degraded")
    st = gitops.policy()
    assert st["phase"] == "RolledBack" and st["stableVersion"] == "1", st
    assert st["history"][0]["reason"] == "AnalysisFailed"
    assert "Progressing" in seen or seen[0] == "Degraded"


def test_manual_rollback_under_self_heal_moves_traffic_once(
        gitops: GitOpsModel, operator: OperatorProcess) -> None:
    gitops.git("no steps", lambda o: o["spec"].update(targetVersion="2",
                                                      strategy={"canary": {"steps": []}}))
    gitops.health_until("Healthy")
    assert gitops.policy()["stableVersion"] == "2"
    syncs = gitops.argocd.syncs(gitops.app)

    out = ok(cli(gitops.kube, "rollback", "sentiment", "--to", "1", "-n", gitops.ns))
    assert "Argo CD manages this UpdatePolicy" in out, out
    gitops.health_until("Degraded")
    assert "held on 1" in gitops.health()[1]
    revision = gitops.policy()["revision"]
    # Self-heal has nothing to revert and traffic does not flap: for 20 s, through an
    # operator restart, version 1 serves, spec says 2, and no rollout starts.
    deadline = time.monotonic() + 20
    restarted = False
    while time.monotonic() < deadline:
        st = gitops.policy()
        assert (st.get("stableVersion"), st.get("canaryVersion"), st.get("revision")) == (
            "1", None, revision), st
        up = gitops.kube.get_up(gitops.ns, "sentiment") or {}
        assert up["spec"]["targetVersion"] == "2"
        assert gitops.argocd.summary(gitops.app)[0] == "Synced"
        if not restarted and time.monotonic() > deadline - 12:
            operator.restart()
            restarted = True
        time.sleep(0.5)
    assert gitops.argocd.syncs(gitops.app) == syncs
    assert gitops.health()[0] == "Degraded"

    gitops.target("1")  # the defined end: Git's target changes (here: Git agrees with the hold)
    gitops.health_until("Healthy")
    st = gitops.policy()
    assert "hold" not in st and st["stableVersion"] == "1"

    # Why the hold is needed: what writes spec, self-heal puts back within seconds.
    ok(cli(gitops.kube, "rollback", "sentiment", "--to", "2", "--set-target", "-n", gitops.ns))
    wait_for(lambda: (gitops.kube.get_up(gitops.ns, "sentiment") or {})["spec"][
        "targetVersion"] == "1", timeout=30, what="self-heal reverting spec.targetVersion")
