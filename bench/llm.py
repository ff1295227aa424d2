"""`make bench` (part): LLM serving on the real node with llama.cpp, results in
bench/results/llm.json (the README's table reads them through bench/figures.py).

One small Llama is trained by a 2-pod gang (examples/llm/tiny-llm-v1.yaml's settings) and
published to the local S3 server; then, medians over the repeats in one run:
- time to ready: a new `llamacpp` version of those weights created -> Ready (its pod's
  timeline: GGUF fetched and its digest checked, server started, ready);
- tokens per second: llama-server's own figure per pod (generation speed of a busy slot, from
  /metrics) and the client's (decode rate after the first token) at a steady load;
- time to first token at that load, from the client's side (streamed OpenAI completions);
- the rollback reaction for a slower LLM: a canary of the same weights on a tenth of a core,
  judged by the `tokens-per-second` template in a real Prometheus scraping the pods, from the
  moment it carries traffic to status RolledBack and to its pods at 0.

    python bench/llm.py [--repeats 3] [--rate 2] [--seconds 30]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import harness
from bench.realnode import startup  # not hack/cluster/realnode (harness puts it first)
from tests.support import node
from tests.support.llmload import LLMLoad, summary
from tests.support.manifests import model_version
from tests.support.prometheus import serving_pods_prometheus
from tests.support.rollout import Model
from tests.support.waiting import wait_for

TRAINER = "localhost/modelops/trainer:dev"
LLAMA = "localhost/modelops/llama-server:dev"
FAST = {"runtime": "llamacpp", "resources": {"memory": "512Mi"}, **node.on_real_node()}
# The same weights on a tenth of a core: its quota runs out in the middle of answers.
SLOW = {**FAST, "resources": {"cpu": "100m", "memory": "512Mi"}}
MIN_SPEED = 1000  # tokens/s per busy slot, 64-token answers: 3,600+ with free CPU, ~200 on a tenth
INTERVAL_S = 5


def secret(kube: Any, ns: str) -> None:
    kube.kubectl("create", "secret", "generic", "s3-creds", "-n", ns,
                 *[f"--from-literal={k}={v}" for k, v in node.s3_env().items()])


def train(kube: Any, ns: str) -> tuple[str, str, float]:
    """The trained model's URI, its GGUF's digest, and the seconds from created to Ready."""
    node.s3_bucket("models")
    secret(kube, ns)
    t0 = time.time()
    kube.create(ns, model_version(
        "tiny-llm-1", "tiny-llm", "1", artifact=None,
        training={"image": TRAINER, "command": ["python3", "/opt/modelops/train_lm.py"],
                  "nodes": 2, "gpusPerNode": 0, "backend": "gloo", "maxRestarts": 1,
                  "outputURI": f"s3://models/{ns}/tiny-llm/1", "credentialsSecret": "s3-creds",
                  "resources": {"memory": "1Gi"}, **node.on_real_node()},
        evaluation={"image": LLAMA, "command": ["python3", "/opt/modelops/evaluate.py"],
                    "gates": [{"metric": "perplexity", "max": 250}], **node.on_real_node()}))
    deadline = time.monotonic() + 900
    while ((st := (kube.get_mv(ns, "tiny-llm-1") or {}).get("status") or {}).get("phase")
           != "Ready"):
        if st.get("phase") == "Failed" or time.monotonic() > deadline:
            raise SystemExit(f"training did not end Ready: {st}")
        time.sleep(1)
    gguf = (node.STATE / "s3" / "models" / ns / "tiny-llm" / "1" / "model.gguf").read_bytes()
    return st["artifactURI"] + "/model.gguf", hashlib.sha256(gguf).hexdigest(), time.time() - t0


def slot_speed(kube: Any, ns: str, service: str) -> float:
    """llama-server's generation speed per busy slot, from its counters."""
    ip = kube.core.read_namespaced_service(service, ns).spec.cluster_ip
    _, text = node.request_soon(ip, 8080, "GET", "/metrics")
    values = {line.split()[0]: float(line.split()[-1]) for line in text.decode().splitlines()
              if line.startswith("llamacpp:tokens_predicted")}
    return values["llamacpp:tokens_predicted_total"] / values[
        "llamacpp:tokens_predicted_seconds_total"]


def slower_canary(m: Model, v: str) -> dict[str, Any]:
    m.patch({"targetVersion": v})
    m.wait(f"canary {v} carrying traffic", timeout=240, canaryVersion=v,
           actualCanaryWeight=lambda w: bool(w))
    t0 = time.monotonic()
    st = wait_for(lambda: (s if (s := m.status()).get("phase") == "RolledBack"
                           and s["history"][0]["version"] == v else None),
                  timeout=300, interval=0.2, what=f"canary {v} rolled back")
    decided = time.monotonic() - t0
    wait_for(lambda: m.replicas(v) == 0, timeout=60, interval=0.2, what=f"canary {v} at 0 pods")
    return {"status_s": decided, "traffic_s": time.monotonic() - t0,
            "message": st["history"][0]["message"]}


