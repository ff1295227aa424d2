"""The operator as a real process (`kopf run`), started, killed and restarted by tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from .waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OperatorProcess:
    made = 0  # instances so far, so that two replicas never share a log file

    def __init__(self, kubeconfig: str, log_dir: Path, env: dict[str, str] | None = None,
                 extra_args: list[str] | None = None) -> None:
        self.kubeconfig = kubeconfig
        self.log_dir = log_dir
        self.env = env or {}
        self.extra_args = extra_args or []
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.starts = 0
        OperatorProcess.made += 1
        self.instance = OperatorProcess.made

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"operator-{os.getpid()}-{self.instance}-{self.starts}.log"

    def start(self) -> None:
        self.starts += 1
        self.port = _free_port()
        self.metrics_port = _free_port()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "KUBECONFIG": self.kubeconfig,
               "PYTHONPATH": str(ROOT / "operator"),
               "MODELOPS_METRICS_PORT": str(self.metrics_port),
               # A kind installed mid-test (KEDA's CRD) is seen within seconds, not a minute.
               "MODELOPS_MISSING_KIND_RECHECK": "5", **self.env}
        argv = [sys.executable, "-m", "kopf", "run", "-m", "modelops.handlers",
                "--all-namespaces", f"--liveness=http://127.0.0.1:{self.port}/healthz",
                *self.extra_args]
        if not any(a.startswith("--peering") for a in argv):
            # kopf would otherwise look for a "default" peering wherever its CRDs exist.
            argv.append("--standalone")
        with open(self.log_path, "wb") as log:  # the child keeps its own copy
            self.proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         cwd=ROOT, start_new_session=True)
        wait_for(self._healthy, timeout=60, what=f"operator liveness (log: {self.log_path})")

    @property
    def receivers_namespace(self) -> str:
        """Where notification receivers' Secrets are read from (as the chart sets it)."""
        return self.env.get("MODELOPS_RECEIVERS_NAMESPACE", "")

    def reach(self, namespace: str, name: str, port: int) -> str:
        """The URL at which this operator calls a server of the test's on the host's loopback
        (the same loopback: as it is)."""
        return f"http://127.0.0.1:{port}"

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics",
                                    timeout=5) as r:
            return str(r.read().decode())

    def _healthy(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            raise AssertionError(f"operator exited; log {self.log_path}:\n{self.tail()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: no cleanup, no chance to finish what it was doing."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self) -> None:
        self.kill()
        self.start()

    def tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def every_log(self) -> str:
        """The logs of every start of this operator, oldest first."""
        paths = [self.log_dir / f"operator-{os.getpid()}-{self.instance}-{n}.log"
                 for n in range(1, self.starts + 1)]
        return "".join(p.read_text(errors="replace") for p in paths if p.exists())

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for_log(self, needle: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.log_text():
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} not in operator log:\n{self.tail()}")
            time.sleep(0.2)
