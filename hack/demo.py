"""`make demo`: a guided tour on the local cluster, narrating what the operator does.

Serving and the canary story run on the cluster's real node: the example model server
answers real predictions, its pods report their real request metrics to Prometheus, and a
load generator keeps traffic flowing through the model's stable Service, so the version that
starts failing requests is caught by analysis and rolled back by itself. Training (2 nodes x 8
GPUs) runs on kwok's simulated GPU nodes; the LLM part (demo_llm.py) trains a real small LLM
across a 2-pod CPU gang on the real node and serves it with llama.cpp; the last part
(demo_loop.py) leaves the closed loop to itself: drift, evaluation on fresh data, retraining
on it, the gate, the canary.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import node  # noqa: E402
from tests.support.kube import Kube  # noqa: E402
from tests.support.operator import OperatorProcess  # noqa: E402
from tests.support.prometheus import serving_pods_prometheus  # noqa: E402
from tests.support.rollout import Model  # noqa: E402
from tests.support.webhook import Receiver  # noqa: E402

from demo_llm import llm_tour  # noqa: E402
from demo_loop import loop_tour  # noqa: E402
from narrate import (  # noqa: E402
    EXAMPLES,
    KUBECONFIG,
    NS,
    kubectl,
    note,
    say,
    wait_ready,
    watch_mv,
    watch_reason,
    watch_rollout,
)


class Load:
    """Predictions through the model's stable Service, ~20 a second, counted by answer."""

    def __init__(self, kube: Kube, service: str) -> None:
        self.ip = kube.core.read_namespaced_service(service, NS).spec.cluster_ip
        self.codes: dict[int, int] = {}
        self.versions: dict[str, int] = {}
        self.stop = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self.stop.wait(0.05):
            try:
                code, body = node.request(self.ip, 80, "POST", "/v2/models/iris/infer",
                                          node.IRIS_SETOSA, timeout=5)
            except OSError:
                code, body = 0, b""
            self.codes[code] = self.codes.get(code, 0) + 1
            if code == 200:
                v = json.loads(body)["model_version"]
                self.versions[v] = self.versions.get(v, 0) + 1

    def summary(self) -> str:
        out = f"answers by code {dict(sorted(self.codes.items()))}, by version " \
              f"{dict(sorted(self.versions.items()))}"
        self.codes, self.versions = {}, {}
        return out


def iris(version: str, digest: str, error_rate: float = 0, error_after: float = 0) -> str:
    text = (EXAMPLES / "iris" / "iris-v1.yaml").read_text()
    text = text.replace("name: iris-v1", f"name: iris-v{version}").replace(
        'version: "1"', f'version: "{version}"').replace("models/iris/1/",
                                                         f"models/iris/{version}/")
    text = text.replace("    credentialsSecret: s3-creds",
                        f"    credentialsSecret: s3-creds\n    digest: {digest}")
    if error_rate:
        env = f"{{name: MODELOPS_EXAMPLE_ERROR_RATE, value: \"{error_rate}\"}}"
        if error_after:
            env += f", {{name: MODELOPS_EXAMPLE_ERROR_AFTER, value: \"{error_after}\"}}"
        text = text.replace("    port: 8080", f"    port: 8080\n    env: [{env}]")
    return text


