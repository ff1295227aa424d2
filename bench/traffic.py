"""`make bench` (part): rollouts on real traffic. A load generator on the real node calls the
model's stable Service at a steady rate; every answer says which version gave it.

Two runs, each repeated (medians over the repeats, in one `make bench`):
- steps: a canary walked through 33% and 67% (25 s pauses), the operator SIGKILLed in the
  first pause, promoted, then a manual rollback (`rollback:1`) while 1 is still warm;
- regression: a canary whose example server fails 40% of its requests, rolled back by
  analysis (the `error-rate` template, on a real Prometheus scraping the pods).
Figures: the canary's share of answers per step against the weight the policy reports
(goal: within 5 points over at least 400 answers), requests failed for any reason but the
canary's own errors (goal 0) in each phase, the time from the regression's first error to
the last, and the fewest ready endpoints behind the Service (goal: never below replicas).

    python bench/traffic.py [--repeats 3] [--rate 20]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import harness
import report
from tests.support.loadgen import Answer, iris_model, share, step_windows, traffic
from tests.support.prometheus import serving_pods_prometheus
from tests.support.waiting import wait_for

START, END = "<!-- traffic:start -->", "<!-- traffic:end -->"
REPLICAS = 3
STEPS = [{"setWeight": 33}, {"pause": {"duration": "25s"}},
         {"setWeight": 67}, {"pause": {"duration": "25s"}}]


def bad(answers: list[Answer], t0: float, t1: float, own: tuple[int, ...] = ()) -> int:
    """Answers in [t0, t1) that failed for a reason other than the canary's own errors."""
    return sum(1 for a in answers if t0 <= a.t < t1 and a.code != 200 and a.code not in own)


def steps_run(kube: Any, ns: str, op: Any, rate: float) -> dict[str, Any]:
    m = iris_model(kube, ns, ["1", "2"], REPLICAS, STEPS)
    with traffic(kube, ns, REPLICAS, rate) as (rec, load):
        t0 = time.time()
        m.patch({"targetVersion": "2"})
        m.wait("first pause", timeout=180, currentStepIndex=1)
        time.sleep(5)
        killed = time.time()
        op.kill()
        time.sleep(3)
        op.start()
        crash_end = time.time() + 10
        m.wait("promoted", timeout=240, phase="Promoted", stableVersion="2")
        promoted = time.time()
        time.sleep(5)
        m.act("rollback:1")
        rolled = time.time()
        m.wait("back on 1", timeout=60, stableVersion="1")
        time.sleep(5)
        end = time.time()
        answers = load.answers(since=t0, until=end)
    steps = [{"step": step, "weight": actual, "answers": len(window),
              "share": share(window, "2")}
             for step, actual, window in step_windows(rec, answers, "2", {1, 3}, min_s=10)]
    return {"answers": len(answers), "steps": steps,
            "failed_promotion": bad(answers, t0, promoted + 5),
            "failed_crash": bad(answers, killed, crash_end),
            "failed_manual_rollback": bad(answers, rolled, end),
            "min_endpoints": rec.fewest_endpoints(t0, end)}


def regression_run(kube: Any, ns: str, rate: float, workdir: Path) -> dict[str, Any]:
    prom = serving_pods_prometheus(workdir / f"prometheus-{ns}", kube.kubeconfig, ns)
    try:
        m = iris_model(kube, ns, ["1", "2"], REPLICAS, [{"setWeight": 33}, {"pause": {}}],
                       error_rate={"2": 0.4},
                       analysis={"interval": "5s", "failureLimit": 0, "inconclusiveLimit": 20,
                                 "prometheus": {"address": prom.address},
                                 "metrics": [{"name": "errors", "template": "error-rate",
                                              "window": "20s", "max": 0.05}]})
        with traffic(kube, ns, REPLICAS, rate) as (rec, load):
            t0 = time.time()
            m.patch({"targetVersion": "2"})
            m.wait("rolled back", timeout=240, phase="RolledBack")
            written = time.time()
            wait_for(lambda: "outgoing" not in m.status(), timeout=120, what="drained")
            time.sleep(8)
            end = time.time()
            answers = load.answers(since=t0, until=end)
    finally:
        prom.stop()
    own = [a for a in answers if a.code == 500]
    return {"answers": len(answers), "canary_errors": len(own),
            "failed_other": bad(answers, t0, end, own=(500,)),
            "errors_s": own[-1].t - own[0].t if own else 0.0,
            "errors_after_rollback_s": own[-1].t - written if own else 0.0,
            "min_endpoints": rec.fewest_endpoints(t0, end)}


