"""`make bench-compare AGAINST=REF`: the scale benchmark of this tree and of another commit's
operator, side by side in one run on the same cluster, so that a refactor is judged against
what it replaced (not against figures from another day).

    python bench/compare.py REF [--sizes 1000] [--repeats 3]

Each repeat runs the plain-Deployment baseline, then both operators in alternating order; the
other commit's operator runs from a git worktree of REF (removed afterwards). JSON goes to
bench/results/compare-N.json, a table to stdout and into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import harness
import report
import scale

START, END = "<!-- compare:start -->", "<!-- compare:end -->"
FIGURES = [  # (label, summary key, unit, digits)
    ("operator to all Ready", "operator_total_s", " s", 1),
    ("ratio to the baseline", "ratio", "x", 2),
    ("operator CPU", "cpu_s", " s", 1),
    ("peak RSS", "peak_rss_mib", " MiB", 0),
    ("API writes per version", "writes_per_mv", "", 2),
    ("API reads per version", "reads_per_mv", "", 2),
    ("restart: all reconciled", "startup_all_s", " s", 1),
    ("restart: writes", "startup_writes", "", 0),
    ("restart: peak RSS", "startup_peak_rss_mib", " MiB", 0),
]


def worktree(ref: str) -> tuple[Path, str]:
    sha = subprocess.run(["git", "rev-parse", "--short", ref], cwd=harness.ROOT, check=True,
                         capture_output=True, text=True).stdout.strip()
    path = Path(tempfile.mkdtemp(prefix=f"modelops-{sha}-")) / "tree"
    subprocess.run(["git", "worktree", "add", "--detach", str(path), sha], cwd=harness.ROOT,
                   check=True, capture_output=True)
    return path, sha


def run_size(kube: Any, admin: str, sa: str, n: int, repeats: int, other: Path,
             audit: harness.Audit) -> dict[str, Any]:
    sides: dict[str, dict[str, str]] = {"this": {},
                                        "other": {"PYTHONPATH": str(other / "operator")}}
    base: list[dict[str, Any]] = []
    runs: dict[str, list[dict[str, Any]]] = {"this": [], "other": []}
    for i in range(repeats):
        base.append(scale.baseline(kube, sa, n))
        harness.log(f"N={n} baseline {i + 1}/{repeats}: {base[-1]['total_s']:.1f}s")
        # Alternate which goes first, so that drift of the machine hits both alike.
        for side in (("this", "other") if i % 2 == 0 else ("other", "this")):
            runs[side].append(scale.converge(kube, admin, sa, n, 0, audit, **sides[side]))
            harness.log(f"N={n} {side} {i + 1}/{repeats}: {runs[side][-1]['total_s']:.1f}s, "
                        f"CPU {runs[side][-1]['cpu_s']:.1f}s")
    return {side: report.summarize_size(n, {"operator": runs[side], "baseline": base})
            for side in runs}


def table(ref: str, results: dict[str, Any], repeats: int) -> str:
    lines = [f"This tree against {ref}, side by side in one run on the same cluster "
             f"({time.strftime('%Y-%m-%d')}); median (min-max) of {repeats} runs each.", ""]
    for n, r in sorted(results.items()):
        lines += [f"| N={n} | this tree | {ref} |", "|---|---|---|"]
        for label, key, unit, digits in FIGURES:
            lines.append(f"| {label} | {report.fmt(r['this'][key], unit, digits)} "
                         f"| {report.fmt(r['other'][key], unit, digits)} |")
        lines.append("")
    return "\n".join(lines).rstrip()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ref", help="the commit to compare with (e.g. HEAD~5, a tag, a sha)")
    ap.add_argument("--sizes", default="1000", help="ModelVersion counts (comma-separated)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    other, sha = worktree(args.ref)
    kube = harness.cluster()
    work = Path(tempfile.mkdtemp(prefix="modelops-bench-"))
    sa = harness.install_identity(kube, work)
    harness.add_nodes(kube)
    results: dict[int, Any] = {}
    try:
        for n in [int(s) for s in args.sizes.split(",") if s]:
            results[n] = run_size(kube, kube.kubeconfig, sa, n, args.repeats, other,
                                  harness.Audit())
            harness.save(f"compare-{n}", {"against": sha, **results[n]})
    finally:
        harness.remove_identity(kube)
        harness.remove_nodes(kube)
        subprocess.run(["git", "worktree", "remove", "--force", str(other)], cwd=harness.ROOT,
                       check=False)
    text = table(sha, results, args.repeats)
    print(text)
    report.update_docs(text, START, END)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
