"""Git repositories served to the real Argo CD, and what tests read back from Argo CD."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from .kube import Kube
from .waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
NS = "argocd"
GIT = ["git", "-c", "user.name=modelops tests", "-c", "user.email=tests@modelops.invalid",
       "-c", "init.defaultBranch=main", "-c", "advice.detachedHead=false"]


class GitRepo:
    """A bare repository under Argo CD's git daemon and a working copy to commit from."""

    def __init__(self, url: str, work: Path) -> None:
        self.url, self.work = url, work
        _git("init", "-q", str(work))
        _git("-C", str(work), "remote", "add", "origin", url)

    def copy(self, *paths: str) -> None:
        """Files of this checkout, as they are in the working tree."""
        for rel in paths:
            src, dst = ROOT / rel, self.work / rel
            if src.is_dir():
                shutil.copytree(src, dst, dirs_exist_ok=True)
            else:
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(src, dst)

    def edit(self, rel: str, change: Any) -> None:
        """Load a YAML file, let `change` edit the object in place, write it back."""
        path = self.work / rel
        obj = yaml.safe_load(path.read_text())
        change(obj)
        path.write_text(yaml.safe_dump(obj, sort_keys=False))

    def commit(self, message: str) -> str:
        _git("-C", str(self.work), "add", "-A")
        _git("-C", str(self.work), "commit", "-q", "-m", message)
        _git("-C", str(self.work), "push", "-q", "origin", "HEAD:main")
        return _git("-C", str(self.work), "rev-parse", "HEAD").strip()


def _git(*args: str) -> str:
    r = subprocess.run([*GIT, *args], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"git {' '.join(args)}: {r.stderr}")
    return r.stdout


class Argo:
    """Applications in the real Argo CD, read through the API server as `argocd app get` would."""

    def __init__(self, kube: Kube, server: Any) -> None:
        self.kube, self.server = kube, server  # server: hack/cluster/argocd.py's ArgoCD

    def repo(self, name: str, work: Path) -> GitRepo:
        return GitRepo(self.server.new_repo(name), work)

    def create(self, app: dict[str, Any]) -> None:
        self.kube.kubectl("apply", "-n", NS, "-f", "-", stdin=yaml.safe_dump(app))

    def delete(self, name: str) -> None:
        self.kube.kubectl("delete", "application", name, "-n", NS, "--wait=false", check=False)

    def get(self, name: str) -> dict[str, Any]:
        return dict(self.kube.get_json("application", name, "-n", NS))

    def refresh(self, name: str) -> None:
        """What the UI's Refresh does: look at Git now instead of at the next resync."""
        self.kube.kubectl("annotate", "application", name, "-n", NS, "--overwrite",
                          "argocd.argoproj.io/refresh=normal")

    def summary(self, name: str) -> tuple[str, str, str]:
        st = self.get(name).get("status") or {}
        return ((st.get("sync") or {}).get("status", ""),
                (st.get("sync") or {}).get("revision", ""),
                (st.get("health") or {}).get("status", ""))

    def resource(self, name: str, kind: str, obj: str) -> dict[str, Any]:
        """The app's view of one resource: sync status and health {status, message}."""
        for r in (self.get(name).get("status") or {}).get("resources") or []:
            if r.get("kind") == kind and r.get("name") == obj:
                return dict(r)
        return {}

    def health(self, name: str, kind: str, obj: str) -> tuple[str, str]:
        h = self.resource(name, kind, obj).get("health") or {}
        return h.get("status", ""), h.get("message", "")

    def synced_at(self, name: str, revision: str, health: str | None = None,
                  timeout: float = 90) -> None:
        """Wait until the app has synced `revision` (and has the given health)."""
        def done() -> bool:
            st = self.get(name).get("status") or {}
            op = (st.get("operationState") or {})
            ok = (self.summary(name)[:2] == ("Synced", revision)
                  and op.get("phase") in (None, "Succeeded")
                  and (op.get("syncResult") or {}).get("revision") in (None, revision))
            return ok and (health is None or self.summary(name)[2] == health)
        self.refresh(name)
        wait_for(done, timeout=timeout, interval=0.5,
                 what=f"{name} synced at {revision[:8]} ({health or 'any health'}); "
                      f"now {self.summary(name)}")

    def settled(self, name: str, quiet: float = 6, timeout: float = 60) -> int:
        """Wait until the app is Synced and ran no sync for `quiet` seconds; its sync count.
        Right after creating resources Argo CD may heal once while its cache catches up; a
        drift that never settles fails here."""
        deadline = time.monotonic() + timeout
        count, since = self.syncs(name), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.5)
            now = self.syncs(name)
            if now != count or self.summary(name)[0] != "Synced":
                count, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return count
        raise AssertionError(f"{name} never settled: {self.summary(name)}, {count} syncs")

    def syncs(self, name: str) -> int:
        """Sync operations the controller ran for the app (its argocd_app_sync_total)."""
        with urllib.request.urlopen(self.server.metrics_url(), timeout=5) as r:
            text = r.read().decode()
        total = 0.0
        for line in text.splitlines():
            if line.startswith("argocd_app_sync_total{") and f'name="{name}"' in line:
                total += float(line.rsplit(" ", 1)[1])
        return int(total)


def application(name: str, repo_url: str, path: str, namespace: str,
                **sync: Any) -> dict[str, Any]:
    """An Application like the docs' walkthrough: automated sync with prune and self-heal."""
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "project": "default",
            "source": {"repoURL": repo_url, "targetRevision": "main", "path": path},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True}, **sync},
        },
    }


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:50]


POLICY = "examples/gitops/sentiment-policy.yaml"


class GitOpsModel:
    """examples/gitops in a repository of its own, synced by an Application into `ns`."""

    def __init__(self, kube: Kube, argocd: Argo, ns: str, work: Path,
                 first: Callable[[GitRepo], None] | None = None) -> None:
        self.kube, self.argocd, self.ns = kube, argocd, ns
        self.app = slug(f"ex-{ns}")
        self.repo: GitRepo = argocd.repo(self.app, work)
        self.repo.copy("examples/gitops")
        if first:
            first(self.repo)
        self.rev = self.repo.commit("examples/gitops")
        argocd.create(application(self.app, self.repo.url, "examples/gitops", ns))

    def policy(self) -> dict[str, Any]:
        return (self.kube.get_up(self.ns, "sentiment") or {}).get("status") or {}

    def health(self, kind: str = "UpdatePolicy", name: str = "sentiment") -> tuple[str, str]:
        return self.argocd.health(self.app, kind, name)

    def git(self, message: str, change: Callable[[dict[str, Any]], None],
            path: str = POLICY) -> None:
        self.repo.edit(path, change)
        self.rev = self.repo.commit(message)
        self.argocd.synced_at(self.app, self.rev)

    def target(self, version: str) -> None:
        self.git(f"target {version}", lambda o: o["spec"].update(targetVersion=version))

    def health_until(self, want: str, timeout: float = 90) -> list[str]:
        """UpdatePolicy health as Argo CD shows it, each change, until `want`; the app must
        stay Synced at the same revision all along (the operator writes only status)."""
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sync, rev, _ = self.argocd.summary(self.app)
            assert (sync, rev) == ("Synced", self.rev), f"drift while rolling out: {sync} {rev}"
            status = self.health()[0]
            if not seen or seen[-1] != status:
                seen.append(status)
            if status == want:
                return seen
            time.sleep(0.3)
        raise AssertionError(f"never {want}; seen {seen}; status {self.policy()}")

    def close(self) -> None:
        self.argocd.delete(self.app)
