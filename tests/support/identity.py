"""The operator's identity as the chart ships it: its ServiceAccount, ClusterRole, Roles and
bindings, rendered by Helm from charts/modelops for a release, and a kubeconfig that acts as
that ServiceAccount (a token from the TokenRequest API). An operator run with it can do
exactly what the chart grants, so a missing rule fails the test that needs it. The chart's
roles for people, and its admission policy on spec edits, come with it."""

from __future__ import annotations

import json
from pathlib import Path

from .helm import template
from .kube import Kube
from .waiting import wait_for


class ChartIdentity:
    def __init__(self, kube: Kube, release: str, namespace: str, *values: str) -> None:
        self.kube = kube
        self.release = release
        self.namespace = namespace
        self.values = values
        self.removed = False
        # The chart's fullname (modelops.fullname in _helpers.tpl).
        self.service_account = release if "modelops" in release else f"{release}-modelops"

    @property
    def user(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.service_account}"

    def install(self) -> None:
        k = self.kube
        # The last run's namespace may still be going away: wait for it, then make it anew.
        wait_for(lambda: k.kubectl("get", "namespace", self.namespace, "-o",
                                   "jsonpath={.status.phase}", check=False).stdout
                 != "Terminating", timeout=120, what=f"{self.namespace} gone")
        if k.kubectl("get", "namespace", self.namespace, check=False).returncode != 0:
            k.kubectl("create", "namespace", self.namespace)
        k.kubectl("apply", "--server-side", "--force-conflicts", "-n", self.namespace, "-f", "-",
                  stdin=template(self.release, self.namespace, *self.values,
                                 show=("serviceaccount.yaml", "rbac.yaml", "user-roles.yaml")))
        wait_for(lambda: k.kubectl("get", "serviceaccount", self.service_account, "-n",
                                   self.namespace, check=False).returncode == 0,
                 what=f"ServiceAccount {self.service_account}")
        # The API server's RBAC cache takes a moment to see new bindings: an operator started
        # before that is refused its first watches (and would say so in its log).
        for verb, resource in (("watch", "jobs.batch"), ("watch", "modelversions.modelops.io")):
            wait_for(lambda v=verb, r=resource: k.kubectl(
                "auth", "can-i", v, r, "--all-namespaces", f"--as={self.user}",
                check=False).stdout.strip() == "yes", what=f"{self.user} may {verb} {resource}")

    def kubeconfig(self, path: Path) -> str:
        token = self.kube.kubectl("create", "token", self.service_account, "-n", self.namespace,
                                  "--duration=24h").stdout.strip()
        admin = json.loads(self.kube.kubectl("config", "view", "--raw", "-o", "json").stdout)
        cluster = admin["clusters"][0]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "clusters": [cluster],
            "users": [{"name": self.service_account, "user": {"token": token}}],
            "contexts": [{"name": "chart", "context": {"cluster": cluster["name"],
                                                       "user": self.service_account}}],
            "current-context": "chart"}))
        return str(path)

    def remove(self) -> None:
        if self.removed:
            return
        self.removed = True
        name = self.service_account
        for obj in (f"clusterrolebinding/{name}-cluster", f"clusterrole/{name}-cluster",
                    f"clusterrole/{name}-view", f"clusterrole/{name}-edit",
                    f"clusterrole/{name}-steer", f"validatingadmissionpolicy/{name}-spec-edits",
                    f"validatingadmissionpolicybinding/{name}-spec-edits"):
            self.kube.kubectl("delete", obj, "--ignore-not-found", check=False)
        self.kube.kubectl("delete", "namespace", self.namespace, "--wait=false",
                          "--ignore-not-found", check=False)
