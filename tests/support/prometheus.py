"""A real Prometheus on loopback, built from its module with Kubernetes service discovery
(hack/cluster/build.sh), scraping every 1s: the tests' emitters on the host, and
(serving_pods_prometheus) the real node's serving pods, discovered through the API server and
scraped through nodelink's HTTP proxy: the node's addresses exist only inside its network
namespace."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from .node import STATE
from .waiting import wait_for


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


ROOT = Path(__file__).resolve().parents[2]
RELABEL = ROOT / "charts" / "modelops" / "files" / "serving-relabel.yaml"


def built(tool: str = "prometheus") -> str:
    """`prometheus` or `promtool`, built from Prometheus's module by hack/cluster/build.sh
    (Debian's has no Kubernetes service discovery)."""
    env = dict(line.split("=", 1) for line in (ROOT / "hack" / "cluster" / "versions.env")
               .read_text().splitlines() if "=" in line and not line.startswith("#"))
    path = (Path.home() / ".cache" / "modelops" / f"prometheus-{env['PROMETHEUS_MODULE_VERSION']}"
            / "bin" / tool)
    if not path.exists():
        raise RuntimeError(f"{path} is missing: `make binaries` builds it")
    return str(path)


def snake(relabel: dict[str, Any]) -> dict[str, Any]:
    """A Prometheus Operator RelabelConfig as Prometheus's own relabel_configs entry."""
    names = {"sourceLabels": "source_labels", "targetLabel": "target_label"}
    return {names.get(k, k): v for k, v in relabel.items()}


def serving_pods_job(kubeconfig: str, namespace: str, node_proxy: str) -> dict[str, Any]:
    """What the chart's PodMonitor makes of a namespace's serving pods, as a Prometheus scrape
    job: discovered through the API server (kubernetes_sd, role pod), relabelled by the
    chart's own rules, scraped through the real node's proxy."""
    return {"job_name": "serving-pods", "scrape_interval": "1s", "scrape_timeout": "900ms",
            "proxy_url": node_proxy,
            "kubernetes_sd_configs": [{"role": "pod", "kubeconfig_file": kubeconfig,
                                       "namespaces": {"names": [namespace]}}],
            "relabel_configs": [snake(r) for r in yaml.safe_load(RELABEL.read_text())]}


def serving_pods_prometheus(workdir: Path, kubeconfig: str, namespace: str) -> Prometheus:
    """A started Prometheus (built with Kubernetes SD) scraping `namespace`'s serving pods on
    the real node, as the chart's PodMonitor would (serving_pods_job)."""
    cluster = json.loads((STATE / "cluster.json").read_text())
    proxy = f"http://127.0.0.1:{cluster['ports']['node_proxy']}"
    prom = Prometheus(workdir, jobs=[serving_pods_job(kubeconfig, namespace, proxy)])
    prom.start()
    return prom


class Prometheus:
    def __init__(self, workdir: Path, jobs: list[dict[str, Any]] | None = None) -> None:
        self.binary = built()
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.targets_file = self.dir / "targets.json"
        self._targets: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._write_targets()
        emitters = {  # the tests' emitters on the host (add_target)
            "job_name": "model-servers",
            "scrape_interval": "1s", "scrape_timeout": "900ms",
            "file_sd_configs": [{"files": [str(self.targets_file)], "refresh_interval": "1s"}],
        }
        (self.dir / "prometheus.yml").write_text(json.dumps({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [emitters, *(jobs or [])]}))
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
        self._write(self.targets_file, self._targets)

    @staticmethod
    def _write(path: Path, targets: dict[str, dict[str, Any]]) -> None:
        groups = [{"targets": [t], "labels": labels} for t, labels in targets.items()]
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(groups))
        tmp.replace(path)  # atomic: Prometheus never reads half a file

    def query(self, promql: str) -> list[Any]:
        url = f"{self.address}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(url, timeout=5) as r:
            return list(json.loads(r.read())["data"]["result"])