def slow_rollbacks(kube: Any, ns: str, artifact: dict[str, Any], prometheus: str,
                   repeats: int, rate: float) -> list[dict[str, Any]]:
    """Model `chat` served by a fast version; then `repeats` slower canaries in turn, each
    timed from carrying traffic to RolledBack (the analysis decided) and to 0 pods."""
    for v, serving in [("1", FAST)] + [(str(i + 2), SLOW) for i in range(repeats)]:
        kube.create(ns, model_version(f"chat-{v}", "chat", v, artifact=artifact,
                                      serving=serving))
    m = Model(kube, ns, "chat")
    m.policy(targetVersion="1", replicas=1, service={"name": "chat", "port": 80},
             strategy={"canary": {"steps": [{"setWeight": 50}, {"pause": {"duration": "5m"}}]}},
             analysis={"interval": f"{INTERVAL_S}s", "failureLimit": 0, "inconclusiveLimit": 30,
                       "prometheus": {"address": prometheus},
                       "metrics": [{"name": "speed", "template": "tokens-per-second",
                                    "window": "20s", "min": MIN_SPEED}]},
             rollback={"automatic": True})
    m.wait("chat 1 stable", timeout=240, stableVersion="1", phase="Promoted")
    load = LLMLoad(kube, ns, "chat", 80, rate=rate, max_tokens=64, name="chatload")
    out = []
    try:
        for i in range(repeats):
            out.append(slower_canary(m, str(i + 2)))
            harness.log(f"slower canary {i + 1}/{repeats} rolled back {out[-1]['status_s']:.1f}s"
                        f" after it carried traffic ({out[-1]['message']})")
        clients = summary(load.answers())
    finally:
        load.stop()
    if clients["failed"]:
        raise SystemExit(f"clients failed during the slower canaries: {clients}")
    return out


def med(xs: list[float]) -> dict[str, float]:
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rate", type=float, default=2.0)
    ap.add_argument("--seconds", type=float, default=30.0)
    args = ap.parse_args()
    kube = harness.cluster()
    work = Path(tempfile.mkdtemp(prefix="modelops-llm-"))
    op = harness.operator(harness.install_identity(kube, work))
    try:
        ns = harness.fresh_namespace(kube, "bench-llm")
        uri, digest, trained_s = train(kube, ns)
        harness.log(f"trained, evaluated and published in {trained_s:.0f}s: {uri}")
        artifact = {"uri": uri, "digest": f"sha256:{digest}", "credentialsSecret": "s3-creds"}
        ready = []
        for i in range(args.repeats):
            ready.append(startup(kube, ns, f"llm{i}-1", {"artifact": artifact,
                                                         "serving": FAST}, real=True))
            harness.log(f"version {i + 1}/{args.repeats} ready: {ready[-1]}")
        loads = []
        for i in range(args.repeats):  # each version in turn: its own pod, its own load
            load = LLMLoad(kube, ns, f"llm{i}-1", 8080, rate=args.rate, max_tokens=32,
                           name=f"llmload{i}")
            t0 = time.time()
            time.sleep(args.seconds)
            client = summary(load.answers(since=t0 + 5))
            load.stop()
            loads.append({**client, "server_tokens_per_s": slot_speed(kube, ns, f"llm{i}-1")})
            harness.log(f"load {i + 1}/{args.repeats}: {loads[-1]}")
        prom = serving_pods_prometheus(work / "prometheus", kube.kubeconfig, ns)
        try:
            rollbacks = slow_rollbacks(kube, ns, artifact, prom.address, args.repeats,
                                       args.rate)
        finally:
            prom.stop()
        harness.wait_gone(kube, ns)
    finally:
        op.stop()
        harness.remove_identity(kube)
    harness.save("llm", {
        "trained_s": trained_s, "rate": args.rate, "seconds": args.seconds,
        "ready_s": med([r["ready_s"] for r in ready]),
        "pod_to_fetched_s": med([r["pod_to_fetched_s"] for r in ready]),
        "pod_to_ready_s": med([r["pod_to_ready_s"] for r in ready]),
        "client": {k: statistics.median(r[k] for r in loads) for k in (
            "ttft_p50_ms", "ttft_p90_ms", "tokens_per_s_p50")},
        "failed": sum(r["failed"] for r in loads), "requests": sum(r["requests"] for r in loads),
        "server_tokens_per_s": statistics.median(r["server_tokens_per_s"] for r in loads),
        "min_speed": MIN_SPEED,
        "interval_s": INTERVAL_S,
        "rollback_status_s": med([r["status_s"] for r in rollbacks]),
        "rollback_traffic_s": med([r["traffic_s"] for r in rollbacks]),
        "runs": {"ready": ready, "load": loads, "rollback": rollbacks}})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
