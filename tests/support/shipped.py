"""The operator as users install it: `helm install` of charts/modelops, with the image built
from the project's Dockerfile, in its pod on the real node, in a namespace that enforces Pod
Security `restricted`, acting with nothing but the chart's RBAC. The real-node end-to-end
tests run against it; it offers what they ask of the operator in a host process (kill, stop,
start, its log) the way a cluster does it: SIGKILL reaches the container's process through
containerd, and the kubelet starts it again."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from . import faults, node
from .bridge import InNode
from .helm import CHART, helm
from .kube import Kube
from .waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
SOCKET = ROOT / ".localcluster" / "node" / "containerd.sock"


class ShippedOperator:
    release = "shipped"
    namespace = "modelops-shipped"
    deployment = "shipped-modelops"
    receivers_namespace = namespace  # the chart's: its release namespace

    def __init__(self, kube: Kube, *values: str) -> None:
        self.kube = kube
        self.values = values  # more helm --set flags
        self.bridges: list[InNode] = []
        self.kills = 0
        self.finished = False

    # -- install ---------------------------------------------------------------------------
    def install(self) -> None:
        k, ns = self.kube, self.namespace
        wait_for(lambda: k.kubectl("get", "namespace", ns, check=False).returncode != 0,
                 timeout=120, what=f"no {ns} left from an earlier run")
        k.kubectl("create", "namespace", ns)
        k.kubectl("label", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted")
        r = helm("install", self.release, str(CHART), "-n", ns, "--kubeconfig", k.kubeconfig,
                 "--set", "image.repository=localhost/modelops/operator",
                 "--set", "image.tag=dev",
                 "--set-json", f"nodeSelector={json.dumps(node.REAL)}",
                 "--set-json", f"tolerations={json.dumps(node.TOLERATE_REAL)}", *self.values)
        assert r.returncode == 0, r.stderr
        self.start()

    def finish(self) -> None:
        """Checked and uninstalled, once: its log must show no refusal by the API server."""
        if self.finished:
            return
        self.finished = True
        try:
            user = f"system:serviceaccount:{self.namespace}:{self.deployment}"
            refused = faults.refusals(self.log_text(), user)
            assert not refused, "the chart's RBAC is missing a permission:\n" + "\n".join(
                refused)
        finally:
            self.uninstall()

    def uninstall(self) -> None:
        for b in self.bridges:
            b.close()
        helm("uninstall", self.release, "-n", self.namespace, "--kubeconfig",
             self.kube.kubeconfig, "--wait", "--timeout", "60s")
        self.kube.kubectl("delete", "namespace", self.namespace, "--wait=false", check=False)

    # -- what tests do to an operator ------------------------------------------------------
    def pod(self) -> Any:
        pods = self.kube.core.list_namespaced_pod(
            self.namespace, label_selector=f"app.kubernetes.io/instance={self.release}").items
        live = [p for p in pods if not p.metadata.deletion_timestamp]
        return live[0] if live else None

    def _ready(self) -> bool:
        p = self.pod()
        return bool(p and p.status.container_statuses and p.status.container_statuses[0].ready)

    def start(self) -> None:
        """Running and ready: scaled up if it was stopped; after a kill, the kubelet's
        restart (nothing to do but wait)."""
        dep = self.kube.apps.read_namespaced_deployment(self.deployment, self.namespace)
        if dep.spec.replicas == 0:
            self.kube.kubectl("scale", "deployment", self.deployment, "-n", self.namespace,
                              "--replicas=1")
        wait_for(self._ready, timeout=180, interval=0.5,
                 what=f"the operator pod ready (log: {self.tail(20)})")

    def stop(self) -> None:
        self.kube.kubectl("scale", "deployment", self.deployment, "-n", self.namespace,
                          "--replicas=0")
        wait_for(lambda: self.pod() is None, timeout=60, what="the operator pod gone")

    def kill(self) -> None:
        """SIGKILL the operator's process in its container: no clean-up, no last write."""
        p = self.pod()
        assert p is not None, "no operator pod to kill"
        cid = p.status.container_statuses[0].container_id.split("://", 1)[1]
        subprocess.run(["ctr", f"--address={SOCKET}", "-n", "k8s.io", "tasks", "kill", "-s",
                        "SIGKILL", cid], check=True, capture_output=True)
        self.kills += 1
        wait_for(lambda: not self._ready(), timeout=30, interval=0.1,
                 what="the kubelet to see the operator's container die")

    def restart(self) -> None:
        self.kill()
        self.start()

    def restarts(self) -> int:
        p = self.pod()
        return int(p.status.container_statuses[0].restart_count) if p else 0

    def log_text(self) -> str:
        p = self.pod()
        if p is None:
            return ""
        out = ""
        for previous in (True, False):
            r = self.kube.kubectl("logs", "-n", self.namespace, p.metadata.name,
                                  *(["--previous"] if previous else []), check=False)
            out += r.stdout if r.returncode == 0 else ""
        return out

    def tail(self, n: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-n:])

    def wait_for_log(self, needle: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.log_text():
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} not in the operator's log:\n{self.tail()}")
            time.sleep(0.5)

    def metrics(self) -> str:
        p = self.pod()
        status, body = node.request(p.status.pod_ip, 9090, "GET", "/metrics")
        assert status == 200
        return body.decode()

    def reach(self, namespace: str, name: str, port: int) -> str:
        """The URL at which the operator in its pod calls a server of the test's on the host
        (a Service of the test's namespace bridged into the node)."""
        bridge = InNode(self.kube, namespace, name, port)
        self.bridges.append(bridge)
        return bridge.url
