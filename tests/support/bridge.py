"""A test's own server on the host's loopback (a Prometheus, a webhook receiver), shown to the
real node's pods as a Service of the test's namespace, the way an in-cluster one would be:
a forward-only nodelink listens on the node's address inside its network namespace, and an
EndpointSlice names that address. The operator in its pod calls the Service's name."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from .kube import Kube
from .waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "hack" / "cluster"))
import realnode  # noqa: E402


class InNode:
    def __init__(self, kube: Kube, namespace: str, name: str, port: int) -> None:
        self.kube, self.namespace, self.name, self.port = kube, namespace, name, port
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "hack" / "cluster" / "nodelink.py"),
             "--netns", str(realnode.NETNS_PATH),
             "--forward-in-node", f"{realnode.NODE_IP}:{port}=127.0.0.1:{port}"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # it says what it forwards once it listens
        assert "into the host" in line, line
        kube.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps({
            "apiVersion": "v1", "kind": "List", "items": [
                {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                 "spec": {"ports": [{"name": "http", "port": port, "protocol": "TCP"}]}},
                {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                 "metadata": {"name": name, "labels": {
                     "kubernetes.io/service-name": name,
                     "endpointslice.kubernetes.io/managed-by": "tests.modelops.io"}},
                 "addressType": "IPv4",
                 "endpoints": [{"addresses": [realnode.NODE_IP], "conditions": {"ready": True}}],
                 "ports": [{"name": "http", "port": port, "protocol": "TCP"}]}]}))
        wait_for(lambda: kube.kubectl("get", "service", name, "-n", namespace,
                                      check=False).returncode == 0, what=f"Service {name}")

    @property
    def url(self) -> str:
        return f"http://{self.name}.{self.namespace}.svc.cluster.local:{self.port}"

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
