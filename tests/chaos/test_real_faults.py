"""Faults on real pods, under load: the operator installed by Helm in its pod, 3 serving
replicas of the example model on the real node, a load generator sending 20 requests a
second through the model's Service, and a canary in its first pause when the fault hits.

For each fault: how many requests failed (the goal is none), whether the rollout still ends
promoted with exactly the history it should have, and that no child or history entry was
doubled. A crashed serving process is the one fault replicas cannot hide entirely: requests
already on their way to it fail until its endpoint leaves the Service, and the test checks
that every failure lies in that window. Each result is written to bench/results/faults.json
(docs/reliability.md's table)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.support import faults, results
from tests.support.kube import Kube
from tests.support.loadgen import Answer, Recorder, explain, iris_model, now, traffic
from tests.support.shipped import SOCKET, ShippedOperator
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.real_node]
REPLICAS = 3
STEPS = [{"setWeight": 33}, {"pause": {"duration": "12s"}},
         {"setWeight": 67}, {"pause": {"duration": "5s"}}]


@pytest.fixture
def operator(shipped_operator: ShippedOperator) -> ShippedOperator:
    return shipped_operator


def serving_pods(kube: Kube, ns: str, version: str) -> list[Any]:
    return [p for p in kube.core.list_namespaced_pod(
        ns, label_selector=f"modelops.io/version={version},modelops.io/serving=true").items
        if not p.metadata.deletion_timestamp]


def delete_serving_pod(kube: Kube, ns: str, operator: ShippedOperator) -> dict[str, Any]:
    """A stable pod evicted as a drain would: a graceful delete."""
    pod = serving_pods(kube, ns, "1")[0]
    kube.kubectl("delete", "pod", pod.metadata.name, "-n", ns, "--wait=false")
    return {"pod": pod.metadata.name}


def crash_serving_pod(kube: Kube, ns: str, operator: ShippedOperator) -> dict[str, Any]:
    """A stable pod's server SIGKILLed (a crash): the kubelet restarts the container."""
    pod = serving_pods(kube, ns, "1")[0]
    cid = pod.status.container_statuses[0].container_id.split("://", 1)[1]
    subprocess.run(["ctr", f"--address={SOCKET}", "-n", "k8s.io", "tasks", "kill", "-s",
                    "SIGKILL", cid], check=True, capture_output=True)
    return {"pod": pod.metadata.name, "ip": pod.status.pod_ip}


def node_process(name: str) -> Callable[[Kube, str, ShippedOperator], dict[str, Any]]:
    def restart(kube: Kube, ns: str, operator: ShippedOperator) -> dict[str, Any]:
        return {"away_s": round(faults.restart(name, kube), 2)}
    restart.__doc__ = f"{name} SIGKILLed and started again"
    return restart


def kill_operator(kube: Kube, ns: str, operator: ShippedOperator) -> dict[str, Any]:
    """The in-cluster operator's process SIGKILLed; the kubelet starts it again."""
    before = operator.restarts()
    operator.kill()
    operator.start()
    return {"restarts": operator.restarts() - before}


def restart_apiserver(kube: Kube, ns: str, operator: ShippedOperator) -> dict[str, Any]:
    return {"away_s": round(faults.restart_apiserver(kube), 2)}


FAULTS: dict[str, Callable[[Kube, str, ShippedOperator], dict[str, Any]]] = {
    "delete a serving pod": delete_serving_pod,
    "crash a serving pod": crash_serving_pod,
    "restart containerd": node_process("containerd"),
    "restart the kubelet": node_process("kubelet"),
    "SIGKILL the operator pod": kill_operator,
    "restart the API server": restart_apiserver,
}


def failures(answers: list[Answer]) -> list[Answer]:
    return [a for a in answers if a.code != 200]


def gone_at(rec: Recorder, ip: str, since: float) -> float:
    """When `ip` was first seen missing from the Service's ready endpoints after `since` (its
    container, restarted by the kubelet, comes back later under the same address)."""
    return next((s.t for s in rec.samples if s.t >= since and ip not in s.addresses), since)


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_canary_under_load_rides_out(fault: str, kube: Kube, namespace: str,
                                       operator: ShippedOperator) -> None:
    m = iris_model(kube, namespace, ["1", "2"], REPLICAS, STEPS)
    with traffic(kube, namespace, REPLICAS) as (rec, load):
        start = now()
        m.patch({"targetVersion": "2"})
        m.wait("in the first pause", timeout=180, currentStepIndex=1)
        hit = now()
        detail = FAULTS[fault](kube, namespace, operator)
        st = m.wait("2 promoted", timeout=300, phase="Promoted", stableVersion="2")
        time.sleep(3)
        end = now()
        answers = wait_for(lambda: (a := load.answers(since=start, until=end)) and
                           a[-1].t >= end - 1 and a, timeout=60, what="the answers")
    bad = failures(answers)
    deployments = sorted(d.metadata.name for d in
                         kube.apps.list_namespaced_deployment(namespace).items)
    history = [(h["revision"], h["version"], h["outcome"]) for h in st["history"]]
    result = {"answers": len(answers), "failed": len(bad), "detail": detail,
              "promoted_after_s": round(end - 3 - hit, 1),
              "fewest_endpoints": rec.fewest_endpoints(start, end), "history": history}
    window = None
    if "ip" in detail:  # the crashed pod's requests fail until its endpoint leaves
        left = gone_at(rec, detail["ip"], hit)
        window = [round(min((a.t for a in bad), default=hit) - hit, 2), round(left - hit, 2)]
        result["failed_window_s"] = window
    results.record("faults", "faults", fault, result)
    print(f"\n{fault}: {result}")

    assert len(answers) > 20 * (end - start) * 0.8, "the load generator fell behind"
    assert history == [(2, "2", "Promoted"), (1, "1", "Promoted")], history
    assert deployments == ["iris-1", "iris-2"], deployments
    assert st["revision"] == 2
    if window is None:
        assert not bad, explain(bad, rec, start)
    else:  # every failure in the moments its endpoint was still listed (+1 s for kube-proxy)
        left = gone_at(rec, detail["ip"], hit)
        assert all(hit <= a.t <= left + 1.0 for a in bad), explain(bad, rec, start)
