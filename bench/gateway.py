"""`make bench` (part): traffic through the real gateway, results in bench/results/gateway.json.

Traefik (built here) carries an open-loop load generator's requests (80/s, each a different
iris-like input) to the example model on the real node, one pod per version, by the HTTPRoute
the gatewayAPI provider writes. One rollout walks the canary (which answers 30% of inputs
with another class) through manual steps, each measured for 15 s once in effect:
setWeight 1, 5, 50 (its share of the answers), setWeight 0 (the clients' latency, no mirror),
setMirror 20 and 100 (the same, that share mirrored to the comparer, which asks both versions:
the stable answers the mirrored share twice), setMirror 0 (the first baseline again, for the
noise). A second canary answers 10% of inputs
differently under setMirror 100. Figures: the canary's share per weight (goal: within 2
points of the weight), the clients' p50/p99 latency without and with the mirror (goal: the
difference within the noise between the two baselines), and the agreement the comparer
measured for each canary against 1 minus its known disagreement rate.

    python bench/gateway.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import harness
import report
from tests.support import gateway
from tests.support.kube import Kube
from tests.support.loadgen import Answer, iris_model
from tests.support.prometheus import Prometheus, serving_pods_prometheus
from tests.support.rollout import Model

START, END = "<!-- gateway:start -->", "<!-- gateway:end -->"
TRAEFIK = {"gatewayAPI": {"httpRoute": "iris", "implementation": "Traefik"}}
RATE, WINDOW, APPLIED = 80, 15.0, 3.0
WEIGHTS = (1, 5, 50)
DISAGREE = {"2": 0.3, "3": 0.1}


def steps() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for s in ([{"setWeight": w} for w in (*WEIGHTS, 0)]
              + [{"setMirror": {"percent": p}} for p in (20, 100, 0)]):
        out += [s, {"pause": {}}]
    return out


def window(m: Model, load: Any, index: int, promote: bool = True) -> list[Answer]:
    """The answers of WINDOW seconds once step `index`'s pause holds, then promote (past the
    pause)."""
    m.wait(f"step {index}", timeout=180, phase="Paused", currentStepIndex=index + 1)
    time.sleep(APPLIED)  # a gateway applies a route a moment after accepting it
    t0 = time.time()
    time.sleep(WINDOW)
    t1 = time.time()
    time.sleep(1.5)
    if promote:
        m.act("promote")
    return list(load.answers(since=t0, until=t1))


def latency(answers: list[Answer]) -> dict[str, float]:
    ms = sorted(a.ms for a in answers if a.code == 200)
    return {"p50": statistics.median(ms), "p99": ms[int(0.99 * (len(ms) - 1))], "n": len(ms)}


def agreement(prom: Prometheus, version: str) -> float:
    """The comparer's totals for a canary (over the last 10 minutes: its series end when it
    goes)."""
    def total(metric: str) -> float:
        rows = prom.query(f'sum(max_over_time({metric}{{version="{version}"}}[10m]))')
        return float(rows[0]["value"][1])
    return total("modelops_shadow_agreed_total") / total("modelops_shadow_compared_total")


def run(kube: Kube, ns: str, prom: Prometheus) -> dict[str, Any]:
    gateway.route(kube, ns)
    m = iris_model(kube, ns, ["1", "2", "3"], 1, steps(), disagree=DISAGREE, routing=TRAEFIK)
    gateway.wait_accepted(kube, ns)
    load = gateway.load(kube, ns, rate=RATE, seed=11)
    out: dict[str, Any] = {"weights": {}, "agreement": {}}
    try:
        start = time.time()
        m.patch({"targetVersion": "2"})
        for i, w in enumerate(WEIGHTS):
            ok = [a for a in window(m, load, 2 * i) if a.code == 200]
            out["weights"][str(w)] = {"share": 100 * sum(a.version == "2" for a in ok) / len(ok),
                                      "answers": len(ok)}
        base = latency(window(m, load, 6))
        some = latency(window(m, load, 8))
        mirrored_answers = window(m, load, 10)
        mirrored = latency(mirrored_answers)
        again = latency(window(m, load, 12, promote=False))
        time.sleep(8)  # the last scrape of the comparer
        out["agreement"]["2"] = agreement(prom, "2")
        out["from_mirror"] = sum(a.version == "2" for a in mirrored_answers)
        m.act("abort")
        m.wait("aborted", timeout=60, phase="Degraded", stableVersion="1")
        m.patch({"targetVersion": "3", "strategy": {"canary": {
            "steps": [{"setMirror": {"percent": 100}}, {"pause": {}}], "trafficRouting": TRAEFIK}}})
        m.wait("v3 mirrored", timeout=180, phase="Paused", canaryVersion="3",
               currentStepIndex=1)
        time.sleep(APPLIED + WINDOW + 8)
        out["agreement"]["3"] = agreement(prom, "3")
        m.act("abort")
        m.wait("aborted", timeout=60, phase="Degraded", stableVersion="1")
        time.sleep(2)
        answers = load.answers(since=start, until=time.time() - 2)
    finally:
        load.stop()
    out.update(latency={"baseline": base, "mirrored_20": some, "mirrored": mirrored,
                        "baseline_again": again},
               failed=sum(a.code != 200 for a in answers), answers=len(answers))
    return out


def main() -> int:
    kube = harness.cluster()
    work = Path(tempfile.mkdtemp(prefix="modelops-gateway-"))
    op = harness.operator(harness.install_identity(kube, work))
    ns = harness.fresh_namespace(kube, "bench-gateway")
    prom = serving_pods_prometheus(work / "prom", kube.kubeconfig, ns)
    try:
        result = run(kube, ns, prom)
    finally:
        prom.stop()
        op.stop()
        harness.remove_identity(kube)
    harness.wait_gone(kube, ns, operator_runs=False)
    harness.save("gateway", result)
    text = table(result)
    print(text)
    report.update_docs(text, START, END)
    return 0


def table(r: dict[str, Any]) -> str:
    lat = r["latency"]
    b, m20, mi, a = lat["baseline"], lat["mirrored_20"], lat["mirrored"], lat["baseline_again"]
    lines = [f"Traffic through the real gateway (Traefik built here; the example server, one pod "
             f"per version; {RATE} requests/s, open loop; {time.strftime('%Y-%m-%d')}, commit "
             f"{harness.commit()}):", "",
             "| figure | measured | goal |", "|---|---|---|"]
    for w, x in r["weights"].items():
        lines.append(f"| canary's share at setWeight {w} | {x['share']:.2f}% of "
                     f"{x['answers']} answers | {w} ± 2 |")
    for key, label in (("p50", "p50"), ("p99", "p99")):
        noise = abs(a[key] - b[key])
        lines.append(f"| clients' {label} latency (ms): no mirror / mirror 20% / 100% / no "
                     f"mirror again | {b[key]:.1f} / {m20[key]:.1f} / {mi[key]:.1f} / "
                     f"{a[key]:.1f} (added {m20[key] - b[key]:+.1f} at 20%, "
                     f"{mi[key] - b[key]:+.1f} at 100%; noise {noise:.1f}) | added within the "
                     "noise |")
    lines.append(f"| answers from the mirrored canary reaching clients | {r['from_mirror']} | 0 |")
    for v, rate in DISAGREE.items():
        lines.append(f"| agreement measured, canary disagreeing on {100 * rate:.0f}% of inputs | "
                     f"{r['agreement'][v]:.3f} | {1 - rate:.2f} |")
    lines.append(f"| requests failed | {r['failed']} of {r['answers']} | 0 |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
