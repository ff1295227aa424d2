"""What `make demo` says and how it watches: narration, kubectl echoed, and watchers that print
each change of a ModelVersion or an UpdatePolicy until it reaches what the tour waits for."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

from tests.support.kube import Kube
from tests.support.rollout import Model

ROOT = Path(__file__).resolve().parent.parent
KUBECONFIG = ROOT / ".localcluster" / "kubeconfig"
EXAMPLES = ROOT / "examples"
NS = "demo"


def say(text: str) -> None:
    print(f"\n\033[1m==> {text}\033[0m", flush=True)


def note(text: str) -> None:
    print(f"    {text}", flush=True)


def kubectl(*args: str, stdin: str | None = None) -> None:
    print(f"$ kubectl {' '.join(args)}", flush=True)
    subprocess.run([str(ROOT / "hack" / "cluster" / "kubectl"), *args], input=stdin,
                   text=True, check=False)


def watch_mv(kube: Kube, name: str, want: str, timeout: float = 90, ns: str = NS) -> None:
    seen = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = (kube.get_mv(ns, name) or {}).get("status", {})
        t = st.get("training") or {}
        now = (st.get("phase"), t.get("step"), t.get("attempts"),
               (st.get("serving") or {}).get("readyReplicas"))
        if now != seen:
            extra = f" step={now[1]} attempt={now[2]}" if now[1] else ""
            note(f"{name}: phase={now[0]}{extra} readyReplicas={now[3]}")
            seen = now
        if now[0] == want:
            return
        if now[0] == "Failed":  # for good: say why rather than wait out the timeout
            raise SystemExit(f"{name} failed: {st.get('conditions')}")
        time.sleep(0.3)
    raise SystemExit(f"{name} did not reach {want} in {timeout}s")


def watch_rollout(m: Model, until: Any, timeout: float = 120) -> dict[str, Any]:
    seen = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = m.status()
        row = (st.get("phase"), st.get("canaryVersion"), st.get("currentStepIndex"),
               st.get("canaryWeight"), st.get("actualCanaryWeight"),
               [(x.get("name"), x.get("value")) for x in (st.get("analysis") or {}).get(
                   "metrics") or []])
        if row[:5] != (seen or ())[:5]:
            metrics = ", ".join(f"{n}={v:g}" for n, v in row[5] if v is not None) or "-"
            note(f"phase={row[0]!s:<11} canary={row[1]} step={row[2]} weight={row[3]}% "
                 f"(actual {row[4]}%)  analysis: {metrics}  | {st.get('message', '')}")
            seen = row
        if until(st):
            return st
        time.sleep(0.25)
    raise SystemExit("the rollout did not finish in time")


def watch_reason(kube: Kube, name: str, reason: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        conds = ((kube.get_mv(NS, name) or {}).get("status") or {}).get("conditions") or []
        ready = next((c for c in conds if c["type"] == "Ready"), {})
        if ready.get("reason") == reason:
            note(f"{name}: Ready=False {reason}: {ready.get('message')}")
            return
        time.sleep(0.5)
    raise SystemExit(f"{name} did not say {reason} in {timeout}s")


def wait_ready(kube: Kube, service: str, pods: int, timeout: float = 60) -> None:
    """Until the Service has `pods` ready endpoints (kube-proxy follows within a second)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        eps = kube.core.read_namespaced_endpoints(service, NS)
        if sum(len(s.addresses or []) for s in eps.subsets or []) >= pods:
            return
        time.sleep(0.5)
