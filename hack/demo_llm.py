"""The LLM part of `make demo`: a small Llama trained by a 2-pod gang on the real node,
published as GGUF, evaluated by llama.cpp, served by the `llamacpp` preset and answering; then
canaries of it judged on llama-server's own metrics under streamed OpenAI traffic."""

from __future__ import annotations

import json

from tests.support import node
from tests.support.kube import Kube
from tests.support.llmload import LLMLoad, summary
from tests.support.prometheus import Prometheus
from tests.support.rollout import Model

from narrate import EXAMPLES, NS, kubectl, note, say, watch_mv, watch_rollout


def version(n: str, cpu: str | None = None) -> str:
    """tiny-llm version `n`: the trained model's weights (version 1's output), served as is,
    on `cpu` (a CPU limit) when given."""
    res = f"{{cpu: \"{cpu}\", memory: 512Mi}}" if cpu else "{memory: 512Mi}"
    return ("apiVersion: modelops.io/v1alpha1\nkind: ModelVersion\n"
            f"metadata: {{name: tiny-llm-v{n}}}\n"
            f"spec:\n  model: tiny-llm\n  version: \"{n}\"\n"
            "  artifact: {uri: s3://models/tiny-llm/1, credentialsSecret: s3-creds}\n"
            f"  serving: {{runtime: llamacpp, resources: {res}}}\n")


def llm_tour(kube: Kube, prom: Prometheus) -> None:
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

    say("8. LLM canaries judged on tokens per second, under streamed traffic")
    for n, cpu in (("2", "100m"), ("3", None)):
        kubectl("apply", "-n", NS, "-f", "-", stdin=version(n, cpu))
    note("tiny-llm 2 serves the same weights on a tenth of a core (slower); 3 as 1 does")
    policy = (EXAMPLES / "llm" / "tiny-llm-policy.yaml").read_text().replace(
        "PROMETHEUS_ADDRESS", prom.address)
    kubectl("apply", "-n", NS, "-f", "-", stdin=policy)
    m = Model(kube, NS, "tiny-llm")
    watch_rollout(m, lambda st: st.get("stableVersion") == "1", timeout=240)
    for n in ("2", "3"):
        watch_mv(kube, f"tiny-llm-v{n}", "Ready", timeout=240)
    load = LLMLoad(kube, NS, "tiny-llm", 80, rate=2, max_tokens=16)
    note("a load generator streams 2 completions a second through Service tiny-llm "
         "(OpenAI API, time to first token measured by the client)")
    try:
        m.patch({"targetVersion": "2"})
        st = watch_rollout(m, lambda st: st.get("phase") == "RolledBack", timeout=300)
        h = st["history"][0]
        note(f"history: revision {h['revision']} {h['outcome']} ({h['reason']}): "
             f"{h['message']}")
        m.patch({"targetVersion": "3"})
        watch_rollout(m, lambda st: st.get("phase") == "Promoted"
                      and st.get("stableVersion") == "3", timeout=300)
        note(f"the clients' side: {summary(load.answers())}")
    finally:
        load.stop()
    kubectl("get", "up,mv", "-n", NS, "-l", "modelops.io/model=tiny-llm")
