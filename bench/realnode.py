"""`make bench` (last part): the real node's costs, printed and written to
bench/results/realnode.json and docs/benchmarks.md (between the realnode markers).

- set-up: `hack/images/build.sh` with every image cached, and a warm `cluster down` + `up`;
- start-up: ModelVersion created -> Ready for the example model server on the real node (its
  pod's timeline: scheduled, artifact fetched, server started, ready), beside the same version
  on a kwok node;
- memory: the control plane's and the node's processes (RSS) and the node's pods (their
  cgroup), idle and with the example model served.

    python bench/realnode.py [--versions 3] [--no-cycle]
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import harness
from tests.support import node
from tests.support.manifests import model_version

ROOT = harness.ROOT
DOCS = ROOT / "docs" / "benchmarks.md"
NODE_PROCS = ("kubelet", "containerd", "kube-proxy", "kube-router", "nodelink")
CONTROL_PLANE = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")


def timed(argv: list[str]) -> float:
    t0 = time.monotonic()
    subprocess.run(argv, check=True, capture_output=True)
    return time.monotonic() - t0


def _ts(text: Any) -> float:
    return text.timestamp() if isinstance(text, datetime) else datetime.fromisoformat(
        str(text).replace("Z", "+00:00")).timestamp()


def startup(kube: Any, ns: str, name: str, spec: dict[str, Any], real: bool) -> dict[str, float]:
    t0 = time.time()
    model, version = name.rsplit("-", 1)  # real-1, kwok-1: one model per kind of node
    kube.create(ns, model_version(name, model, version, **spec))
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        st = (kube.get_mv(ns, name) or {}).get("status") or {}
        if st.get("phase") == "Ready":
            break
        time.sleep(0.1)
    else:
        raise SystemExit(f"{name} not Ready in 300s")
    out = {"ready_s": time.time() - t0}
    if real:
        pod = kube.core.list_namespaced_pod(
            ns, label_selector=f"modelops.io/model={model},modelops.io/version={version}"
        ).items[0]
        conds = {c.type: _ts(c.last_transition_time) for c in pod.status.conditions}
        created = _ts(pod.metadata.creation_timestamp)
        fetched = pod.status.init_container_statuses[0].state.terminated.finished_at
        started = pod.status.container_statuses[0].state.running.started_at
        out.update(pod_to_fetched_s=_ts(fetched) - created,
                   pod_to_started_s=_ts(started) - created,
                   pod_to_ready_s=conds["Ready"] - created)
    return out


def memory_mib() -> dict[str, float]:
    pids = {p.name: int(p.read_text()) for p in (ROOT / ".localcluster" / "pids").iterdir()}
    out = {"control plane": sum(_rss(pids.get(name, 0)) for name in CONTROL_PLANE)}
    for name in NODE_PROCS:
        out[name] = _rss(pids.get(name, 0))
    sock = str(ROOT / ".localcluster" / "node" / "containerd.sock").encode()
    shims = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()
             and _cmd(p).startswith(b"/usr/bin/containerd-shim-runc-v2") and sock in _cmd(p)]
    out["shims"] = sum(_rss(p) for p in shims)
    usage = Path("/sys/fs/cgroup/memory/modelops-node/kubepods/memory.usage_in_bytes")
    out["pods (cgroup)"] = int(usage.read_text()) / 2**20 if usage.exists() else 0.0
    return out


def _cmd(p: Path) -> bytes:
    try:
        return (p / "cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return b""


def _rss(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def markdown(r: dict[str, Any]) -> str:
    s = r["startup"]
    rows = [
        "| real node | value |", "| --- | --- |",
        f"| images, all cached (`hack/images/build.sh`) | {r['images_warm_s']:.1f} s |",
    ]
    if r.get("cycles"):
        down, up = (harness.summary([c[k] for c in r["cycles"]]) for k in ("down_s", "up_s"))
        rows += [f"| warm `cluster-down` (n={down['n']}) | {fmt_range(down)} |",
                 f"| warm `cluster-up` (control plane, kwok, real node, images loaded; "
                 f"n={up['n']}) | {fmt_range(up)} |"]
    real = harness.summary([x["ready_s"] for x in s["real"]])
    kwok = harness.summary([x["ready_s"] for x in s["kwok"]])
    rows += [
        f"| ModelVersion created -> Ready, real node (example model server, http artifact "
        f"with digest; n={len(s['real'])}) | median {real['median']:.1f} s, "
        f"max {real['max']:.1f} s |",
        f"| ... the same version on a kwok node | median {kwok['median']:.1f} s |",
    ]
    for key, label in (("pod_to_fetched_s", "pod created -> artifact fetched"),
                       ("pod_to_started_s", "pod created -> server started"),
                       ("pod_to_ready_s", "pod created -> pod Ready")):
        v = harness.summary([x[key] for x in s["real"]])
        rows.append(f"| {label} | median {v['median']:.1f} s |")
    for key, when in (("memory_idle_mib", "idle"), ("memory_mib", "serving 3 versions")):
        if key in r:
            mem = r[key]
            rows.append(f"| memory, {when}: " + ", ".join(f"{k} {v:.0f}" for k, v in mem.items())
                        + f" | {sum(mem.values()):.0f} MiB in all |")
    return "\n".join(rows)


def fmt_range(s: dict[str, float]) -> str:
    return f"{s['min']:.1f} - {s['max']:.1f} s" if s["n"] > 1 else f"{s['median']:.1f} s"


def update_docs(table: str) -> None:
    text = DOCS.read_text()
    start, end = "<!-- realnode -->", "<!-- /realnode -->"
    block = f"{start}\n{table}\n{end}"
    if start in text:
        text = text[:text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text += f"\n### The real node\n{block}\n"
    DOCS.write_text(text)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--versions", type=int, default=3)
    ap.add_argument("--no-cycle", action="store_true", help="skip the cluster down/up timing")
    ap.add_argument("--cycles", type=int, default=3, help="warm down/up cycles timed")
    a = ap.parse_args()
    r: dict[str, Any] = {"date": time.strftime("%Y-%m-%d")}
    r["images_warm_s"] = timed(["bash", str(ROOT / "hack" / "images" / "build.sh")])
    if not a.no_cycle:
        lc = [sys.executable, str(ROOT / "hack" / "cluster" / "localcluster.py")]
        r["cycles"] = [{"down_s": timed([*lc, "down"]), "up_s": timed([*lc, "up"])}
                       for _ in range(a.cycles)]
    kube = harness.cluster()
    kube.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
    # Idle, before anything of the benchmark's runs: what the cluster costs by itself.
    r["memory_idle_mib"] = memory_mib()
    op = harness.operator(harness.install_identity(kube, Path(tempfile.mkdtemp())))
    ns = harness.fresh_namespace(kube, "bench-realnode")
    try:
        url, data = node.serve_example_model(kube, ns)
        artifact = {"uri": url, "digest": "sha256:" + hashlib.sha256(data).hexdigest()}
        serving = {"image": node.EXAMPLE_IMAGE, "port": 8080, "readinessPath": "/v2/health/ready"}
        r["startup"] = {
            "real": [startup(kube, ns, f"real-{i}", {"artifact": artifact, "serving": {
                **serving, **node.on_real_node()}}, True) for i in range(1, a.versions + 1)],
            "kwok": [startup(kube, ns, f"kwok-{i}", {"artifact": artifact, "serving": serving},
                             False) for i in range(1, a.versions + 1)]}
        r["memory_mib"] = memory_mib()
    finally:
        op.stop()
        harness.remove_identity(kube)
        kube.kubectl("delete", "namespace", ns, "--wait=false", check=False)
    harness.save("realnode", r)
    table = markdown(r)
    print(table)
    update_docs(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
