"""Faults a test does to the local cluster's own processes: a process killed (SIGKILL, a crash)
and started again as the cluster started it (hack/cluster/localcluster.py `restart`), and the
seconds until it serves again."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .kube import Kube
from .waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "hack" / "cluster"))
import localcluster  # noqa: E402
import realnode  # noqa: E402

SOCKET = ROOT / ".localcluster" / "node" / "containerd.sock"


def _ok(argv: list[str]) -> bool:
    return subprocess.run(argv, capture_output=True, timeout=10).returncode == 0


def _in_node(url: str) -> list[str]:
    return ["nsenter", f"--net={realnode.NETNS_PATH}", sys.executable, "-c",
            f"import urllib.request as u; u.urlopen({url!r}, timeout=2)"]


def serving(name: str, kube: Kube) -> Callable[[], bool]:
    """Whether the process answers again, as its clients would ask it."""
    return {
        "kube-apiserver": lambda: kube.kubectl("get", "--raw", "/readyz",
                                               check=False).returncode == 0,
        "containerd": lambda: _ok(["ctr", f"--address={SOCKET}", "version"]),
        "kubelet": lambda: _ok(_in_node("http://127.0.0.1:10248/healthz")),
    }[name]


def restart(name: str, kube: Kube) -> float:
    """SIGKILL one of the cluster's processes, start it again, and wait until it serves;
    returns the seconds from the kill until then."""
    started = time.monotonic()
    localcluster.Cluster().restart(name)
    wait_for(serving(name, kube), timeout=60, interval=0.2, what=f"{name} serving again")
    return time.monotonic() - started


def restart_apiserver(kube: Kube) -> float:
    """The API server crashed and back, ready; the seconds it was away."""
    return restart("kube-apiserver", kube)
