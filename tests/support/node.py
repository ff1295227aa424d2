"""Reaching the real node's network from the host, the way the API server does: an HTTP CONNECT
through nodelink's Unix socket (.localcluster/egress.sock), so a test's request to a pod or
Service address goes through the node's own routing and kube-proxy's rules."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .kube import Kube

ROOT = Path(__file__).resolve().parents[2]
STATE = ROOT / ".localcluster"
REAL_NODE = "real-node"
REAL = {"modelops.io/node-kind": "real"}
TOLERATE_REAL = [{"key": "modelops.io/node-kind", "operator": "Equal", "value": "real",
                  "effect": "NoSchedule"}]


def on_real_node() -> dict[str, Any]:
    """The ModelVersion serving/training fields that put pods on the real node."""
    return {"nodeSelector": dict(REAL), "tolerations": [dict(t) for t in TOLERATE_REAL]}


# The tests' own helper pods (artifact server, load generator) pass Pod Security `restricted`
# too: the real-node tests' namespaces enforce it.
RESTRICTED_POD = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
RESTRICTED_CONTAINER = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def helper_pod(spec: dict[str, Any]) -> dict[str, Any]:
    """A helper pod's spec on the real node, restricted."""
    return {**on_real_node(), "securityContext": RESTRICTED_POD, **spec,
            "containers": [{"securityContext": RESTRICTED_CONTAINER, **c}
                           for c in spec["containers"]]}


def request(host: str, port: int, method: str, path: str, body: Any = None,
            timeout: float = 10) -> tuple[int, bytes]:
    """One HTTP request to an address inside the node (a pod or ClusterIP)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(str(STATE / "egress.sock"))
    s.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        if not chunk:
            raise ConnectionError(f"nodelink closed the tunnel to {host}:{port}")
        head += chunk
    if not head.startswith(b"HTTP/1.1 200"):
        why = b""  # nodelink says why after its 502 (refused: no ready endpoint; timed out)
        with contextlib.suppress(OSError):
            while len(why) < 1024 and (chunk := s.recv(1024)):
                why += chunk
        s.close()
        raise ConnectionError(f"no way to {host}:{port}: {head.decode(errors='replace')}"
                              f"{why.decode(errors='replace')}")
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    conn.sock = s
    data = json.dumps(body).encode() if body is not None else None
    conn.request(method, path, body=data,
                 headers={"Content-Type": "application/json"} if data else {})
    resp = conn.getresponse()
    out = resp.status, resp.read()
    conn.close()
    return out


def request_soon(host: str, port: int, method: str, path: str, body: Any = None,
                 within: float = 15) -> tuple[int, bytes]:
    """request(), tried again while the address refuses: a Service's endpoints reach
    kube-proxy a moment after its pods are ready, as on any cluster."""
    deadline = time.monotonic() + within
    while True:
        try:
            return request(host, port, method, path, body)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def s3() -> dict[str, str]:
    """The local S3 server: endpoint (host), inCluster, accessKey, secretKey, region."""
    return dict(json.loads((STATE / "s3.json").read_text()))


IRIS_SETOSA = {"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP32",
                           "data": [5.1, 3.5, 1.4, 0.2]}]}


def s3_put(bucket: str, key: str, data: bytes) -> None:
    """Store an object: the local S3 server keeps buckets as folders of its posix backend
    (objects are files there), so this is what a PUT would leave behind."""
    path = STATE / "s3" / bucket / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def s3_bucket(bucket: str) -> None:
    """Make a bucket (a folder of the server's posix backend)."""
    (STATE / "s3" / bucket).mkdir(parents=True, exist_ok=True)


def s3_env() -> dict[str, str]:
    """What a credentials Secret for the local S3 server holds (kserve-storage's names)."""
    info = s3()
    return {"AWS_ACCESS_KEY_ID": info["accessKey"], "AWS_SECRET_ACCESS_KEY": info["secretKey"],
            "AWS_ENDPOINT_URL": info["inCluster"], "AWS_DEFAULT_REGION": info["region"]}


EXAMPLE_IMAGE = "localhost/modelops/model-server:dev"


def serve_example_model(kube: Kube, namespace: str) -> tuple[str, bytes]:
    """An http server of the example model (the model-server image's own copy, API.md) in a
    pod on the real node: (the model file's in-cluster URL, its bytes)."""
    labels = {"app": "artifacts"}
    kube.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps({
        "apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "Pod",
             "metadata": {"name": "artifacts", "labels": labels},
             "spec": helper_pod({"containers": [{
                 "name": "http", "image": EXAMPLE_IMAGE, "imagePullPolicy": "IfNotPresent",
                 "command": ["python3", "-m", "http.server", "8000", "--directory",
                             "/opt/modelops/example-model"],
                 "ports": [{"containerPort": 8000}],
                 "readinessProbe": {"tcpSocket": {"port": 8000}, "periodSeconds": 1}}]})},
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "artifacts"},
             "spec": {"selector": labels, "ports": [{"port": 8000}]}}]}))
    r = kube.kubectl("wait", "-n", namespace, "--for=condition=Ready", "pod/artifacts",
                     "--timeout=90s", check=False)
    assert r.returncode == 0, f"artifacts not Ready: {pod_story(kube, namespace, 'artifacts')}"
    ip = kube.core.read_namespaced_pod("artifacts", namespace).status.pod_ip
    status, data = request(ip, 8000, "GET", "/model.joblib")
    assert status == 200 and len(data) > 100, (status, data[:200])
    return f"http://artifacts.{namespace}.svc.cluster.local:8000/model.joblib", data


def pod_story(kube: Kube, namespace: str, name: str) -> str:
    """Why a pod is not running, as far as the API can tell: its phase, its containers' waiting
    reasons, its events, and the real node's pressure conditions."""
    pod = kube.core.read_namespaced_pod(name, namespace)
    waiting = [f"{c.name}: {c.state.waiting.reason} {c.state.waiting.message or ''}"
               for c in pod.status.container_statuses or [] if c.state and c.state.waiting]
    events = [f"{e.reason}: {e.message}" for e in kube.events(namespace, name)]
    node = kube.core.read_node(REAL_NODE)
    pressure = [f"{c.type}={c.status}" for c in node.status.conditions or []]
    return f"phase {pod.status.phase}; waiting {waiting}; events {events}; node {pressure}"


def hf_repo(org: str, repo: str, files: dict[str, bytes]) -> None:
    """A model repository on the local Hugging Face hub: a git repository (branch main) under
    the folder olah serves, as a hub's own repositories are."""
    import subprocess

    path = STATE / "hf" / "models" / org / repo
    path.mkdir(parents=True, exist_ok=True)
    git = ["git", "-C", str(path), "-c", "user.name=modelops-tests",
           "-c", "user.email=tests@modelops.invalid"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    for name, data in files.items():
        (path / name).write_bytes(data)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "model"], check=True)


HF_ENDPOINT = "http://hf.kube-system.svc.cluster.local:8090"
