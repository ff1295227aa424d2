"""A real Prometheus (Debian's package) on loopback, scraping the tests' emitters every 1s."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from .waiting import wait_for


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Prometheus:
    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            raise RuntimeError("prometheus is not installed: run hack/install-debs.sh "
                               "(make test does)")
        self.binary = binary
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.targets_file = self.dir / "targets.json"
        self._targets: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._write_targets()
        (self.dir / "prometheus.yml").write_text(json.dumps({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [{
                "job_name": "model-servers",
                "scrape_interval": "1s", "scrape_timeout": "900ms",
                "file_sd_configs": [{"files": [str(self.targets_file)],
                                     "refresh_interval": "1s"}],
            }],
        }))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = open(self.dir / "prometheus.log", "ab")  # noqa: SIM115 (the child owns it)
        self.proc = subprocess.Popen(
            [self.binary, f"--config.file={self.dir / 'prometheus.yml'}",
             f"--storage.tsdb.path={self.dir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_for(self.ready, timeout=30, what="Prometheus ready")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.address}/-/ready", timeout=1) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def add_target(self, port: int, **labels: str) -> None:
        with self._lock:
            self._targets[f"127.0.0.1:{port}"] = labels
            self._write_targets()

    def remove_target(self, port: int) -> None:
        with self._lock:
            self._targets.pop(f"127.0.0.1:{port}", None)
            self._write_targets()

    def _write_targets(self) -> None:
        groups = [{"targets": [t], "labels": labels} for t, labels in self._targets.items()]
        tmp = self.targets_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(groups))
        tmp.replace(self.targets_file)  # atomic: Prometheus never reads half a file

    def query(self, promql: str) -> list[Any]:
        url = f"{self.address}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(url, timeout=5) as r:
            return list(json.loads(r.read())["data"]["result"])
