"""The headline figures of README.md and docs/benchmarks.md, written from bench/results/*.json
(each names the commit and date that measured it): no figure is typed by hand, and
tests/unit/test_figures.py fails when the docs and the results disagree.

    python bench/figures.py          # rewrite the blocks between the figures markers
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
README = ROOT / "README.md"
BENCHMARKS = ROOT / "docs" / "benchmarks.md"
START = "<!-- figures:start: written by bench/figures.py from bench/results/, do not edit -->"
END = "<!-- figures:end -->"
RELIABILITY = ROOT / "docs" / "reliability.md"
FAULTS_START, FAULTS_END = "<!-- faults:start -->", "<!-- faults:end -->"
TARGETS_START = "<!-- targets:start: written by bench/figures.py, do not edit -->"
TARGETS_END = "<!-- targets:end -->"

Results = dict[str, Any]


def load(name: str) -> Results | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def med(s: dict[str, float], unit: str = " s", digits: int = 1) -> str:
    if s["n"] == 1:
        return f"{s['median']:.{digits}f}{unit}"
    return (f"{s['median']:.{digits}f}{unit} ({s['min']:.{digits}f}-{s['max']:.{digits}f}, "
            f"{s['n']} runs)")


def minutes(seconds: float | None) -> str:
    if seconds is None:
        return "not recorded"
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60)} s"


def _range(values: list[float], unit: str = " s") -> str:
    if len(values) == 1:
        return f"{values[0]:.1f}{unit}"
    return f"{min(values):.1f} - {max(values):.1f}{unit} ({len(values)} runs)"


def _partial(b: Results, names: list[str]) -> str:
    """What a cache that was not built from empty recorded: no cold figure, only those."""
    got = [f"{n} {minutes(b['parts'][n]['seconds'])}" for n in names if n in b["parts"]]
    return "not measured from an empty cache yet" + (
        f" (rebuilt since: {', '.join(got)})" if got else "")


def _builds_cluster(b: Results) -> str:
    if not b["cluster_binaries_complete"]:
        return _partial(b, [n for n in b["parts"] if not n.startswith("image-")])
    k8s = (b["parts"].get("kubernetes") or {}).get("seconds")
    return f"{minutes(b['cluster_binaries_s'])} wall (Kubernetes alone: {minutes(k8s)})"


def _builds_images(b: Results) -> str:
    if not b.get("images_complete"):
        return _partial(b, [n for n in b["parts"] if n.startswith("image-")])
    return minutes(b["images_s"])


def _cycle(r: Results) -> str:
    cycles = r.get("cycles") or []
    if not cycles:
        return "not measured"
    return (_range([c["up_s"] for c in cycles]) + " / " + _range([c["down_s"] for c in cycles]))


def _memory(r: Results) -> str:
    mem = r.get("memory_idle_mib")
    if not mem:
        return "not measured"
    node = sum(v for k, v in mem.items() if k not in ("control plane", "pods (cgroup)"))
    return (f"{sum(mem.values()):.0f} MiB (control plane {mem.get('control plane', 0):.0f}, "
            f"node processes {node:.0f}, pods {mem.get('pods (cgroup)', 0):.0f})")


def _startup(r: Results) -> str:
    real = [x["ready_s"] for x in r["startup"]["real"]]
    return f"{statistics.median(real):.1f} s median, {max(real):.1f} s max ({len(real)} versions)"


def _burst(s: Results) -> str:
    return (f"{med(s['operator_total_s'])}: {med(s['ratio'], 'x', 2)} a plain client creating "
            f"the same children ({s['baseline_total_s']['median']:.0f} s)")


def _costs(s: Results) -> str:
    return (f"{s['cpu_s']['median']:.0f} CPU-s, peak {s['peak_rss_mib']['median']:.0f} MiB, "
            f"{s['writes_per_mv']['median']:.2f} writes per version")


def _restart(s: Results) -> str:
    return (f"{s['startup_first_s']['median']:.1f} / {s['startup_all_s']['median']:.1f} s, "
            f"peak {s['startup_peak_rss_mib']['median']:.0f} MiB, "
            f"{s['startup_writes']['median']:.0f} writes")


def _idle(s: Results) -> str:
    i = s.get("idle") or {}
    return (f"{i['writes_per_min']:.1f} writes and {i['requests_per_min']:.1f} requests per "
            f"minute ({i['window_s']:.0f} s window)" if i else "not measured")


def _rollback(r: Results) -> str:
    return med(_summary([x["traffic_s"] for x in r["rollback"]]), digits=2)


def _step(r: Results) -> str:
    return med(_summary([x["overhead_per_step_s"] for x in r["steps"]]), digits=2)


def _ha(r: Results) -> str:
    return f"{med(r['summary'])} (peering lifetime {r['lifetime_s']} s)"


def _faults(r: Results) -> str:
    f = r["faults"]
    clean = sorted(k for k, v in f.items() if v["failed"] == 0)
    lossy = ", ".join(f"{k}: {v['failed']} of {v['answers']}" for k, v in sorted(f.items())
                      if v["failed"])
    return (f"0 failed requests in {len(clean)} of {len(f)} faults"
            + (f"; {lossy}" if lossy else ""))


def _campaign(r: Results) -> str:
    trials = list(r["trials"].values())
    parts = []
    for kind, when in (("rollout", "after the target changed"), ("training", "after creation")):
        at = [t["killed_after_s"] for t in trials if t["kind"] == kind]
        if at:
            parts.append(f"{len(at)} {kind}s killed {min(at):.1f}-{max(at):.1f} s {when}")
    return f"{len(trials)} trials passed: " + ", ".join(parts)


def _summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


def _llm(r: Results) -> str:
    c = r["client"]
    return (f"trained, evaluated and published by the gang in {r['trained_s']:.0f} s; a new "
            f"version ready from S3 {r['ready_s']['median']:.1f} s; "
            f"{r['server_tokens_per_s']:.0f} tokens/s per busy slot (llama-server), "
            f"{c['tokens_per_s_p50']:.0f} tokens/s and time "
            f"to first token {c['ttft_p50_ms']:.0f} ms (p50) for the client at {r['rate']:g} "
            "requests/s; a slower canary (a tenth of a core) rolled back "
            f"{r['rollback_status_s']['median']:.0f} s after it carried traffic, at 0 pods "
            f"{r['rollback_traffic_s']['median']:.0f} s (analysis every {r['interval_s']} s, "
            "tokens-per-second over 20 s)")


def _autoscaling(r: Results) -> str:
    f, c, k = (r["summary"][n] for n in ("in-flight", "cpu", "canary-in-flight"))
    kc = r["summary"].get("canary-cpu")
    return (f"load step → added capacity serving: {f['total_s']:.0f} s on requests in flight "
            f"(scaler {f['scaler_s']:.0f} s + pod {f['pod_s']:.0f} s), {c['total_s']:.0f} s on "
            f"CPU (scaler {c['scaler_s']:.0f} s + pod {c['pod_s']:.0f} s); "
            f"{f['failed_up'] + f['failed_down'] + c['failed_up'] + c['failed_down']:.0f} "
            f"requests failed scaling up or down; a 50% canary answered "
            f"{k['share_scaling']:.0f}% while it scaled 2 → 4 on requests in flight"
            + (f", {kc['share_scaling']:.0f}% on CPU" if kc else ""))


def _gateway(r: Results) -> str:
    w = ", ".join(f"{k}% → {v['share']:.1f}%" for k, v in r["weights"].items())
    lat = r["latency"]
    base, m20, m100 = (lat[k]["p50"] for k in ("baseline", "mirrored_20", "mirrored"))
    return (f"weights with one pod per version: {w} of 1,200 answers each; clients' p50 "
            f"{base:.1f} ms, {m20:.1f} ms with 20% mirrored, {m100:.1f} ms with 100%; agreement "
            f"measured {r['agreement']['2']:.3f} and {r['agreement']['3']:.3f} for canaries "
            f"disagreeing on 30% and 10%; {r['failed']} of {r['answers']} requests failed")


def _loop(r: Results) -> str:
    p, a = r["phases_s"], r["admission_s"]
    return (f"drift → the retrained version promoted: {r['total_s']:.0f} s (evaluation "
            f"{p['evaluation']:.0f} s, detection {p['detection']:.0f} s, training "
            f"{p['training']:.0f} s, gate {p['gate']:.0f} s, canary {p['canary']:.0f} s); "
            f"{r['failed']} of {r['requests']} requests failed; Kueue admitted a 2-pod gang "
            f"{statistics.median(a):.2f} s after its Job appeared ({_range(a)})")


# (what, results file, its figure). The order is the README's.
ROWS: list[tuple[str, str, Callable[[Results], str]]] = [
    ("cold build of the cluster's binaries (etcd, Kubernetes, kwok, helm, CoreDNS, versitygw, "
     "Prometheus, kube-router, olah; empty caches)", "builds", _builds_cluster),
    ("cold build of Argo CD's controller and repo server (after the cluster's binaries, as "
     "`make test` does: it reuses their Go build cache)", "builds",
     lambda b: minutes(b["argocd_s"]) if b["argocd_s"] else _partial(b, [])),
    ("cold build of the images (debootstrap base, pause, CoreDNS, operator, fetcher, model "
     "server, trainer with PyTorch)", "builds", _builds_images),
    ("warm `make cluster-up` (real node Ready, CoreDNS running, images unchanged) / "
     "`make cluster-down`", "realnode", _cycle),
    ("memory of the idle cluster (RSS of its processes, the real node's pods)", "realnode",
     _memory),
    ("a ModelVersion created → Ready on the real node (example model server, artifact "
     "fetched and its digest checked)", "realnode", _startup),
    ("1000 served ModelVersions created in a burst, until all Ready", "scale-1000", _burst),
    ("operator CPU, peak memory and API writes for those 1000", "scale-1000", _costs),
    ("5000 served ModelVersions in a burst (`make bench BENCH_ARGS=--big`)", "scale-5000",
     lambda s: f"{_burst(s)}; peak {s['peak_rss_mib']['median']:.0f} MiB"),
    ("restart with 5000 converged: first / last reconcile, peak memory, writes", "scale-5000",
     _restart),
    ("API requests when nothing changes (1000 converged)", "scale-1000", _idle),
    ("rollback: regression visible in Prometheus → canary at 0 (2 s analysis interval)",
     "rollout", _rollback),
    ("canary step overhead beyond its configured pause", "rollout", _step),
    ("HA: a standby takes over after the leader is SIGKILLed", "ha", _ha),
    ("crash campaign: the operator SIGKILLed at a random moment of a rollout or a training "
     "run, nothing lost, doubled or unplanned", "crash-campaign", _campaign),
    ("LLM on the real node: the gang-trained tiny Llama as GGUF, served by llama.cpp "
     "(`llamacpp`) on CPU", "llm", _llm),
    ("autoscaling on the real node: KEDA on requests in flight and an HPA on CPU, side by "
     "side, 1 to 4 replicas ([docs/autoscaling.md](docs/autoscaling.md))", "autoscaling",
     _autoscaling),
    ("traffic through a real gateway (Traefik, built here): exact weights, shadow comparison "
     "([docs/traffic.md](docs/traffic.md))", "gateway", _gateway),
    ("the closed loop on the real node: new labelled data, a scheduled evaluation on it, "
     "retraining by a 2-pod gang on it, the gate, the canary ([docs/training.md]"
     "(docs/training.md#data-read-at-run-time-and-lineage))", "loop", _loop),
    ("faults on real pods under load, during a canary ([docs/reliability.md]"
     "(docs/reliability.md))", "faults", _faults),
]


def _stamp(r: Results) -> str:
    m = r.get("measured") or {}
    if m:
        return f"{m['commit']}{'+' if m.get('dirty') else ''}, {m['date'][:10]}"
    # Results written one entry at a time (faults.json) stamp each entry.
    groups = [g for g in r.values() if isinstance(g, dict)]
    each = [e for g in groups for e in g.values() if isinstance(e, dict) and "commit" in e]
    if not each:
        return "measured before results were stamped: not current"
    return (", ".join(sorted({v["commit"] for v in each})) + ", "
            + " to ".join(sorted({min(v["date"] for v in each)[:10],
                                  max(v["date"] for v in each)[:10]})))


def table(link_prefix: str = "") -> str:
    lines = ["| what | measured | source |", "| --- | --- | --- |"]
    for what, name, figure in ROWS:
        r = load(name)
        try:
            value = figure(r) if r is not None else "not measured yet"
        except KeyError as e:  # a file from before the figure was measured
            value = f"not in this results file ({e}): re-run `make bench`"
        source = (f"[{name}.json]({link_prefix}bench/results/{name}.json) "
                  f"({_stamp(r)})" if r is not None else "-")
        lines.append(f"| {what.replace('(docs/', f'({link_prefix}docs/')} | {value} | {source} |")
    return "\n".join(lines)


def targets() -> str:
    """The goals the benchmarks exist for, each judged from its results file."""
    s1, s5, ro = load("scale-1000"), load("scale-5000"), load("rollout")
    rows = ["| target | measured | met |", "| --- | --- | --- |"]

    def row(target: str, r: Results | None, value: Callable[[Results], tuple[str, bool]]) -> None:
        if r is None:
            rows.append(f"| {target} | not measured yet | - |")
            return
        try:
            text, met = value(r)
        except KeyError as e:
            rows.append(f"| {target} | not in this results file ({e}) | - |")
            return
        rows.append(f"| {target} | {text} | {'met' if met else 'NOT met'} |")
    row("N=1000 converged within 1.5x of the baseline", s1,
        lambda s: (med(s["ratio"], "x", 2), s["ratio"]["median"] <= 1.5))
    row("N=5000 with operator peak RSS under 300 MB", s5,
        lambda s: (f"burst {s['peak_rss_mib']['median'] * 1.048576:.0f} MB, restart "
                   f"{s['startup_peak_rss_mib']['median'] * 1.048576:.0f} MB",
                   max(s["peak_rss_mib"]["median"],
                       s["startup_peak_rss_mib"]["median"]) * 1.048576 < 300))
    row("zero writes per minute when idle", s1,
        lambda s: (_idle(s), (s.get("idle") or {}).get("writes_per_min", 1) == 0))
    row("rollback within the analysis interval + 2 s", ro,
        lambda r: (_rollback(r), _summary([x["traffic_s"] for x in r["rollback"]])["median"]
                   <= r["interval_s"] + 2))
    row("per-step overhead under 1 s", ro,
        lambda r: (_step(r), _summary([x["overhead_per_step_s"]
                                       for x in r["steps"]])["median"] < 1))
    return "\n".join(rows)


# docs/reliability.md's table of faults on real pods (tests/chaos/test_real_faults.py).
ORDER = ["delete a serving pod", "crash a serving pod", "restart containerd",
         "restart the kubelet", "SIGKILL the operator pod", "restart the API server"]


def faults_table(faults: dict[str, dict[str, object]]) -> str:
    rows = ["| fault | requests | failed | fewest ready endpoints | rollout | measured |",
            "| --- | --- | --- | --- | --- | --- |"]
    for name in [n for n in ORDER if n in faults]:
        r: dict[str, object] = faults[name]
        detail: dict[str, object] = r.get("detail") or {}  # type: ignore[assignment]
        failed = str(r["failed"])
        if r.get("failed_window_s"):
            _, hi = r["failed_window_s"]  # type: ignore[misc]
            failed += f" (all in the {hi:.1f} s its endpoint was still listed)"
        if "away_s" in detail:
            name = f"{name} (serving again after {detail['away_s']} s)"
        history = " ".join(f"{v}:{o}" for _, v, o in r["history"])  # type: ignore[attr-defined]
        rows.append(f"| {name} | {r['answers']} | {failed} | {r['fewest_endpoints']} | "
                    f"Promoted after {r['promoted_after_s']} s; history {history} | "
                    f"{r['commit']}, {str(r['date'])[:10]} |")
    return "\n".join(rows)


def blocks() -> dict[Path, list[tuple[str, str, str]]]:
    faults = load("faults")
    return {README: [(START, END, table())],
            BENCHMARKS: [(START, END, table("../")), (TARGETS_START, TARGETS_END, targets())],
            RELIABILITY: [(FAULTS_START, FAULTS_END, faults_table(faults["faults"]) if faults
                           else "Not measured yet: run `make chaos`.")]}


def replace(text: str, start: str, end: str, body: str) -> str:
    if start not in text or end not in text:
        raise SystemExit(f"markers {start!r} / {end!r} missing")
    head, rest = text.split(start, 1)
    return f"{head}{start}\n{body}\n{end}{rest.split(end, 1)[1]}"


def rendered(path: Path) -> str:
    text = path.read_text()
    for start, end, body in blocks()[path]:
        text = replace(text, start, end, body)
    return text


def main() -> int:
    for path in blocks():
        path.write_text(rendered(path))
        print(f"figures written to {path.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
