"""What every benchmark needs: the cluster, an audited operator identity, process gauges.

The operator runs as the chart's ServiceAccount (tests/support/identity.py), whose requests
the local API server writes to its audit log: that is how requests are counted, by verb and
user agent, from the API server's side.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "operator"), str(ROOT), str(ROOT / "hack" / "cluster")]

import localcluster  # noqa: E402
from tests.support.identity import ChartIdentity  # noqa: E402
from tests.support.kube import Kube  # noqa: E402
from tests.support.operator import OperatorProcess  # noqa: E402
from tests.support.waiting import wait_for  # noqa: E402

CLUSTER = Path(os.environ.get("MODELOPS_CLUSTER_DIR", ROOT / ".localcluster"))
NS = "modelops-system"
USER = f"system:serviceaccount:{NS}:modelops"
WRITES = {"create", "update", "patch", "delete", "deletecollection"}


RESULTS = ROOT / "bench" / "results"


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True,
                          text=True).stdout.strip()


def commit() -> str:
    """The commit measured, with `+` where the code measured had changes beyond it."""
    dirty = bool(_git("status", "--porcelain", "--", "operator", "bench", "hack", "charts"))
    return _git("rev-parse", "--short", "HEAD") + ("+" if dirty else "")


def save(name: str, data: dict[str, Any]) -> Path:
    """bench/results/NAME.json, with what measured it: the commit (and whether the tree had
    changes beyond it) and the time. Every figure in README.md and docs/ comes from one."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path, measured = RESULTS / f"{name}.json", commit()
    path.write_text(json.dumps({**data, "measured": {
        "commit": measured.rstrip("+"), "dirty": measured.endswith("+"),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}}, indent=2) + "\n")
    return path


@contextlib.contextmanager
def without_policy_agent() -> Iterator[None]:
    """The cluster without the real node's NetworkPolicy agent (kube-router) for a while.

    It watches every pod of the cluster, kwok's included, and re-syncs the node's iptables on
    each change: in a burst of thousands of simulated pods it took most of a core from the
    operator and the baseline alike (the 5000 burst ran several times slower). On a real
    cluster that agent runs on the nodes, not beside the control plane, so the scale runs
    leave it out; it is started again as it was afterwards."""
    c = localcluster.Cluster()
    c.stop(["kube-router"])
    try:
        yield
    finally:
        c.resume("kube-router")


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def cluster() -> Kube:
    subprocess.run([sys.executable, str(ROOT / "hack" / "cluster" / "localcluster.py"), "up"],
                   check=True)
    kube = Kube(str(CLUSTER / "kubeconfig"))
    kube.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
    return kube


def add_nodes(kube: Kube, count: int = 12) -> None:
    """Roomy kwok nodes of the benchmark's own: the default four hold about 1000 pods."""
    nodes = [{"apiVersion": "v1", "kind": "Node",
              "metadata": {"name": f"bench-node-{i}",
                           "labels": {"type": "kwok", "kubernetes.io/hostname": f"bench-node-{i}",
                                      "kubernetes.io/os": "linux"},
                           "annotations": {"kwok.x-k8s.io/node": "fake"}},
              "status": {"allocatable": (cap := {"cpu": "1000", "memory": "4Ti", "pods": "1000"}),
                         "capacity": cap}} for i in range(count)]
    kube.kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List",
                                                       "items": nodes}))


def remove_nodes(kube: Kube) -> None:
    names = kube.kubectl("get", "nodes", "-o", "name", check=False).stdout.split()
    bench = [n for n in names if n.startswith("node/bench-node-")]
    if bench:
        kube.kubectl("delete", *bench, "--wait=false", check=False)


def install_identity(kube: Kube, workdir: Path) -> str:
    """The chart's ServiceAccount and RBAC for a release in the audited namespace (the
    benchmark runs the operator itself); returns a kubeconfig with that account's token."""
    identity = ChartIdentity(kube, "modelops", NS)
    identity.install()
    return identity.kubeconfig(workdir / "operator.kubeconfig")


def remove_identity(kube: Kube) -> None:
    ChartIdentity(kube, "modelops", NS).remove()


def operator(kubeconfig: str, **env: str) -> OperatorProcess:
    op = OperatorProcess(kubeconfig, CLUSTER / "logs", env=env)
    op.start()
    return op