def med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def _median_run(ss: list[dict[str, Any]]) -> dict[str, Any]:
    """One step's figures from one run, the run with the median gap between the canary's
    share and its weight (a share and a gap from different runs would not belong together),
    and the worst gap of all runs."""
    gap = [abs(s["share"] - s["weight"]) for s in ss]
    order = sorted(range(len(ss)), key=gap.__getitem__)
    mid = ss[order[len(ss) // 2]]  # of two runs, the worse
    return {"weight": mid["weight"], "share": mid["share"],
            "diff": abs(mid["share"] - mid["weight"]), "answers": mid["answers"],
            "worst_diff": max(gap)}


def summarize(steps: list[dict[str, Any]], regressions: list[dict[str, Any]]) -> dict[str, Any]:
    per_step: dict[int, list[dict[str, Any]]] = {}
    for r in steps:
        for s in r["steps"]:
            per_step.setdefault(s["step"], []).append(s)
    return {
        "steps": {step: _median_run(ss) for step, ss in sorted(per_step.items())},
        "failed_promotion": med([r["failed_promotion"] for r in steps]),
        "failed_crash": med([r["failed_crash"] for r in steps]),
        "failed_manual_rollback": med([r["failed_manual_rollback"] for r in steps]),
        "failed_auto_rollback": med([r["failed_other"] for r in regressions]),
        "errors_s": med([r["errors_s"] for r in regressions]),
        "errors_after_rollback_s": med([r["errors_after_rollback_s"] for r in regressions]),
        "min_endpoints": min([r["min_endpoints"] for r in steps + regressions] or [0]),
        "repeats": len(steps),
    }


def table(s: dict[str, Any], rate: float) -> str:
    lines = [f"Rollouts on real traffic ({REPLICAS} replicas, {rate:g} requests/s from a pod on "
             f"the real node; median of {s['repeats']} runs each, {time.strftime('%Y-%m-%d')}, "
             f"commit {harness.commit()}):",
             "", "| figure | value | goal |", "|---|---|---|"]
    for step, v in s["steps"].items():
        lines.append(f"| step {step}: canary share of answers vs reported weight | "
                     f"{v['share']:.1f}% vs {v['weight']:.0f}% (off by {v['diff']:.1f}, "
                     f"{v['answers']:.0f} answers, the median run; the worst off by "
                     f"{v['worst_diff']:.1f}) | within 5 points |")
    lines += [
        f"| failed requests during the promotion | {s['failed_promotion']:.0f} | 0 |",
        f"| failed requests around an operator crash mid-step | {s['failed_crash']:.0f} | 0 |",
        f"| failed requests during a manual rollback (to a warm version) | "
        f"{s['failed_manual_rollback']:.0f} | 0 |",
        f"| failed requests not the canary's own during an automatic rollback | "
        f"{s['failed_auto_rollback']:.0f} | 0 |",
        f"| regression: first to last canary error | {s['errors_s']:.1f} s | |",
        f"| regression: errors after the rollback was written (the canary drains until the "
        f"stable is whole) | {s['errors_after_rollback_s']:.1f} s | |",
        f"| fewest ready endpoints behind the Service, all runs | {s['min_endpoints']} | "
        f">= {REPLICAS} |"]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rate", type=float, default=20.0)
    args = ap.parse_args()
    kube = harness.cluster()
    work = Path(tempfile.mkdtemp(prefix="modelops-traffic-"))
    op = harness.operator(harness.install_identity(kube, work))
    steps, regressions = [], []
    try:
        for i in range(args.repeats):
            ns = harness.fresh_namespace(kube, f"bench-traffic-{i}")
            steps.append(steps_run(kube, ns, op, args.rate))
            harness.log(f"steps run {i + 1}/{args.repeats}: {steps[-1]}")
            harness.wait_gone(kube, ns)
            ns = harness.fresh_namespace(kube, f"bench-regression-{i}")
            regressions.append(regression_run(kube, ns, args.rate, work))
            harness.log(f"regression run {i + 1}/{args.repeats}: {regressions[-1]}")
            harness.wait_gone(kube, ns)
    finally:
        op.stop()
        harness.remove_identity(kube)
    s = summarize(steps, regressions)
    harness.save("traffic", {"summary": s, "steps": steps, "regressions": regressions})
    text = table(s, args.rate)
    print(text)
    report.update_docs(text, START, END)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
