"""`make demo`: a guided tour on the local cluster, narrating what the operator does.

Serving, training with evaluation gates, then the main event: a canary that is promoted and
one that is rolled back by itself when its error rate regresses. kwok plays the pods, so the
model servers' metrics come from small local emitters that Prometheus scrapes, labelled as
the pods of each version would be.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.emitter import Emitter  # noqa: E402
from tests.support.kube import Kube  # noqa: E402
from tests.support.operator import OperatorProcess  # noqa: E402
from tests.support.prometheus import Prometheus  # noqa: E402
from tests.support.rollout import Model  # noqa: E402

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


def watch_mv(kube: Kube, name: str, want: str, timeout: float = 90) -> None:
    seen = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = (kube.get_mv(NS, name) or {}).get("status", {})
        t = st.get("training") or {}
        now = (st.get("phase"), t.get("step"), t.get("attempts"),
               (st.get("serving") or {}).get("readyReplicas"))
        if now != seen:
            extra = f" step={now[1]} attempt={now[2]}" if now[1] else ""
            note(f"{name}: phase={now[0]}{extra} readyReplicas={now[3]}")
            seen = now
        if now[0] == want:
            return
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


def main() -> int:
    kube = Kube(str(KUBECONFIG))
    say("Installing the CRDs and starting Prometheus and the operator")
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
    kubectl("wait", "--for=condition=Established", "crd/modelversions.modelops.io",
            "crd/updatepolicies.modelops.io")
    prom = Prometheus(Path(tempfile.mkdtemp(prefix="modelops-demo-prometheus-")))
    prom.start()
    note(f"Prometheus (Debian's package) at {prom.address}, scraping every second")
    op = OperatorProcess(str(KUBECONFIG), ROOT / ".localcluster" / "logs")
    op.start()
    note(f"operator: kopf run -m modelops.handlers (log: {op.log_path})")
    # A previous run's namespace goes first (the operator releases its finalizers).
    kubectl("delete", "namespace", NS, "--ignore-not-found", "--wait=true", "--timeout=120s")
    kubectl("create", "namespace", NS)
    emitters: list[Emitter] = []
    try:
        say("1. Serving: a ModelVersion becomes a Deployment and a Service")
        kubectl("get", "nodes", "-L", "nvidia.com/gpu.present")
        kubectl("apply", "-n", NS, "-f", str(EXAMPLES / "sentiment-v1.yaml"))
        watch_mv(kube, "sentiment-v1", "Ready")
        kubectl("get", "mv,deploy,svc", "-n", NS)

        say("2. Bad input gets a clear answer")
        r = kube.apply_yaml(NS, "apiVersion: modelops.io/v1alpha1\nkind: ModelVersion\n"
                                "metadata: {name: broken}\n"
                                "spec: {model: sentiment, version: '9'}\n")
        note("from the API server: " + r.stderr.strip())
        kubectl("apply", "-n", NS, "-f", str(EXAMPLES / "invalid-duplicate.yaml"))
        watch_mv(kube, "sentiment-v1-again", "Failed")
        kubectl("get", "mv", "sentiment-v1-again", "-n", NS, "-o",
                "jsonpath={.status.conditions[0].message}{'\\n'}")

        say("3. Training: 2 nodes x 8 GPUs under torchrun, then evaluation gates")
        kubectl("apply", "-n", NS, "-f", str(EXAMPLES / "llm-train-eval.yaml"))
        watch_mv(kube, "llm-v1", "Ready", timeout=120)
        kubectl("get", "jobs", "-n", NS, "-l", "modelops.io/model=llm")
        kubectl("get", "mv", "llm-v1", "-n", NS, "-o",
                "jsonpath=metrics: {.status.evaluation.metrics}  artifact: "
                "{.status.artifactURI}{'\\n'}")

        say("4. A canary that is healthy: walked through every step, then promoted")
        m = Model(kube, NS, "sentiment")
        policy = (EXAMPLES / "sentiment-policy.yaml").read_text().replace(
            "PROMETHEUS_ADDRESS", prom.address)
        for v in ("1", "2", "3"):
            e = Emitter()
            prom.add_target(e.port, model="sentiment", version=v, namespace=NS)
            emitters.append(e)
        note("each version's 'pods' report http_requests_total to Prometheus; "
             "0% errors for now")
        kubectl("apply", "-n", NS, "-f", "-", stdin=policy)
        watch_rollout(m, lambda st: st.get("stableVersion") == "1")
        kube.create(NS, _served("sentiment-v2", "2"))
        watch_mv(kube, "sentiment-v2", "Ready")
        note("targetVersion 1 -> 2 (the only edit a user or Argo CD makes)")
        m.patch({"targetVersion": "2"})
        watch_rollout(m, lambda st: st.get("phase") == "Promoted"
                      and st.get("stableVersion") == "2")
        kubectl("get", "up,deploy", "-n", NS, "-l", "modelops.io/model=sentiment")
        kubectl("get", "up", "-n", NS)

        say("5. A canary that regresses: rolled back by itself")
        kube.create(NS, _served("sentiment-v3", "3"))
        watch_mv(kube, "sentiment-v3", "Ready")
        m.patch({"targetVersion": "3"})
        watch_rollout(m, lambda st: st.get("canaryWeight") == 25
                      and st.get("currentStepIndex") == 1)
        note("version 3 starts failing 30% of its requests")
        emitters[2].set(error_rate=0.3)
        st = watch_rollout(m, lambda st: st.get("phase") == "RolledBack")
        h = st["history"][0]
        note(f"history: revision {h['revision']} {h['outcome']} ({h['reason']}): "
             f"{h['message']}")
        kubectl("get", "up,deploy", "-n", NS, "-l", "modelops.io/model=sentiment")
        kubectl("describe", "up", "sentiment", "-n", NS)
        say("Done. The cluster keeps running (`make cluster-down` stops it); "
            f"the demo's objects are in namespace {NS}.")
    finally:
        op.stop()
        prom.stop()
        for e in emitters:
            e.close()
    return 0


def _served(name: str, version: str) -> dict[str, Any]:
    return {"apiVersion": "modelops.io/v1alpha1", "kind": "ModelVersion",
            "metadata": {"name": name},
            "spec": {"model": "sentiment", "version": version,
                     "artifact": {"uri": f"s3://models/sentiment/{version}/"},
                     "serving": {"image": f"ghcr.io/acme/sentiment:{version}",
                                 "resources": {"cpu": "500m", "memory": "1Gi"}}}}


if __name__ == "__main__":
    sys.exit(main())
