"""The API server restarts in the middle of a rollout: the operator reconnects and converges."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.kube import ROOT, Kube
from tests.support.manifests import served
from tests.support.operator import OperatorProcess
from tests.support.rollout import stable_on_v1
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration
STATE = Path(os.environ.get("MODELOPS_CLUSTER_DIR", ROOT / ".localcluster"))


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def restart_apiserver(kube: Kube) -> float:
    """SIGKILL kube-apiserver (a crash: no graceful closing of watches), start it again with
    the same arguments; returns the seconds it was away."""
    pid_file = STATE / "pids" / "kube-apiserver"
    pid = int(pid_file.read_text())
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    down = time.monotonic()
    os.killpg(pid, signal.SIGKILL)
    port = int(next(a for a in argv if a.startswith(b"--secure-port=")).split(b"=")[1])
    # The leader thread turns zombie before the others let go of the socket: wait for the port.
    wait_for(lambda: _port_free(port), timeout=30, what="kube-apiserver's port released")
    with open(STATE / "logs" / "kube-apiserver.log", "ab") as log:
        proc = subprocess.Popen([a.decode() for a in argv], stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    pid_file.write_text(str(proc.pid))
    wait_for(lambda: kube.kubectl("get", "--raw", "/readyz", check=False).returncode == 0,
             timeout=60, interval=0.5, what="kube-apiserver ready again")
    return time.monotonic() - down


def test_rollout_survives_an_api_server_restart(kube: Kube, operator: OperatorProcess,
                                                namespace: str) -> None:
    m = stable_on_v1(kube, namespace, strategy={"canary": {"steps": [
        {"setWeight": 50}, {"pause": {"duration": "5s"}}]}})
    m.patch({"targetVersion": "2"})
    m.wait("in the pause", currentStepIndex=1)
    away = restart_apiserver(kube)
    st = m.wait("promoted after the restart", timeout=120, phase="Promoted", stableVersion="2")
    assert [h["version"] for h in st["history"]] == ["2", "1"]
    # Watches were re-established: a version created now is noticed and served.
    kube.create(namespace, served("late-v1", "late", "1"))
    wait_for(lambda: ((kube.get_mv(namespace, "late-v1") or {}).get("status") or {})
             .get("phase") == "Ready", timeout=120, what="a new version served after restart")
    assert operator.proc is not None and operator.proc.poll() is None
    print(f"\nAPI server away for {away:.1f}s; rollout promoted and watches resumed")