def main() -> int:
    kube = Kube(str(KUBECONFIG))
    say("Installing the CRDs and starting Prometheus and the operator")
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
    kubectl("wait", "--for=condition=Established", "crd/modelversions.modelops.io",
            "crd/updatepolicies.modelops.io")
    prom = serving_pods_prometheus(Path(tempfile.mkdtemp(prefix="modelops-demo-prometheus-")),
                                   str(KUBECONFIG), NS)
    note(f"Prometheus at {prom.address}: finds the serving pods of namespace {NS} through the "
         "API server (Kubernetes service discovery), labels them as the chart's PodMonitor "
         "does, scrapes them every second")
    op = OperatorProcess(str(KUBECONFIG), ROOT / ".localcluster" / "logs")
    op.start()
    note(f"operator: kopf run -m modelops.handlers (log: {op.log_path})")
    # A previous run's namespace goes first (the operator releases its finalizers).
    kubectl("delete", "namespace", NS, "--ignore-not-found", "--wait=true", "--timeout=120s")
    kubectl("create", "namespace", NS)
    load: Load | None = None
    try:
        say("1. Serving on the real node: fetched from S3, digest checked, real predictions")
        kubectl("get", "nodes", "-L", "modelops.io/node-kind,nvidia.com/gpu.present")
        _, model = node.serve_example_model(kube, NS)
        digest = "sha256:" + hashlib.sha256(model).hexdigest()
        for v in ("1", "2", "3", "4"):
            node.s3_put("models", f"iris/{v}/model.joblib", model)
        note(f"the example iris model ({len(model)} bytes, {digest[:19]}...) uploaded to the "
             "local S3 server as models/iris/{1,2,3,4}/")
        kubectl("create", "secret", "generic", "s3-creds", "-n", NS,
                *[f"--from-literal={k}={v}" for k, v in node.s3_env().items()])
        kubectl("apply", "-n", NS, "-f", "-", stdin=iris("1", digest))
        watch_mv(kube, "iris-v1", "Ready", timeout=180)
        kubectl("get", "mv,deploy,svc,pods", "-n", NS, "-l", "modelops.io/model=iris",
                "-o", "wide")
        ip = kube.core.read_namespaced_service("iris-1", NS).spec.cluster_ip
        code, body = node.request_soon(ip, 8080, "POST", "/v2/models/iris/infer",
                                       node.IRIS_SETOSA)
        note(f"POST /v2/models/iris/infer {node.IRIS_SETOSA['inputs'][0]['data']} -> {code} "
             f"{body.decode()}")

        say("2. Bad input gets a clear answer")
        r = kube.apply_yaml(NS, "apiVersion: modelops.io/v1alpha1\nkind: ModelVersion\n"
                                "metadata: {name: broken}\n"
                                "spec: {model: iris, version: '9'}\n")
        note("from the API server: " + r.stderr.strip())
        kubectl("apply", "-n", NS, "-f", "-", stdin=iris("8", "sha256:" + "0" * 64).replace(
            "models/iris/8/", "models/iris/1/"))
        note("iris-v8 pins a digest its artifact does not have; the fetcher refuses it:")
        watch_reason(kube, "iris-v8", "FetchFailed")

        say("3. Training: 2 nodes x 8 GPUs under torchrun, then evaluation gates "
            "(kwok's simulated GPU nodes)")
        kubectl("apply", "-n", NS, "-f", str(EXAMPLES / "llm-train-eval.yaml"))
        watch_mv(kube, "llm-v1", "Ready", timeout=120)
        kubectl("get", "jobs", "-n", NS, "-l", "modelops.io/model=llm")
        kubectl("get", "mv", "llm-v1", "-n", NS, "-o",
                "jsonpath=metrics: {.status.evaluation.metrics}  artifact: "
                "{.status.artifactURI}{'\\n'}")

        say("4. A canary that is healthy: walked through every step, then promoted")
        m = Model(kube, NS, "iris")
        policy = (EXAMPLES / "iris" / "iris-policy.yaml").read_text().replace(
            "PROMETHEUS_ADDRESS", prom.address)
        kubectl("apply", "-n", NS, "-f", "-", stdin=policy)
        watch_rollout(m, lambda st: st.get("stableVersion") == "1", timeout=180)
        wait_ready(kube, "iris", 2)
        note("iris-v8, scaled to zero by the policy, still says what its pods learned:")
        watch_mv(kube, "iris-v8", "Failed", timeout=60)
        kubectl("get", "mv", "iris-v8", "-n", NS, "-o", "jsonpath={.status.phase}: "
                "{.status.conditions[?(@.type==\"Verified\")].reason}{'\\n'}")
        load = Load(kube, "iris")
        note("a load generator sends ~20 predictions a second through Service iris")
        kubectl("apply", "-n", NS, "-f", "-", stdin=iris("2", digest))
        watch_mv(kube, "iris-v2", "Ready", timeout=180)
        note("targetVersion 1 -> 2 (the only edit a user or Argo CD makes)")
        m.patch({"targetVersion": "2"})
        watch_rollout(m, lambda st: st.get("phase") == "Promoted"
                      and st.get("stableVersion") == "2", timeout=240)
        note(load.summary())
        kubectl("get", "up,deploy", "-n", NS, "-l", "modelops.io/model=iris")

        say("5. A canary that regresses: rolled back by itself")
        kubectl("apply", "-n", NS, "-f", "-", stdin=iris("3", digest, error_rate=0.3))
        note("version 3 answers 30% of its predictions with a 500 (MODELOPS_EXAMPLE_ERROR_RATE)")
        watch_mv(kube, "iris-v3", "Ready", timeout=180)
        m.patch({"targetVersion": "3"})
        st = watch_rollout(m, lambda st: st.get("phase") == "RolledBack", timeout=240)
        h = st["history"][0]
        note(f"history: revision {h['revision']} {h['outcome']} ({h['reason']}): "
             f"{h['message']}")
        note(load.summary())
        kubectl("get", "up,deploy", "-n", NS, "-l", "modelops.io/model=iris")
        kubectl("describe", "up", "iris", "-n", NS)

        say("6. A regression in production: caught by monitoring, rolled back, and told")
        receiver = Receiver().start()
        kubectl("create", "secret", "generic", "team", "-n", NS,
                f"--from-literal=url={receiver.url}")
        note(f"a webhook receiver listens on {receiver.url}; Secret `team` names it")
        m.patch({"scaleDownDelaySeconds": 300, "notifications": [{"receiver": "team"}],
                 "monitoring": {"interval": "5s", "failureThreshold": 2, "action": "Rollback",
                                "metrics": [{"name": "error-rate", "template": "error-rate",
                                             "window": "20s", "max": 0.05}]}})
        note("the policy now watches the serving version (error-rate every 5s, 2 failures "
             "in a row roll back) and notifies `team`")
        kubectl("apply", "-n", NS, "-f", "-", stdin=iris("4", digest, error_rate=0.3,
                                                         error_after=75))
        note("version 4 answers well for 75s, then fails 30% of predictions: it passes its "
             "canary, and degrades in production")
        watch_mv(kube, "iris-v4", "Ready", timeout=180)
        m.patch({"targetVersion": "4"})
        watch_rollout(m, lambda st: st.get("phase") == "Promoted"
                      and st.get("stableVersion") == "4", timeout=240)
        note(load.summary())
        st = watch_monitoring(m, timeout=240)
        reg = st["monitoring"]["lastRegression"]
        note(f"regression: {reg['version']} {reg['message']}; traffic back on {reg['to']}")
        note(load.summary())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "RolledBack" not in receiver.reasons():
            time.sleep(0.5)
        for msg in receiver.messages:
            note(f"webhook got #{msg['id']} {msg['reason']}: {msg['message']}")
        receiver.stop()
        subprocess.run([sys.executable, "-m", "modelops.cli.main", "status", "iris", "-n", NS],
                       env={**os.environ, "PYTHONPATH": str(ROOT / "operator"),
                            "KUBECONFIG": str(KUBECONFIG)}, check=False)
        load.stop.set()
        load = None
        llm_tour(kube, prom.address)
        loop_tour(kube)
        say("Done. The cluster keeps running (`make cluster-down` stops it); "
            f"the demo's objects are in namespace {NS}.")
    finally:
        if load:
            load.stop.set()
        op.stop()
        prom.stop()
    return 0


def watch_monitoring(m: Model, timeout: float) -> dict[str, Any]:
    """Print each monitoring measurement of the serving version until it is rolled back."""
    seen = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = m.status()
        ms = st.get("monitoring") or {}
        last = (ms.get("measurements") or [{}])[0]
        row = (ms.get("version"), ms.get("phase"), last.get("time"))
        if row != seen and last:
            values = ", ".join(f"{x['name']}={x['value']:.3f}" for x in last.get("metrics") or []
                               if x.get("value") is not None) or "no data"
            note(f"monitoring {ms.get('version')}: {ms.get('phase')} ({values}; failures in a "
                 f"row {ms.get('consecutiveFailures')})")
            seen = row
        reg = ms.get("lastRegression")
        if reg and reg.get("to") and st.get("stableVersion") == reg["to"]:
            return st
        time.sleep(0.5)
    raise SystemExit("monitoring did not roll the regression back in time")






if __name__ == "__main__":
    sys.exit(main())
