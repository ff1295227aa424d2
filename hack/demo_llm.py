"""The LLM part of `make demo`: a small Llama trained by a 2-pod gang on the real node,
published as GGUF, evaluated by llama.cpp, served by the `llamacpp` preset and answering; then
rolled out as canaries judged on llama-server's own metrics under streamed traffic."""

from __future__ import annotations

import json

from tests.support import node
from tests.support.kube import Kube
from tests.support.llmload import LLMLoad, summary
from tests.support.rollout import Model

from narrate import EXAMPLES, NS, kubectl, note, say, watch_mv, watch_rollout


def version(n: str, uri: str, resources: dict[str, str], why: str) -> str:
    """A ModelVersion of the trained weights (no training again), as YAML."""
    return json.dumps({
        "apiVersion": "modelops.io/v1alpha1", "kind": "ModelVersion",
        "metadata": {"name": f"tiny-llm-v{n}", "annotations": {"demo": why}},
        "spec": {"model": "tiny-llm", "version": n,
                 "artifact": {"uri": uri, "credentialsSecret": "s3-creds"},
                 "serving": {"runtime": "llamacpp", "resources": resources,
                             **node.on_real_node()}}})


def llm_tour(kube: Kube, prometheus: str) -> None:
    say("7. An LLM made here: trained by a 2-pod gang, evaluated by llama.cpp, served, answering")
    note("a small Llama (about 0.6M parameters) learns the public-domain corpus in "
         "images/trainer/corpus across 2 pods (torchrun, gloo), is written as GGUF to S3 with "
         "the text it held out; llama-perplexity scores it; llama-server serves it")
    kubectl("apply", "-n", NS, "-f", str(EXAMPLES / "llm" / "tiny-llm-v1.yaml"))
    watch_mv(kube, "tiny-llm-v1", "Ready", timeout=900)
    kubectl("get", "mv", "tiny-llm-v1", "-n", NS, "-o", "jsonpath=evaluation: "
            "{.status.evaluation}  artifact: {.status.artifactURI}{'\\n'}")
    ip = kube.core.read_namespaced_service("tiny-llm-1", NS).spec.cluster_ip
    prompt = "Once upon a midnight dreary,"
    code, body = node.request_soon(ip, 8080, "POST", "/v1/completions", {
        "model": "tiny-llm", "prompt": prompt, "max_tokens": 24, "temperature": 0})
    answer = json.loads(body)["choices"][0]["text"] if code == 200 else body.decode()
    note(f"POST /v1/completions {prompt!r} -> {code} {answer!r}")

    say("8. LLM canaries judged on llama-server's metrics: a slower one rolled back, an "
        "as-good one promoted")
    m = Model(kube, NS, "tiny-llm")
    policy = (EXAMPLES / "llm" / "tiny-llm-policy.yaml").read_text().replace(
        "PROMETHEUS_ADDRESS", prometheus)
    kubectl("apply", "-n", NS, "-f", "-", stdin=policy)
    watch_rollout(m, lambda st: st.get("stableVersion") == "1", timeout=180)
    load = LLMLoad(kube, NS, "tiny-llm", 80, rate=2, max_tokens=64)
    note("a load generator streams 2 completions of 64 tokens a second through Service tiny-llm "
         "(OpenAI API), timing the first token and the tokens/s from the client's side")
    try:
        uri = (kube.get_mv(NS, "tiny-llm-v1") or {})["status"]["artifactURI"]
        kubectl("apply", "-n", NS, "-f", "-", stdin=version(
            "2", uri, {"cpu": "100m", "memory": "512Mi"}, "the same weights on a tenth of a core"))
        note("version 2: the same weights on a tenth of a core (cpu: 100m), the same answers, "
             "much more slowly")
        watch_mv(kube, "tiny-llm-v2", "Ready", timeout=180)
        m.patch({"targetVersion": "2"})
        st = watch_rollout(m, lambda st: st.get("phase") == "RolledBack", timeout=300)
        h = st["history"][0]
        note(f"history: revision {h['revision']} {h['outcome']} ({h['reason']}): {h['message']}")
        kubectl("apply", "-n", NS, "-f", "-", stdin=version(
            "3", uri, {"memory": "512Mi"}, "as good as version 1"))
        watch_mv(kube, "tiny-llm-v3", "Ready", timeout=180)
        m.patch({"targetVersion": "3"})
        watch_rollout(m, lambda st: st.get("phase") == "Promoted"
                      and st.get("stableVersion") == "3", timeout=300)
        figures = summary(load.answers())
        note(f"clients: {figures['requests']} completions, {figures['failed']} failed; time to "
             f"first token p50 {figures['ttft_p50_ms']} ms, p90 {figures['ttft_p90_ms']} ms; "
             f"{figures['tokens_per_s_p50']} tokens/s (p50)")
    finally:
        load.stop()
    kubectl("get", "up/tiny-llm", "-n", NS)
    kubectl("get", "deploy", "-n", NS, "-l", "modelops.io/model=tiny-llm")
