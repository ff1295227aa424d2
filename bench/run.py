"""`make bench`: the benchmark suite on the local cluster; JSON to bench/results/, a markdown
table on stdout and into docs/benchmarks.md.

    python bench/run.py [--sizes 100,1000] [--big] [--repeats 3] [--idle 60] [--only scale]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import harness
import report
import rollout
import scale

RESULTS = harness.RESULTS


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100,1000", help="ModelVersion counts (comma-separated)")
    ap.add_argument("--big", action="store_true", help="add N=5000 (one run)")
    ap.add_argument("--repeats", type=int, default=3, help="runs per figure")
    ap.add_argument("--idle", type=float, default=60, help="seconds of the idle window")
    ap.add_argument("--only", choices=["scale", "rollout"], help="one part only")
    ap.add_argument("--report", action="store_true",
                    help="only redo the table from bench/results/*.json")
    args = ap.parse_args()
    if args.report:
        return rereport()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    started = time.monotonic()
    kube = harness.cluster()
    work = Path(tempfile.mkdtemp(prefix="modelops-bench-"))
    sa = harness.install_identity(kube, work)
    harness.add_nodes(kube)
    admin = kube.kubeconfig
    RESULTS.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"machine": {"cpus": _cpus(), "python": platform.python_version()},
                               "scale": {}, "date": time.strftime("%Y-%m-%d")}
    audit = harness.Audit()
    try:
        if args.only in (None, "scale"):
            plan = [(n, args.repeats) for n in sizes] + ([(5000, 1)] if args.big else [])
            for n, repeats in plan:
                with harness.without_policy_agent():
                    results["scale"][n] = run_size(kube, admin, sa, n, repeats, args.idle,
                                                   audit)
                harness.save(f"scale-{n}", results["scale"][n])
        if args.only in (None, "rollout"):
            results["rollout"] = rollout.run(kube, sa, args.repeats)
            harness.save("rollout", results["rollout"])
    finally:
        harness.remove_identity(kube)
        harness.remove_nodes(kube)
    results["wall_s"] = time.monotonic() - started
    if args.only:  # one part re-measured: the table is redone from every results file
        harness.log(f"{args.only} done in {results['wall_s'] / 60:.1f} min")
        return rereport()
    harness.save("machine", {**results["machine"], "date": results["date"],
                             "wall_s": results["wall_s"]})
    table = report.markdown(results)
    print(table)
    report.update_docs(table)
    harness.log(f"done in {results['wall_s'] / 60:.1f} min; results in {RESULTS}")
    return 0


def rereport() -> int:
    saved = {p.stem: json.loads(p.read_text()) for p in RESULTS.glob("*.json")}
    machine = saved.get("machine") or {"cpus": _cpus(), "python": platform.python_version()}
    results: dict[str, Any] = {"machine": machine, "date": machine.get("date", "?"),
                               "wall_s": machine.get("wall_s"),
                               # summed up again from the runs: the summary may have grown
                               "scale": {k.split("-")[1]: {**report.summarize_size(
                                   int(k.split("-")[1]), v["runs"]),
                                   "measured": v.get("measured")}
                                   for k, v in saved.items() if k.startswith("scale-")},
                               "rollout": saved.get("rollout")}
    table = report.markdown(results)
    print(table)
    report.update_docs(table)
    return 0


def run_size(kube: Any, admin: str, sa: str, n: int, repeats: int, idle: float,
             audit: harness.Audit) -> dict[str, Any]:
    runs: dict[str, list[Any]] = {"operator": [], "baseline": []}
    for i in range(repeats):
        # Alternate, so that drift of the machine hits both sides alike.
        runs["baseline"].append(scale.baseline(kube, sa, n))
        harness.log(f"N={n} baseline {i + 1}/{repeats}: "
                    f"{runs['baseline'][-1]['total_s']:.1f}s")
        runs["operator"].append(scale.converge(kube, admin, sa, n, idle if i == 0 else 0,
                                               audit))
        harness.log(f"N={n} operator {i + 1}/{repeats}: {runs['operator'][-1]['total_s']:.1f}s,"
                    f" peak RSS {runs['operator'][-1]['peak_rss_mib']:.0f} MiB")
    return report.summarize_size(n, runs)


def _cpus() -> int:
    import os
    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    raise SystemExit(main())
