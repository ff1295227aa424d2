"""The chart's NetworkPolicy, enforced for real: kube-router's policy controller runs on the
real node (hack/cluster/realnode.py), and the operator, installed by Helm with
`networkPolicy.enabled`, reaches the API server, the Prometheus and the webhook its values
allow, and nothing else; its metrics answer only the namespace allowed to scrape them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import node
from tests.support.bridge import InNode, realnode
from tests.support.kube import Kube
from tests.support.manifests import served
from tests.support.operator import OperatorProcess
from tests.support.prometheus import Prometheus
from tests.support.rollout import Model
from tests.support.shipped import ShippedOperator
from tests.support.waiting import wait_for
from tests.support.webhook import Receiver

pytestmark = [pytest.mark.integration, pytest.mark.real_node]
NODE = f"{realnode.NODE_IP}/32"
ALWAYS_ZERO = "vector(0)"  # a query with an answer whenever Prometheus is reachable


def api_port(kube: Kube) -> int:
    """The port the `kubernetes` Service's endpoint listens on (after kube-proxy's DNAT,
    that is the port a NetworkPolicy sees)."""
    s = kube.get_json("endpointslices", "-n", "default",
                      "-l", "kubernetes.io/service-name=kubernetes")["items"][0]
    return int(s["ports"][0]["port"])


@pytest.fixture
def fenced(kube: Kube, host_operator: OperatorProcess, namespace: str,
           tmp_path: Path) -> Iterator[dict[str, object]]:
    """Two Prometheus servers and two receivers on the host, shown to the node; the operator
    installed with a NetworkPolicy that allows the first of each."""
    proms = [Prometheus(tmp_path / f"prom-{i}") for i in range(2)]
    receivers = [Receiver(name=f"hook-{i}-{namespace[-5:]}").start() for i in range(2)]
    bridges = [InNode(kube, namespace, f"prom-{i}", p.port) for i, p in enumerate(proms)] + [
        InNode(kube, namespace, f"hook-{i}", r.port) for i, r in enumerate(receivers)]
    for p in proms:
        p.start()
    scraper = f"{namespace}-scraper"[:63]
    kube.kubectl("create", "namespace", scraper)
    kube.kubectl("label", "namespace", scraper, "pod-security.kubernetes.io/enforce=restricted")
    host_operator.stop()
    op = ShippedOperator(
        kube, "--set", "networkPolicy.enabled=true",
        "--set-json", f'networkPolicy.apiServer=[{{"ipBlock":{{"cidr":"{NODE}"}}}}]',
        "--set-json", f"networkPolicy.apiServerPorts=[{api_port(kube)}]",
        "--set-json", f'networkPolicy.prometheus=[{{"ipBlock":{{"cidr":"{NODE}"}}}}]',
        "--set-json", f"networkPolicy.prometheusPorts=[{proms[0].port}]",
        "--set-json", f'networkPolicy.webhooks=[{{"ipBlock":{{"cidr":"{NODE}"}}}}]',
        "--set-json", f"networkPolicy.webhookPorts=[{receivers[0].port}]",
        "--set-json", "networkPolicy.metricsFrom=[{\"namespaceSelector\":{\"matchLabels\":"
                      f"{{\"kubernetes.io/metadata.name\":\"{scraper}\"}}}}}}]")
    try:
        op.install()  # ready: it reached the API server through the policy
        for i, r in enumerate(receivers):
            kube.kubectl("create", "secret", "generic", r.name, "-n", op.namespace,
                         f"--from-literal=url={bridges[2 + i].url}/hook")
        yield {"operator": op, "proms": proms, "bridges": bridges, "receivers": receivers,
               "scraper": scraper}
    finally:
        op.uninstall()
        host_operator.start()
        for r in receivers:
            r.stop()
        for p in proms:
            p.stop()
        for b in bridges:
            b.close()
        kube.kubectl("delete", "namespace", scraper, "--wait=false", check=False)


def fetch(kube: Kube, ns: str, name: str, url: str) -> str:
    """GET `url` from a new pod of namespace `ns`: `ok`, or the last error after 20 s of tries
    (a new pod's address reaches the policy agent's sets a moment after it starts)."""
    script = ("import sys, time, urllib.request as u\nend = time.time() + 20\n"
              "while True:\n try:\n  u.urlopen(sys.argv[1], timeout=3).read(); print('ok'); "
              "break\n except Exception as e:\n  if time.time() > end: "
              "print('failed:', e); break\n  time.sleep(1)")
    kube.kubectl("apply", "-n", ns, "-f", "-", stdin=json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": node.helper_pod({"restartPolicy": "Never", "containers": [{
            "name": "get", "image": node.EXAMPLE_IMAGE, "imagePullPolicy": "IfNotPresent",
            "command": ["python3", "-c", script, url]}]})}))
    kube.kubectl("wait", "-n", ns, "--for=jsonpath={.status.phase}=Succeeded", f"pod/{name}",
                 "--timeout=90s")
    return kube.kubectl("logs", "-n", ns, name).stdout.strip()


def test_the_operator_reaches_what_its_policy_allows_and_nothing_else(
        kube: Kube, namespace: str, fenced: dict[str, object]) -> None:
    op: ShippedOperator = fenced["operator"]  # type: ignore[assignment]
    bridges: list[InNode] = fenced["bridges"]  # type: ignore[assignment]
    receivers: list[Receiver] = fenced["receivers"]  # type: ignore[assignment]
    # Two models, each analysed by a Prometheus of its own and notifying a receiver of its own:
    # the allowed ones and the others.
    for i, model in enumerate(("allowed", "fenced")):
        kube.create(namespace, served(f"{model}-v1", model, "1"))
        kube.create(namespace, served(f"{model}-v2", model, "2"))
        Model(kube, namespace, model).policy(
            targetVersion="1", replicas=1,
            strategy={"canary": {"steps": [{"setWeight": 100}, {"pause": {}}]}},
            analysis={"interval": "2s", "inconclusiveLimit": 100,
                      "prometheus": {"address": bridges[i].url},
                      "metrics": [{"name": "zero", "query": ALWAYS_ZERO, "max": 1}]},
            notifications=[{"receiver": receivers[i].name}])
    allowed, fenced_m = Model(kube, namespace, "allowed"), Model(kube, namespace, "fenced")
    # The API server: both rollouts start (the operator reads and writes through the policy).
    try:
        for m in (allowed, fenced_m):
            m.wait("1 stable", timeout=120, stableVersion="1")
            m.patch({"targetVersion": "2"})
        for m in (allowed, fenced_m):
            m.wait("the canary paused", timeout=120, canaryVersion="2", phase="Paused")
    except AssertionError as e:
        raise AssertionError(f"{e}\noperator log:\n{op.tail(30)}") from None
    # Prometheus: the allowed one answers; the other is never reached.
    st = allowed.wait("a measurement with data", timeout=60, analysis=lambda a: bool(
        a and any(x.get("value") == 0 for x in a.get("metrics") or [])))
    assert st["analysis"]["metrics"][0]["phase"] == "Successful"
    st = fenced_m.wait("a measurement that could not reach Prometheus", timeout=60,
                       analysis=lambda a: bool(a and (a.get("inconclusive") or 0) >= 1))
    metric = st["analysis"]["metrics"][0]
    assert metric["phase"] == "Inconclusive" and metric.get("value") is None, metric
    # Webhooks: the allowed receiver hears of the rollout; the other hears nothing, and the
    # policy says its deliveries fail.
    wait_for(lambda: "RolloutStarted" in receivers[0].reasons(), timeout=60,
             what="the allowed receiver told")
    st = fenced_m.wait("deliveries failing", timeout=90, notifications=lambda n: bool(
        n and n.get("lastError") and (n.get("pending") or [{}])[0].get("attempts", 0) >= 1))
    assert receivers[1].messages == [] and not st["notifications"].get("sent"), st
    # Its metrics: only the scraping namespace gets an answer.
    ip = op.pod().status.pod_ip
    assert fetch(kube, str(fenced["scraper"]), "scrape", f"http://{ip}:9090/metrics") == "ok"
    assert fetch(kube, namespace, "scrape", f"http://{ip}:9090/metrics").startswith("failed")
