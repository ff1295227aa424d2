"""Faults a test does to the local cluster's own processes: a process killed (SIGKILL, a crash)
and started again as the cluster started it (hack/cluster/localcluster.py `restart`)."""

from __future__ import annotations

import sys
from pathlib import Path

from .kube import Kube
from .waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "hack" / "cluster"))
import localcluster  # noqa: E402


def restart(name: str) -> float:
    """SIGKILL one of the cluster's processes and start it again; seconds it was away."""
    return float(localcluster.Cluster().restart(name))


def restart_apiserver(kube: Kube) -> float:
    """The API server crashed and back, ready; the seconds it was away."""
    away = restart("kube-apiserver")
    wait_for(lambda: kube.kubectl("get", "--raw", "/readyz", check=False).returncode == 0,
             timeout=60, interval=0.5, what="kube-apiserver ready again")
    return away
