"""Faults a test does to the local cluster's own processes: a process killed (SIGKILL, a crash)
and started again as the cluster started it (hack/cluster/localcluster.py `restart`), and the
seconds until it serves again."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
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


# When the API server was away (wall-clock start, end): a restarted API server refuses
# requests (403) until its RBAC informers have synced, so a refusal in an operator's log then
# is the restart's, not a missing rule (see refusals()).
APISERVER_AWAY: list[tuple[float, float]] = []
RBAC_SYNC_GRACE = 10.0


def restart_apiserver(kube: Kube) -> float:
    """The API server crashed and back, ready; the seconds it was away."""
    began = time.time()
    try:
        return restart("kube-apiserver", kube)
    finally:
        APISERVER_AWAY.append((began, time.time() + RBAC_SYNC_GRACE))


STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3})\]")


def refusals(log: str, user: str) -> list[str]:
    """The log's lines where the API server refused `user`, but for those of a restart
    (a line without a timestamp, a traceback's, belongs to the last stamped line)."""
    out, at = [], 0.0
    for line in log.splitlines():
        if m := STAMP.match(line):
            at = datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S").timestamp() + int(m[2]) / 1000
        if f'User "{user}" cannot' in line and not any(
                a <= at <= b for a, b in APISERVER_AWAY):
            out.append(line)
    return out
