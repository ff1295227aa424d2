#!/usr/bin/env python3
"""A real Argo CD beside the local cluster, for the GitOps tests: `up`, `down`, `status`.

Argo CD's "core" install, run as local processes the way Argo CD's own `make start-local`
runs them (ARGOCD_FAKE_IN_CLUSTER): the application controller and the repo server built from
the pinned release (hack/cluster/build.sh argocd), Debian's redis, and `git daemon` serving
the repositories under `.localcluster/argocd/git/` as git://127.0.0.1:PORT/NAME (`repo NAME`
makes one and prints its URL). Every
listener is on loopback. Its CRDs and stock configuration come from the same release's
core-install.yaml, applied as a user would apply Argo CD's install manifest; the default
AppProject, which only argocd-server would create, is made here. Standard library only.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from localcluster import CACHE, STATE, Cluster, log, versions  # noqa: E402
from procs import alive, free_port, http_ok  # noqa: E402

NAMESPACE = "argocd"
# What a core install needs of core-install.yaml; its Deployments, Services and RBAC are for
# pods, and we run the processes ourselves.
KINDS = {"CustomResourceDefinition", "ConfigMap", "Secret"}
SKIP = {"applicationsets.argoproj.io"}  # no ApplicationSet controller here
DEFAULT_PROJECT = {
    "apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
    "metadata": {"name": "default", "namespace": NAMESPACE},
    "spec": {"sourceRepos": ["*"], "destinations": [{"server": "*", "namespace": "*"}],
             "clusterResourceWhitelist": [{"group": "*", "kind": "*"}]},
}


def home() -> Path:
    return CACHE / f"argocd-{versions()['ARGOCD_VERSION']}"


def ensure_built() -> None:
    helm = CACHE / f"helm-{versions()['HELM_VERSION']}" / "bin" / "helm"
    if not (home() / "bin" / "argocd").exists() or not helm.exists():
        log("building Argo CD and helm (first run only)")
        subprocess.run(["bash", str(HERE / "build.sh"), "argocd", "helm"], check=True)
    if shutil.which("redis-server") is None:
        subprocess.run(["bash", str(HERE.parent / "install-debs.sh")], check=True)


def install_objects(text: str) -> list[str]:
    """The documents of core-install.yaml a core install needs (top-level kind and name read
    line by line: the file is generated, one object a document)."""
    keep = []
    for doc in re.split(r"(?m)^---\s*$", text):
        kind = re.search(r"(?m)^kind: (\w+)\s*$", doc)
        name = re.search(r"(?m)^  name: (\S+)\s*$", doc)
        if kind and kind.group(1) in KINDS and not (name and name.group(1) in SKIP):
            keep.append(doc.strip())
    return keep


class ArgoCD:
    def __init__(self, cluster: Cluster | None = None) -> None:
        self.cluster = cluster or Cluster(STATE)
        self.dir = self.cluster.state / "argocd"
        self.git_root = self.dir / "git"
        self.info_file = self.dir / "argocd.json"

    # -- what tests and users need -----------------------------------------------------------
    @property
    def info(self) -> dict[str, int]:
        return dict(json.loads(self.info_file.read_text()))

    def repo_url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.info['git']}/{name}"

    def new_repo(self, name: str) -> str:
        """An empty repository served to Argo CD (and open to pushes); returns its URL."""
        shutil.rmtree(self.git_root / f"{name}.git", ignore_errors=True)
        subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main",
                        str(self.git_root / f"{name}.git")], check=True)
        return self.repo_url(f"{name}.git")

    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.info['controller_metrics']}/metrics"

    def running(self) -> bool:
        pids = self.cluster._pids()
        names = ("argocd-redis", "argocd-git", "argocd-repo-server", "argocd-controller")
        return (self.info_file.exists() and all(alive(pids.get(n, 0)) for n in names)
                and http_ok(f"http://127.0.0.1:{self.info['controller_metrics']}/healthz"))

    # -- lifecycle ---------------------------------------------------------------------------
    def up(self) -> None:
        if not self.cluster.running():
            raise SystemExit("the local cluster is not running: `make cluster-up` first")
        if self.running():
            log("argocd already running")
            return
        self.down(quiet=True)
        ensure_built()
        t0 = time.monotonic()
        for sub in ("git", "tmp", "tls", "ssh", "redis"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        ports = {k: free_port() for k in ("redis", "git", "repo_server", "repo_metrics",
                                          "controller_metrics")}
        self.info_file.write_text(json.dumps(ports))
        k = self.cluster.kubectl
        k("create", "namespace", NAMESPACE, check=False)
        text = (home() / "manifests" / "core-install.yaml").read_text()
        k("apply", "-n", NAMESPACE, "-f", "-", stdin="\n---\n".join(install_objects(text)))
        k("wait", "--for=condition=Established", "--timeout=60s",
          "crd/applications.argoproj.io", "crd/appprojects.argoproj.io")
        k("apply", "-f", "-", stdin=json.dumps(DEFAULT_PROJECT))
        # argocd-server would generate the key on first start; the controller only warns.
        key = base64.b64encode(base64.b64encode(os.urandom(32))).decode()
        k("patch", "secret", "argocd-secret", "-n", NAMESPACE, "--type", "merge", "-p",
          json.dumps({"data": {"server.secretkey": key}}))

        bin_dir = home() / "bin"
        helm_dir = CACHE / f"helm-{versions()['HELM_VERSION']}" / "bin"
        env = {
            **os.environ, "ARGOCD_FAKE_IN_CLUSTER": "true",
            "KUBECONFIG": str(self.cluster.kubeconfig), "ARGOCD_GPG_ENABLED": "false",
            "ARGOCD_TLS_DATA_PATH": str(self.dir / "tls"),
            "ARGOCD_SSH_DATA_PATH": str(self.dir / "ssh"),
            "TMPDIR": str(self.dir / "tmp"), "PATH": f"{helm_dir}:{os.environ['PATH']}",
        }
        redis = f"127.0.0.1:{ports['redis']}"
        self._start("argocd-redis", [
            "redis-server", "--bind", "127.0.0.1", "--port", str(ports["redis"]),
            "--save", "", "--appendonly", "no", "--dir", str(self.dir / "redis"),
            "--protected-mode", "yes", "--daemonize", "no"], env)
        self._start("argocd-git", [
            "git", "daemon", "--reuseaddr", "--listen=127.0.0.1", f"--port={ports['git']}",
            f"--base-path={self.git_root}", "--export-all", "--enable=receive-pack",
            str(self.git_root)], env)
        self._start("argocd-repo-server", [
            str(bin_dir / "argocd-repo-server"), "--address", "127.0.0.1",
            "--port", str(ports["repo_server"]), "--metrics-address", "127.0.0.1",
            "--metrics-port", str(ports["repo_metrics"]), "--redis", redis,
            "--loglevel", "info"], env)
        self._start("argocd-controller", [
            str(bin_dir / "argocd-application-controller"), "--namespace", NAMESPACE,
            "--redis", redis, "--repo-server", f"127.0.0.1:{ports['repo_server']}",
            "--metrics-port", str(ports["controller_metrics"]), "--loglevel", "info",
            "--status-processors", "4", "--operation-processors", "2",
            # Since 3.0 resource health lives only in redis, for argocd-server to show; kept in
            # the Application too, the tests read it through the API server as kubectl would.
            "--persist-resource-health"], env)
        self.cluster._wait("argocd controller /healthz", lambda: http_ok(
            f"http://127.0.0.1:{ports['controller_metrics']}/healthz"), 90, "argocd-controller")
        log(f"argocd up in {time.monotonic() - t0:.1f}s; repos at git://127.0.0.1:"
            f"{ports['git']}/ from {self.git_root}")

    def _start(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        with open(self.cluster.logs / f"{name}.log", "ab") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env,
                                    stdin=subprocess.DEVNULL, start_new_session=True,
                                    cwd=self.dir)
        (self.cluster.state / "pids").mkdir(exist_ok=True)
        (self.cluster.state / "pids" / name).write_text(str(proc.pid))

    def down(self, quiet: bool = False) -> None:
        self.cluster.stop([n for n in self.cluster._pids() if n.startswith("argocd-")])
        shutil.rmtree(self.dir, ignore_errors=True)
        if not quiet:
            log("argocd stopped")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("command", choices=["up", "down", "status", "repo"])
    ap.add_argument("name", nargs="?", help="repo: the new repository's name")
    a = ap.parse_args()
    argo = ArgoCD()
    if a.command == "up":
        argo.up()
    elif a.command == "repo":
        print(argo.new_repo(a.name or "models"))
    elif a.command == "down":
        argo.down()
    else:
        ok = argo.running()
        print(f"argocd: {'running' if ok else 'not running'}")
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
