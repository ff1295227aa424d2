"""An LLM made and served here end to end, on the real node, by the operator as users install
it: a small Llama trained by a two-pod torchrun gang (gloo) on the public-domain corpus,
published as GGUF to the local S3 server, evaluated by llama.cpp's llama-perplexity on the text
the trainer held out (a perplexity gate), served by the `llamacpp` preset (llama-server), and
answering OpenAI completions, the same greedy words PyTorch computed from the same weights.
Then canaries of that model under streamed traffic, judged on llama-server's own metrics in a
real Prometheus: a slower version (a tenth of a core) is rolled back, an as-good one promoted.

The second test serves the model the first one trained (training it again would double the
longest part): run them together."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.support import node
from tests.support.kube import Kube
from tests.support.llmload import LLMLoad, summary
from tests.support.manifests import model_version
from tests.support.prometheus import Prometheus
from tests.support.rollout import Model
from tests.support.shipped import ShippedOperator
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.real_node]

TRAINER = "localhost/modelops/trainer:dev"
LLAMA = "localhost/modelops/llama-server:dev"
VOCAB = 512
TRAINED: dict[str, str] = {}  # where the first test's model lies (uri), for the second
# llama-server's generation speed per busy slot (tokens-per-second) a canary must keep.
# Measured here for answers of 64 tokens at 1 or 2 requests/s: 3,600-4,300 with the node's
# free CPU, about 200 on a tenth of a core (its quota runs out in the middle of an answer, and
# the slot waits for the next period). Shorter answers fit in a period more often (16 tokens:
# about 500 on a tenth, from 2,300 on a whole core at 1 request/s): too close to judge.
MIN_SPEED = 1000
TOKENS = 64


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
        # What failed first: pytest cuts a long message short.
        assert phase != "Failed" and time.monotonic() < deadline, (
            [c.get("message") for c in status(kube, namespace, "tiny-llm-1").get(
                "conditions", []) if c.get("status") != "True"],
            logs(kube, namespace, "evaluation")[-2000:], logs(kube, namespace, "training")[-2000:])
        time.sleep(2)
    st = status(kube, namespace, "tiny-llm-1")
    trained = logs(kube, namespace, "training")
    assert "joined a gang of 2" in trained and "held-out perplexity" in trained, trained[-2000:]
    # llama.cpp scored the published GGUF on text it never saw: better than half of chance
    # (the vocabulary's size; the tiny model learns its corpus by heart more than it
    # generalises), and the gate let it through.
    ppl = st["evaluation"]["metrics"]["perplexity"]
    assert 1 < ppl < VOCAB / 2 and st["evaluation"]["passed"] is True, st["evaluation"]

    TRAINED["uri"] = st["artifactURI"]
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



@pytest.mark.timeout(900)
def test_llm_canaries_are_judged_on_llama_servers_metrics(
        kube: Kube, namespace: str, operator: Any, pods_prometheus: Prometheus) -> None:
    assert TRAINED, "serves the model test_a_gang_trained_llm... trains: run them together"
    kube.kubectl("create", "secret", "generic", "s3-creds", "-n", namespace,
                 *[f"--from-literal={k}={v}" for k, v in node.s3_env().items()])
    artifact = {"uri": TRAINED["uri"], "credentialsSecret": "s3-creds"}
    fast = {"runtime": "llamacpp", "resources": {"memory": "512Mi"}, **node.on_real_node()}
    # The same weights on a tenth of a core (a CPU quota): the same answers, much more slowly.
    slow = {**fast, "resources": {"cpu": "100m", "memory": "512Mi"}}
    for v, serving in (("1", fast), ("2", slow), ("3", fast)):
        kube.create(namespace, model_version(f"tiny-llm-{v}", "tiny-llm", v, artifact=artifact,
                                             serving=serving))
    m = Model(kube, namespace, "tiny-llm")
    m.policy(targetVersion="1", replicas=1, service={"name": "tiny-llm", "port": 80},
             strategy={"canary": {"steps": [{"setWeight": 50}, {"pause": {"duration": "30s"}}]}},
             analysis={"interval": "10s", "failureLimit": 0, "inconclusiveLimit": 10,
                       "prometheus": {"address": operator.reach(namespace, "prometheus",
                                                                pods_prometheus.port)},
                       "metrics": [{"name": "speed", "template": "tokens-per-second",
                                    "window": "20s", "min": MIN_SPEED}]},
             rollback={"automatic": True})
    m.wait("v1 stable", timeout=240, stableVersion="1", phase="Promoted")
    # A new Service: each node's proxy learns of it (and refuses connections) for a moment.
    ip = kube.core.read_namespaced_service("tiny-llm", namespace).spec.cluster_ip
    assert node.request_soon(ip, 80, "GET", "/health")[0] == 200
    load = LLMLoad(kube, namespace, "tiny-llm", 80, rate=2, max_tokens=TOKENS)
    try:
        m.patch({"targetVersion": "2"})
        try:
            st = m.wait("the slow canary rolled back", timeout=300, phase="RolledBack")
        except AssertionError as e:
            raise AssertionError(f"{e}\noperator:\n{operator.tail(200)}") from None
        assert st["history"][0]["reason"] == "AnalysisFailed", st["history"][0]
        assert "speed=" in st["history"][0]["message"], st["history"][0]
        m.patch({"targetVersion": "3"})
        st3 = m.wait("the as-good canary promoted", timeout=300, phase="Promoted",
                     stableVersion="3")
        answers = load.answers()
        figures = summary(answers)
    finally:
        load.stop()
    # The clients were served throughout (a slow canary is slow, not failing).
    failed = [(time.strftime("%H:%M:%S", time.gmtime(a.t)), a.code, a.error)
              for a in answers if a.code != 200]
    if failed:
        print("\n".join(map(str, failed)), "\n", json.dumps(st3["history"], indent=1))
        print(kube.kubectl("get", "events", "-n", namespace, "--sort-by=.lastTimestamp",
                           "-o", "custom-columns=T:.lastTimestamp,OBJ:.involvedObject.name,"
                           "R:.reason,M:.message", check=False).stdout)
    assert figures["requests"] >= 20 and not failed, (figures, failed, st3["history"])
    print(f"LLM canaries: slow one rolled back ({st['history'][0]['message']}), as-good one "
          f"promoted; clients: {figures}")


@pytest.mark.timeout(600)
def test_an_llm_version_scales_on_its_queue(
        kube: Kube, namespace: str, operator: Any, pods_prometheus: Prometheus,
        autoscalers: None) -> None:
    """spec.autoscaling's `queue-length` template on llama-server's own
    `llamacpp:requests_deferred`: one slot a pod and a fifth of a core, so a steady stream
    queues at one pod and is served at two or three."""
    assert TRAINED, "serves the model test_a_gang_trained_llm... trains: run them together"
    kube.kubectl("create", "secret", "generic", "s3-creds", "-n", namespace,
                 *[f"--from-literal={k}={v}" for k, v in node.s3_env().items()])
    kube.create(namespace, model_version(
        "tiny-llm-1", "tiny-llm", "1",
        artifact={"uri": TRAINED["uri"], "credentialsSecret": "s3-creds"},
        serving={"runtime": "llamacpp", "resources": {"cpu": "200m", "memory": "512Mi"},
                 "args": ["--host", "0.0.0.0", "--port", "8080", "--metrics", "--alias",
                          "$(MODEL_NAME)", "--parallel", "1"], **node.on_real_node()}))
    m = Model(kube, namespace, "tiny-llm")
    m.policy(targetVersion="1", replicas=1, service={"name": "tiny-llm", "port": 80},
             autoscaling={"minReplicas": 1, "maxReplicas": 3,
                          "scaleDownStabilizationSeconds": 20,
                          "prometheus": {"address": operator.reach(namespace, "prometheus",
                                                                   pods_prometheus.port)},
                          "metrics": [{"template": "queue-length", "target": 1}]})
    m.wait("v1 stable", timeout=240, stableVersion="1", phase="Promoted")
    so = kube.kubectl("get", "scaledobject", "tiny-llm", "-n", namespace, "-o", "json").stdout
    assert "llamacpp:requests_deferred" in json.loads(so)["spec"]["triggers"][0]["metadata"][
        "query"]
    ip = kube.core.read_namespaced_service("tiny-llm", namespace).spec.cluster_ip
    assert node.request_soon(ip, 80, "GET", "/health")[0] == 200

    def ready() -> int:
        dep = kube.apps.read_namespaced_deployment("tiny-llm-1", namespace)
        return int(dep.status.ready_replicas or 0)
    load = LLMLoad(kube, namespace, "tiny-llm", 80, rate=8, max_tokens=TOKENS)
    try:
        start = time.time()
        wait_for(lambda: ready() >= 2, timeout=240,
                 what=f"a second llama-server for the queue; last {m.status()}")
        grown = time.time()
        time.sleep(10)
        answers = load.answers()
    finally:
        load.stop()
    wait_for(lambda: ready() == 1 and m.status().get("replicas") == 1, timeout=240,
             what="back to one llama-server once the queue is gone")
    failed = [(a.code, a.error) for a in answers if a.code != 200]
    assert len(answers) >= 40 and not failed, (len(answers), failed[:5])
    print(f"LLM on its queue: a second server ready {grown - start:.1f}s after the load; "
          f"{len(answers)} completions, 0 failed; {summary(answers)}")
