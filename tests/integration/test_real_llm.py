"""An LLM made and served here end to end, on the real node, by the operator as users install
it: a small Llama trained by a two-pod torchrun gang (gloo) on the public-domain corpus,
published as GGUF to the local S3 server, evaluated by llama.cpp's llama-perplexity on the text
the trainer held out (a perplexity gate), served by the `llamacpp` preset (llama-server), and
answering OpenAI completions, the same greedy words PyTorch computed from the same weights."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.support import node
from tests.support.kube import Kube
from tests.support.manifests import model_version
from tests.support.shipped import ShippedOperator
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.real_node]

TRAINER = "localhost/modelops/trainer:dev"
LLAMA = "localhost/modelops/llama-server:dev"
VOCAB = 512


@pytest.fixture
def operator(shipped_operator: ShippedOperator) -> ShippedOperator:
    return shipped_operator


def status(kube: Kube, ns: str, name: str) -> dict[str, Any]:
    return dict((kube.get_mv(ns, name) or {}).get("status") or {})


def logs(kube: Kube, ns: str, component: str) -> str:
    pods = kube.core.list_namespaced_pod(
        ns, label_selector=f"app.kubernetes.io/component={component}").items
    return "".join(kube.kubectl("logs", "-n", ns, p.metadata.name, "--all-containers",
                                check=False).stdout for p in pods)


def completion(ip: str, body: dict[str, Any], path: str = "/v1/completions"
               ) -> dict[str, Any]:
    code, raw = node.request_soon(ip, 8080, "POST", path, body, within=30)
    assert code == 200, raw[:500]
    return dict(json.loads(raw))


@pytest.mark.timeout(600)
def test_a_gang_trained_llm_is_evaluated_served_and_answers(
        kube: Kube, namespace: str, operator: Any) -> None:
    node.s3_bucket("models")
    kube.kubectl("create", "secret", "generic", "s3-creds", "-n", namespace,
                 *[f"--from-literal={k}={v}" for k, v in node.s3_env().items()])
    placement = node.on_real_node()
    prefix = f"{namespace}/tiny-llm/1"
    kube.create(namespace, model_version(
        "tiny-llm-1", "tiny-llm", "1", artifact=None,
        training={"image": TRAINER, "command": ["python3", "/opt/modelops/train_lm.py"],
                  "nodes": 2, "gpusPerNode": 0, "backend": "gloo", "maxRestarts": 1,
                  "outputURI": f"s3://models/{prefix}", "credentialsSecret": "s3-creds",
                  # No CPU limit: each rank takes what the node has free (two pods of a whole
                  # core each would not fit beside the node's other pods).
                  "resources": {"memory": "1Gi"}, **placement},
        evaluation={"image": LLAMA, "command": ["python3", "/opt/modelops/evaluate.py"],
                    "gates": [{"metric": "perplexity", "max": 250}], **placement},
        serving={"runtime": "llamacpp", "resources": {"memory": "512Mi"}, **placement}))
    deadline = time.monotonic() + 600
    while (phase := status(kube, namespace, "tiny-llm-1").get("phase")) != "Ready":
        assert phase != "Failed" and time.monotonic() < deadline, (
            status(kube, namespace, "tiny-llm-1"), logs(kube, namespace, "training")[-3000:],
            logs(kube, namespace, "evaluation")[-2000:])
        time.sleep(2)
    st = status(kube, namespace, "tiny-llm-1")
    trained = logs(kube, namespace, "training")
    assert "joined a gang of 2" in trained and "held-out perplexity" in trained, trained[-2000:]
    # llama.cpp scored the published GGUF on text it never saw: better than half of chance
    # (the vocabulary's size; the tiny model learns its corpus by heart more than it
    # generalises), and the gate let it through.
    ppl = st["evaluation"]["metrics"]["perplexity"]
    assert 1 < ppl < VOCAB / 2 and st["evaluation"]["passed"] is True, st["evaluation"]

    sample = json.loads((node.STATE / "s3" / "models" / prefix / "sample.json").read_text())
    ip = kube.core.read_namespaced_service(st["serving"]["service"], namespace).spec.cluster_ip
    answer = completion(ip, {"model": "tiny-llm", "prompt": sample["prompt"], "max_tokens": 24,
                             "temperature": 0})
    text = answer["choices"][0]["text"]
    # The same weights give the same greedy text in llama.cpp as in PyTorch: the GGUF holds
    # the model that was trained (names, shapes, rotary layout and tokenizer all read right).
    # Its first half only: float sums in another order may break a near-tie later on.
    half = sample["text"][:len(sample["text"]) // 2]
    assert len(set(half)) > 3 and text.startswith(half), (text, sample["text"])
    assert answer["usage"]["completion_tokens"] > 0
    chat = completion(ip, {"model": "tiny-llm", "max_tokens": 8, "messages": [
        {"role": "user", "content": "Quoth the Raven"}]}, "/v1/chat/completions")
    assert chat["choices"][0]["message"]["role"] == "assistant"
    code, metrics = node.request_soon(ip, 8080, "GET", "/metrics")
    predicted = [float(line.split()[-1]) for line in metrics.decode().splitlines()
                 if line.startswith("llamacpp:tokens_predicted_total")]
    assert code == 200 and predicted and predicted[0] >= 24, metrics[:800]
    code, health = node.request_soon(ip, 8080, "GET", "/health")
    assert code == 200, health
    # Gone before the next test starts: the node's proxies and policy agent settle first.
    kube.kubectl("delete", "mv", "tiny-llm-1", "-n", namespace, "--wait=true", "--timeout=120s")
    wait_for(lambda: not kube.core.list_namespaced_pod(namespace).items, timeout=120,
             what="the LLM's pods gone")