class Proc:
    """CPU seconds and memory of a process, from /proc."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.tick = os.sysconf("SC_CLK_TCK")

    def cpu(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / self.tick

    def _kib(self, key: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        return 0

    def rss_mib(self) -> float:
        return self._kib("VmRSS") / 1024

    def peak_rss_mib(self) -> float:
        return self._kib("VmHWM") / 1024


def control_plane_cpu() -> dict[str, float]:
    """CPU seconds used so far by each process of the local cluster (etcd, API server, ...)."""
    out = {}
    for f in sorted((CLUSTER / "pids").iterdir()):
        try:
            out[f.name] = Proc(int(f.read_text())).cpu()
        except (OSError, ValueError):  # a process that is gone counts for nothing
            continue
    return out


def cpu_since(before: dict[str, float]) -> dict[str, float]:
    now = control_plane_cpu()
    return {k: round(now[k] - before.get(k, 0.0), 2) for k in now}


class Audit:
    """Requests of the operator's ServiceAccount, read from the API server's audit log."""

    def __init__(self) -> None:
        self.path = CLUSTER / "logs" / "audit.log"
        self.offset = 0

    def mark(self) -> None:
        self.offset = self.path.stat().st_size if self.path.exists() else 0

    def settled(self, quiet: float = 3.0, limit: float = 60.0) -> list[dict[str, Any]]:
        """What came since the mark, once no request has come for `quiet` seconds: events are
        posted from a queue, some time after the status they tell of."""
        deadline = time.monotonic() + limit
        seen = -1
        while time.monotonic() < deadline:
            evs = self.since_mark()
            if len(evs) == seen:
                return evs
            seen = len(evs)
            time.sleep(quiet)
        return self.since_mark()

    def since_mark(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            lines = f.read().splitlines()
        out = []
        for line in lines:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if ev.get("user", {}).get("username") != USER:
                continue
            # A watch is counted when it starts; everything else when it is answered.
            if ev.get("stage") == ("ResponseStarted" if ev.get("verb") == "watch"
                                   else "ResponseComplete"):
                out.append(ev)
        return out


def count(events: Iterable[dict[str, Any]]) -> dict[str, Any]:
    evs = list(events)
    verbs = Counter(e["verb"] for e in evs)
    agents = Counter((e.get("userAgent") or "?").split("/")[0].split(" ")[0] for e in evs)
    writes = Counter(f'{e["verb"]} {(e.get("objectRef") or {}).get("resource", "?")}'
                     for e in evs if e["verb"] in WRITES)
    return {"total": len(evs), "reads": sum(v for k, v in verbs.items() if k not in WRITES),
            "writes": sum(v for k, v in verbs.items() if k in WRITES),
            "by_verb": dict(verbs), "by_agent": dict(agents), "writes_by_resource": dict(writes),
            # Which objects: a write outside the benchmark's namespace means the cluster held
            # more than the benchmark made (a leftover of a test or the demo).
            "writes_to": sorted({_ref(e) for e in evs if e["verb"] in WRITES})[:20]}


def _ref(e: dict[str, Any]) -> str:
    ref = e.get("objectRef") or {}
    return (f'{e["verb"]} {ref.get("resource", "?")} '
            f'{ref.get("namespace", "")}/{ref.get("name", "")}')


def summary(values: list[float]) -> dict[str, float]:
    """Median and spread (min, max) of repeated measurements."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def fresh_namespace(kube: Kube, name: str) -> str:
    wait_gone(kube, name, operator_runs=False)
    kube.kubectl("create", "namespace", name)
    return name


def wait_gone(kube: Kube, ns: str, timeout: float = 900, operator_runs: bool = True) -> None:
    kube.kubectl("delete", "namespace", ns, "--wait=false", "--ignore-not-found", check=False)
    if not operator_runs:  # left by an interrupted run: nobody will remove our finalizers
        for kind in ("modelversions", "updatepolicies"):
            names = kube.kubectl("get", kind, "-n", ns, "-o", "name", check=False).stdout.split()
            for name in names:
                kube.kubectl("patch", name, "-n", ns, "--type=merge",
                             "-p", '{"metadata":{"finalizers":null}}', check=False)
    wait_for(lambda: kube.kubectl("get", "namespace", ns, check=False).returncode != 0,
             timeout=timeout, interval=1, what=f"namespace {ns} gone")
