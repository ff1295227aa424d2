"""`make bench` (part): autoscaling on the real node, results in bench/results/autoscaling.json.

KEDA and metrics-server (built here) on the real node; the example model on it, its replicas
driven by spec.autoscaling; a load generator pod steps the load up, holds it, and steps it
down to a light closed-loop client. Two scalers side by side in one run, medians of repeats:
- in-flight: the `requests-in-flight` template (KEDA's prometheus trigger on a real
  Prometheus scraping the pods), target 2 per pod, each answer taking 0.5 s;
- cpu: the `cpu` template (KEDA's cpu trigger: an HPA on the resource metrics API, i.e.
  metrics-server), target 50% of a 100m request, each answer burning 20 ms of CPU.
Figures: load step -> added capacity serving, in two parts: the scaler's (step -> the HPA
writes spec.replicas: Prometheus' scrape or metrics-server's resolution, then the HPA's
15 s sync) and the pod's (-> the new pods ready); requests failed while scaling up and
while scaling down (goal 0); and, at a 50% canary step, the canary's share of answers while
the model scales 2 -> 4 on each scaler (goal: within 5 points).

    python bench/autoscaling.py [--repeats 3] [--only RUN ...]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import harness
import report
from tests.support.bridge import InNode
from tests.support.kube import Kube
from tests.support.loadgen import LoadGen, iris_model, share
from tests.support.prometheus import serving_pods_prometheus
from tests.support.rollout import Model
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- autoscaling:start -->", "<!-- autoscaling:end -->"
RESULT = ROOT / "bench" / "results" / "autoscaling.json"
RUNS = ["in-flight", "cpu", "canary-in-flight", "canary-cpu"]
SCALERS: dict[str, dict[str, Any]] = {
    "in-flight": {"metric": {"template": "requests-in-flight", "target": 2},
                  "server": {"latency": 0.5}, "rate": 12, "open": True},
    "cpu": {"metric": {"template": "cpu", "target": 50},
            "server": {"work_ms": 20}, "rate": 12, "open": True},
}


def autoscalers() -> Any:
    spec = importlib.util.spec_from_file_location(
        "autoscalers", ROOT / "hack" / "cluster" / "autoscalers.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.Autoscalers()


def ready(kube: Kube, ns: str, version: str) -> int:
    dep = kube.apps.read_namespaced_deployment(f"iris-{version}", ns)
    return int(dep.status.ready_replicas or 0)


def total(m: Model) -> int:
    return int((m.kube.get_up(m.ns, m.model) or {})["spec"]["replicas"])


def scaling_run(kube: Kube, ns: str, name: str, prom_url: str) -> dict[str, Any]:
    how = SCALERS[name]
    m = iris_model(kube, ns, ["1"], 1, **how["server"], autoscaling={
        "minReplicas": 1, "maxReplicas": 4, "scaleDownStabilizationSeconds": 30,
        "prometheus": {"address": prom_url}, "metrics": [how["metric"]]})
    wait_for(lambda: m.status().get("scaler") == "iris", timeout=60, what="the ScaledObject")
    time.sleep(20)  # the HPA's first looks, at rest
    step = time.time()
    heavy = LoadGen(kube, ns, "iris", 80, "iris", rate=how["rate"], name="heavy",
                    open_loop=how["open"])
    wait_for(lambda: total(m) > 1, timeout=240, interval=0.5, what=f"{name}: the HPA scaling")
    written = time.time()
    wait_for(lambda: ready(kube, ns, "1") > 1, timeout=240, interval=0.5,
             what=f"{name}: a new pod ready")
    serving = time.time()
    wait_for(lambda: ready(kube, ns, "1") >= total(m), timeout=240, interval=0.5,
             what=f"{name}: all pods ready")
    peak = total(m)
    time.sleep(10)
    ramped = time.time()
    up_answers = heavy.answers(since=step, until=ramped)  # its log goes with its pod
    heavy.stop()
    light = LoadGen(kube, ns, "iris", 80, "iris", rate=1, name="light")
    wait_for(lambda: total(m) == 1 and ready(kube, ns, "1") == 1, timeout=300, interval=1,
             what=f"{name}: back to 1")
    down = time.time()
    time.sleep(5)
    down_answers = light.answers(since=ramped, until=time.time())
    light.stop()
    return {"scaler_s": written - step, "pod_s": serving - written, "total_s": serving - step,
            "peak": peak, "down_s": down - ramped,
            "failed_up": sum(a.code != 200 for a in up_answers), "answers_up": len(up_answers),
            "failed_down": sum(a.code != 200 for a in down_answers),
            "answers_down": len(down_answers)}


def canary_run(kube: Kube, ns: str, prom_url: str, scaler: str) -> dict[str, Any]:
    how = SCALERS[scaler]
    m = iris_model(kube, ns, ["1", "2"], 2, [{"setWeight": 50}, {"pause": {}}], **how["server"],
                   autoscaling={"minReplicas": 2, "maxReplicas": 4,
                                "prometheus": {"address": prom_url}, "metrics": [how["metric"]]})
    m.patch({"targetVersion": "2"})
    m.wait("paused at 50%", timeout=180, phase="Paused", actualCanaryWeight=50)
    start = time.time()
    load = LoadGen(kube, ns, "iris", 80, "iris", rate=16, name="heavy", open_loop=True)
    wait_for(lambda: ready(kube, ns, "1") + ready(kube, ns, "2") >= 4, timeout=240,
             what="4 ready pods at the 50% step")
    scaled = time.time()
    time.sleep(15)
    answers = load.answers(since=start, until=time.time())
    load.stop()
    return {"share_scaling": share([a for a in answers if a.t < scaled], "2"),
            "share_after": share([a for a in answers if a.t >= scaled + 2], "2"),
            "failed": sum(a.code != 200 for a in answers), "answers": len(answers),
            "scaled_s": scaled - start}


def med(rows: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in rows) if rows else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", nargs="+", choices=RUNS, help="measure these runs again, keep "
                    "the others from bench/results/autoscaling.json")
    args = ap.parse_args()
    kube = harness.cluster()
    work = Path(tempfile.mkdtemp(prefix="modelops-autoscaling-"))
    scalers = autoscalers()
    scalers.up()
    op = harness.operator(harness.install_identity(kube, work))
    names = args.only or RUNS
    old = json.loads(RESULT.read_text()) if args.only and RESULT.exists() else {}
    runs: dict[str, list[dict[str, Any]]] = {
        n: [] if n in names else old.get("runs", {}).get(n, []) for n in RUNS}
    try:
        for i in range(args.repeats):
            for name in names:
                ns = harness.fresh_namespace(kube, f"bench-scale-{name}-{i}")
                prom = serving_pods_prometheus(work / f"prom-{ns}", kube.kubeconfig, ns)
                bridge = InNode(kube, ns, "prometheus", prom.port)
                try:
                    runs[name].append(
                        canary_run(kube, ns, bridge.url, name.removeprefix("canary-"))
                        if name.startswith("canary-") else
                        scaling_run(kube, ns, name, bridge.url))
                finally:
                    bridge.close()
                    prom.stop()
                harness.log(f"{name} run {i + 1}/{args.repeats}: {runs[name][-1]}")
                harness.wait_gone(kube, ns)
    finally:
        op.stop()
        harness.remove_identity(kube)
        scalers.down()
    summary = {name: {k: med(rows, k) for k in rows[0]} for name, rows in runs.items() if rows}
    # --only: the other runs are kept from the file, with the commit that measured them.
    kept = {n: old.get("measured") for n in RUNS if n not in names and n in runs and runs[n]}
    harness.save("autoscaling", {"summary": summary, "runs": runs, "repeats": args.repeats,
                                 **({"kept_from": kept} if kept else {})})
    text = table(summary, args.repeats)
    print(text)
    report.update_docs(text, START, END)
    return 0


def table(s: dict[str, dict[str, float]], repeats: int) -> str:
    lines = [f"Autoscaling on the real node (KEDA and metrics-server built here; the example "
             f"server, 1 to 4 replicas; median of {repeats} runs each, "
             f"{time.strftime('%Y-%m-%d')}, commit {harness.commit()}):", "",
             "| figure | in flight (KEDA, Prometheus) | CPU (HPA, metrics-server) | goal |",
             "|---|---|---|---|"]
    f, c = s["in-flight"], s["cpu"]

    def row(label: str, key: str, fmt: str, goal: str = "") -> None:
        lines.append(f"| {label} | {format(f[key], fmt)} | {format(c[key], fmt)} | {goal} |")
    row("load step -> added capacity serving (s)", "total_s", ".1f")
    row("  of which the scaler: step -> spec.replicas written (s)", "scaler_s", ".1f")
    row("  of which the pod: written -> a new pod ready (s)", "pod_s", ".1f")
    row("replicas at the peak", "peak", ".0f")
    row("requests failed while scaling up", "failed_up", ".0f", "0")
    row("load gone -> back to 1 replica (s; window 30 s)", "down_s", ".1f")
    row("requests failed while scaling down", "failed_down", ".0f", "0")
    lines.append("")
    for name, what in (("canary-in-flight", "requests in flight"), ("canary-cpu", "CPU")):
        if name not in s:
            lines.append(f"At a 50% canary step on {what}: not measured yet.")
            continue
        k = s[name]
        lines.append(f"At a 50% canary step, scaled 2 -> 4 replicas on {what} in "
                     f"{k['scaled_s']:.1f} s: the canary answered {k['share_scaling']:.1f}% "
                     f"while scaling and {k['share_after']:.1f}% after (goal: within 5 points "
                     f"of 50); {k['failed']:.0f} of {k['answers']:.0f} requests failed.")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
