"""Rollout timing with a real Prometheus: what each canary step costs beyond its configured
pause, and how fast a regression visible in Prometheus sends all traffic back to stable."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from harness import fresh_namespace, log, operator, wait_gone
from tests.support.emitter import Emitter
from tests.support.kube import Kube
from tests.support.prometheus import Prometheus
from tests.support.rollout import ERROR_RATE, Model, analysis
from tests.support.waiting import wait_for

PAUSE_S = 3.0
INTERVAL_S = 2.0


def _stable(kube: Kube, ns: str, model: str, prom: Prometheus, emitters: list[Emitter],
            **policy: Any) -> Model:
    m = Model(kube, ns, model)
    for v in ("1", "2"):
        m.version(v)
        e = Emitter()
        emitters.append(e)
        prom.add_target(e.port, model=model, version=v, namespace=ns)
    m.policy(targetVersion="1", replicas=4, **policy)
    m.wait("stable on 1", stableVersion="1", phase="Promoted")
    wait_for(lambda: m.replicas("1") == 4, what="4 replicas on v1")
    return m


def step_overhead(kube: Kube, ns: str, prom: Prometheus, emitters: list[Emitter],
                  model: str) -> dict[str, Any]:
    """Three weights, each followed by a timed pause, with analysis every interval."""
    steps = []
    for w in (25, 50, 75):
        steps += [{"setWeight": w}, {"pause": {"duration": f"{PAUSE_S:g}s"}}]
    m = _stable(kube, ns, model, prom, emitters, strategy={"canary": {"steps": steps}},
                analysis=analysis(prom.address, interval=f"{INTERVAL_S:g}s"))
    m.patch({"targetVersion": "2"})
    marks: list[tuple[float, Any, Any]] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        st = m.status()
        row = (st.get("currentStepIndex"), st.get("phase"))
        if not marks or marks[-1][1:] != row:
            marks.append((time.monotonic(), *row))
        if st.get("phase") == "Promoted" and st.get("stableVersion") == "2":
            break
        time.sleep(0.05)
    else:
        raise RuntimeError(f"rollout did not finish: {marks}")
    starts = {}
    for t, idx, phase in marks:
        if idx is not None and phase == "Progressing":
            starts.setdefault(idx, t)
    end = marks[-1][0]
    bounds = [starts[i] for i in sorted(starts)] + [end]
    took = {i: bounds[k + 1] - bounds[k] for k, i in enumerate(sorted(starts))}
    pauses = [took[i] - PAUSE_S for i in took if i % 2 == 1]
    weights = [took[i] for i in took if i % 2 == 0]
    total = end - marks[0][0]
    return {"pause_overhead_s": pauses, "set_weight_s": weights, "total_s": total,
            "overhead_per_step_s": (total - 3 * PAUSE_S) / len(steps)}


def rollback_reaction(kube: Kube, ns: str, prom: Prometheus, emitters: list[Emitter],
                      model: str) -> dict[str, float]:
    m = _stable(kube, ns, model, prom, emitters,
                strategy={"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}},
                analysis=analysis(prom.address, interval=f"{INTERVAL_S:g}s"))
    m.patch({"targetVersion": "2"})
    m.wait("at the pause", phase="Paused", currentStepIndex=1)
    emitters[-1].set(error_rate=0.5)  # the canary's
    query = (ERROR_RATE.replace("{{namespace}}", ns).replace("{{model}}", model)
             .replace("{{canaryVersion}}", "2"))
    wait_for(lambda: (r := prom.query(query)) and float(r[0]["value"][1]) > 0.05, timeout=30,
             interval=0.05, what="the regression visible in Prometheus")
    visible = time.monotonic()
    wait_for(lambda: m.status().get("phase") == "RolledBack", timeout=30, interval=0.05,
             what="rolled back")
    decided = time.monotonic() - visible
    wait_for(lambda: m.replicas("2") == 0, timeout=30, interval=0.05, what="canary at 0")
    return {"status_s": decided, "traffic_s": time.monotonic() - visible}


def run(kube: Kube, sa: str, repeats: int) -> dict[str, Any]:
    prom = Prometheus(Path(tempfile.mkdtemp(prefix="bench-prom-")))
    prom.start()
    op = operator(sa)
    emitters: list[Emitter] = []
    ns = fresh_namespace(kube, "bench-rollout")
    out: dict[str, Any] = {"pause_s": PAUSE_S, "interval_s": INTERVAL_S, "steps": [],
                           "rollback": []}
    try:
        for i in range(repeats):
            out["steps"].append(step_overhead(kube, ns, prom, emitters, f"s{i}"))
            log(f"rollout {i + 1}/{repeats}: {out['steps'][-1]['overhead_per_step_s']:.2f}s "
                "per step beyond pauses")
            out["rollback"].append(rollback_reaction(kube, ns, prom, emitters, f"r{i}"))
            log(f"rollback {i + 1}/{repeats}: {out['rollback'][-1]['traffic_s']:.2f}s")
        wait_gone(kube, ns)  # while the operator runs: it removes the versions' finalizers
    finally:
        op.stop()
        prom.stop()
        for e in emitters:
            e.close()
    return out
