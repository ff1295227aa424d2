"""The LLM part of `make demo`: a small Llama trained by a 2-pod gang on the real node,
published as GGUF, evaluated by llama.cpp, served by the `llamacpp` preset and answering."""

from __future__ import annotations

import json

from tests.support import node
from tests.support.kube import Kube

from narrate import EXAMPLES, NS, kubectl, note, say, watch_mv


def llm_tour(kube: Kube) -> None:
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
