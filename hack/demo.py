"""`make demo`: a guided tour on the local cluster, narrating what the operator does."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.kube import Kube  # noqa: E402
from tests.support.operator import OperatorProcess  # noqa: E402

KUBECONFIG = ROOT / ".localcluster" / "kubeconfig"
NS = "demo"


def say(text: str) -> None:
    print(f"\n\033[1m==> {text}\033[0m", flush=True)


def show(*args: str) -> None:
    print(f"$ kubectl {' '.join(args)}", flush=True)
    subprocess.run([str(ROOT / "hack" / "cluster" / "kubectl"), *args], check=False)


def watch_phase(kube: Kube, name: str, want: str, timeout: float = 60) -> None:
    seen = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        mv = kube.get_mv(NS, name) or {}
        st = mv.get("status", {})
        now = (st.get("phase"), (st.get("serving") or {}).get("readyReplicas"))
        if now != seen:
            print(f"   {name}: phase={now[0]} readyReplicas={now[1]}", flush=True)
            seen = now
        if now[0] == want:
            return
        time.sleep(0.3)
    raise SystemExit(f"{name} did not reach {want} in {timeout}s")


def main() -> int:
    kube = Kube(str(KUBECONFIG))
    say("Installing the CRDs")
    show("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
    show("wait", "--for=condition=Established", "crd/modelversions.modelops.io")
    show("create", "namespace", NS)
    op = OperatorProcess(str(KUBECONFIG), ROOT / ".localcluster" / "logs")
    say("Starting the operator (kopf run -m modelops.handlers)")
    op.start()
    print(f"   log: {op.log_path}")
    try:
        say("Nodes: kwok simulates 4 nodes, 2 with 8 GPUs each")
        show("get", "nodes", "-L", "nvidia.com/gpu.present")
        say("A served ModelVersion: examples/sentiment-v1.yaml")
        show("apply", "-n", NS, "-f", str(ROOT / "examples" / "sentiment-v1.yaml"))
        watch_phase(kube, "sentiment-v1", "Ready")
        show("get", "mv,deploy,svc,pods", "-n", NS)
        say("A vLLM preset asking for 2 GPUs lands on a GPU node")
        show("apply", "-n", NS, "-f", str(ROOT / "examples" / "llm-vllm-gpu.yaml"))
        watch_phase(kube, "chat-v3", "Ready")
        show("get", "pods", "-n", NS, "-l", "modelops.io/model=chat", "-o", "wide")
        say("Drift: deleting the Deployment by hand; the operator puts it back")
        show("delete", "deployment", "sentiment-1", "-n", NS)
        time.sleep(2)
        watch_phase(kube, "sentiment-v1", "Ready")
        show("get", "deploy", "-n", NS)
        say("Bad input, caught by the API server (CEL): artifact missing")
        r = kube.apply_yaml(NS, "apiVersion: modelops.io/v1alpha1\nkind: ModelVersion\n"
                                "metadata: {name: broken}\n"
                                "spec: {model: sentiment, version: '9'}\n")
        print("   " + r.stderr.strip())
        say("Bad input only the operator can judge: a duplicate (model, version)")
        show("apply", "-n", NS, "-f", str(ROOT / "examples" / "invalid-duplicate.yaml"))
        watch_phase(kube, "sentiment-v1-again", "Failed")
        show("get", "mv", "-n", NS)
        show("describe", "mv", "sentiment-v1-again", "-n", NS)
        say("Done. The cluster keeps running: `make cluster-down` stops it.")
    finally:
        op.stop()
        show("delete", "namespace", NS, "--wait=false")
    return 0


if __name__ == "__main__":
    sys.exit(main())
