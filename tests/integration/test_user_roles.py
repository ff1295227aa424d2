"""Who may change a model: the chart's ClusterRoles, aggregated into Kubernetes' own `view`
and `edit`, and its `steer` role for a team that promotes and rolls back without editing spec
(the admission policy tells a spec edit from steering). Each user acts with a token of their
own, through kubectl and `kubectl modelops`, against the suite's operator."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.test_cli import cli_env, sa_kubeconfig
from tests.support.identity import ChartIdentity
from tests.support.kube import Kube
from tests.support.manifests import served
from tests.support.operator import OperatorProcess
from tests.support.rollout import Model
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
KUBECTL = str(ROOT / "hack" / "cluster" / "kubectl")


def user(kube: Kube, ns: str, name: str, role: str, tmp: Path) -> str:
    """A ServiceAccount bound to `role` (a ClusterRole) in `ns`; its kubeconfig."""
    kube.kubectl("create", "serviceaccount", name, "-n", ns)
    kube.kubectl("create", "rolebinding", name, f"--clusterrole={role}",
                 f"--serviceaccount={ns}:{name}", "-n", ns)
    token = kube.kubectl("create", "token", name, "-n", ns, "--duration=1h").stdout.strip()
    return sa_kubeconfig(kube, tmp / name, token)


def as_user(config: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KUBECTL, f"--kubeconfig={config}", *args], capture_output=True,
                          text=True, timeout=60)


def modelops(config: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "modelops.cli.main", *args],
                          capture_output=True, text=True, timeout=90, env=cli_env(config))


def target(config: str, ns: str, version: str) -> subprocess.CompletedProcess[str]:
    return as_user(config, "patch", "updatepolicy", "m", "-n", ns, "--type=merge",
                   "-p", json.dumps({"spec": {"targetVersion": version}}))


def test_view_reads_edit_changes_steer_promotes_and_rolls_back_without_spec(
        kube: Kube, operator: OperatorProcess, chart_identity: ChartIdentity, namespace: str,
        tmp_path: Path) -> None:
    ns = namespace
    for v in ("1", "2", "3"):
        kube.create(ns, served(f"m-v{v}", "m", v))
    m = Model(kube, ns)
    m.policy(targetVersion="1", replicas=2,
             strategy={"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}})
    m.wait("1 stable", stableVersion="1")
    steer_role = f"{chart_identity.service_account}-steer"
    alice = user(kube, ns, "alice", "view", tmp_path)
    bob = user(kube, ns, "bob", "edit", tmp_path)
    carol = user(kube, ns, "carol", steer_role, tmp_path)
    # Aggregation takes a moment after the roles appear.
    wait_for(lambda: as_user(alice, "get", "updatepolicies", "-n", ns).returncode == 0,
             what="view aggregates the modelops role")

    # view reads, and cannot change a target.
    assert "m-v2" in as_user(alice, "get", "modelversions", "-n", ns).stdout
    denied = target(alice, ns, "2")
    assert denied.returncode != 0 and "forbidden" in denied.stderr.lower(), denied.stderr
    assert (kube.get_up(ns, "m") or {})["spec"]["targetVersion"] == "1"

    # edit changes the target: the rollout of 2 starts and pauses at 50%.
    wait_for(lambda: target(bob, ns, "2").returncode == 0, what="edit aggregates the role")
    m.wait("paused at 50%", phase="Paused", canaryVersion="2")

    # steer cannot change the target (the admission policy says why) ...
    refused = target(carol, ns, "3")
    assert refused.returncode != 0, refused.stdout
    assert "takes the edit role" in refused.stderr and "steer" in refused.stderr
    assert (kube.get_up(ns, "m") or {})["spec"]["targetVersion"] == "2"
    # ... nor create or delete a version, but may pause, resume and promote.
    assert as_user(carol, "delete", "modelversion", "m-v3", "-n", ns).returncode != 0
    r = modelops(carol, "pause", "m", "-n", ns)
    assert r.returncode == 0, r.stderr
    assert (kube.get_up(ns, "m") or {})["spec"]["paused"] is True
    assert modelops(carol, "resume", "m", "-n", ns).returncode == 0
    r = modelops(carol, "promote", "m", "-n", ns)
    assert r.returncode == 0, r.stdout + r.stderr
    m.wait("2 promoted by the steering team", phase="Promoted", stableVersion="2")

    # A rollback by steer holds traffic on 1 without writing spec (the CLI sees the role).
    r = modelops(carol, "rollback", "m", "--to", "1", "-n", ns)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "your role may not change this UpdatePolicy's spec" in r.stdout
    m.wait("held on 1", stableVersion="1")
    up = kube.get_up(ns, "m") or {}
    assert up["spec"]["targetVersion"] == "2" and up["status"]["hold"]["version"] == "1"
