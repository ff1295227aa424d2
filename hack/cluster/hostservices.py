"""The services the cluster's pods use from the host, started with the cluster: a real
S3-compatible server and a local Hugging Face hub (see realnode.HOST_SERVICES for how pods
reach them)."""

from __future__ import annotations

import json
import os
import secrets
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import realnode

if TYPE_CHECKING:
    from localcluster import Cluster


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def start_s3(cluster: Cluster, binary: Path, port: int) -> None:
    """A real S3-compatible server (Versity's gateway on a folder) for model artifacts:
    on the host at 127.0.0.1:port, in the cluster at s3.kube-system.svc:9000. Its root
    keys are made per cluster and kept in s3.json, readable by root only."""
    data = cluster.state / "s3"
    data.mkdir(exist_ok=True)
    cfg = {"endpoint": f"http://127.0.0.1:{port}",
           "inCluster": f"http://s3.kube-system.svc.cluster.local:{realnode.HOST_SERVICES['s3']}",
           "accessKey": "modelops" + secrets.token_hex(4),
           "secretKey": secrets.token_urlsafe(24), "region": "us-east-1"}
    info = cluster.state / "s3.json"
    info.touch(mode=0o600)
    info.write_text(json.dumps(cfg, indent=2))
    env = {**os.environ, "ROOT_ACCESS_KEY_ID": cfg["accessKey"],
           "ROOT_SECRET_ACCESS_KEY": cfg["secretKey"]}
    cluster._start("s3", [str(binary), "--port", f"127.0.0.1:{port}", "--quiet", "posix",
                          "--nometa", str(data)], env=env)
    cluster._wait("the S3 server", lambda: port_open(port), 20, "s3")


def start_hf(cluster: Cluster, olah: Path, port: int) -> None:
    """A local Hugging Face hub for hf:// artifacts: olah (a self-hosted hub mirror, from
    PyPI) offline, serving the git repositories under hf/<models|datasets>/<org>/<repo>;
    in the cluster at hf.kube-system.svc:8090 (HF_ENDPOINT)."""
    repos = cluster.state / "hf"
    (repos / "models").mkdir(parents=True, exist_ok=True)
    netloc = f"hf.kube-system.svc.cluster.local:{realnode.HOST_SERVICES['hf']}"
    cfg = cluster.state / "olah.toml"
    cfg.write_text(f"""[basic]
host = "127.0.0.1"
port = {port}
mirror-netloc = "{netloc}"
mirror-lfs-netloc = "{netloc}"
mirrors-path = ["{repos}"]
repos-path = "{cluster.state / 'hf-cache'}"
[accessibility]
offline = true
""")
    cluster._start("hf", [str(olah), "-m", "olah.server", "-c", str(cfg),
                          "--log-path", str(cluster.logs / "olah")],
                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
    cluster._wait("the local Hugging Face hub", lambda: port_open(port), 30, "hf")
