"""Real serving on the real node: artifacts fetched over http and from a real S3 server,
their digests checked, the example model server loading them and answering predictions
through the version's Service and the policy's stable Service; and bad input ending in a
condition and an event with nothing rolled out."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support import node
from tests.support.kube import Kube
from tests.support.manifests import model_version
from tests.support.prometheus import serving_pods_prometheus
from tests.support.shipped import ShippedOperator
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.real_node]


@pytest.fixture
def operator(shipped_operator: ShippedOperator) -> ShippedOperator:
    """These run against the operator as users install it (Helm, its image, its pod)."""
    return shipped_operator


SERVER = "localhost/modelops/model-server:dev"


def serving(**extra: Any) -> dict[str, Any]:
    # No CPU given: the operator's default request (100m), so that eight of these, the
    # operator's pod and a namespace still going away fit the real node's 2 CPUs, and no CPU
    # limit (a CPU given is also the limit: at 100m the Python server takes some 20 s to
    # start and answers its probes late on a busy node).
    return {"image": SERVER, "port": 8080, "readinessPath": "/v2/health/ready",
            "resources": {"memory": "512Mi"}, **node.on_real_node(), **extra}


@pytest.fixture
def artifacts(kube: Kube, namespace: str) -> tuple[str, bytes]:
    return node.serve_example_model(kube, namespace)


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def creds(kube: Kube, namespace: str, name: str, data: dict[str, str]) -> None:
    kube.kubectl("create", "secret", "generic", name, "-n", namespace,
                 *[f"--from-literal={k}={v}" for k, v in data.items()])


def predict(kube: Kube, namespace: str, service: str, port: int, model: str) -> dict[str, Any]:
    """A prediction through a Service. Its endpoints reach kube-proxy a moment after the pods
    are ready (as on any cluster), so a refused connection is tried again for a while."""
    ip = kube.core.read_namespaced_service(service, namespace).spec.cluster_ip
    status, body = wait_for(lambda: node.request(ip, port, "POST", f"/v2/models/{model}/infer",
                                                 node.IRIS_SETOSA), timeout=15,
                            what=f"an answer from Service {service}")
    assert status == 200, body
    return dict(json.loads(body))


def phases_until_ready(kube: Kube, ns: str, names: list[str], timeout: float = 180
                       ) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {n: [] for n in names}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for n in names:
            phase = ((kube.get_mv(ns, n) or {}).get("status") or {}).get("phase") or ""
            if phase and (not seen[n] or seen[n][-1] != phase):
                seen[n].append(phase)
        if all(s and s[-1] == "Ready" for s in seen.values()):
            return seen
        time.sleep(0.3)
    raise AssertionError(f"not all Ready in {timeout}s: {seen}")


def test_http_and_s3_artifacts_are_fetched_checked_and_served(
        kube: Kube, namespace: str, operator: Any, artifacts: tuple[str, bytes]) -> None:
    url, model_file = artifacts
    bucket_key = f"{namespace}/iris/2/model.joblib"
    node.s3_put("models", bucket_key, model_file)
    creds(kube, namespace, "s3-creds", node.s3_env())
    kube.create(namespace, model_version("iris-v1", "iris", "1", serving=serving(),
                                         artifact={"uri": url, "digest": digest(model_file)}))
    kube.create(namespace, model_version(
        "iris-v2", "iris", "2", serving=serving(),
        artifact={"uri": f"s3://models/{namespace}/iris/2/", "digest": digest(model_file),
                  "credentialsSecret": "s3-creds"}))
    seen = phases_until_ready(kube, namespace, ["iris-v1", "iris-v2"])
    # Real start-up takes seconds: each version was Pending before it was Ready.
    assert all(s[0] == "Pending" for s in seen.values()), seen
    for name, version in (("iris-v1", "1"), ("iris-v2", "2")):
        st = (kube.get_mv(namespace, name) or {})["status"]
        assert st["serving"]["readyReplicas"] >= 1
        answer = predict(kube, namespace, st["serving"]["service"], 8080, "iris")
        assert answer["model_name"] == "iris" and answer["model_version"] == version
        assert answer["outputs"][0]["data"] == [0]  # setosa
    # The fetcher's log says the digest was checked (and never shows the secret key).
    pod = kube.kubectl("get", "pods", "-n", namespace, "-l", "modelops.io/version=2", "-o",
                       "jsonpath={.items[0].metadata.name}").stdout
    log = kube.kubectl("logs", "-n", namespace, pod, "-c", "fetch-model").stdout
    assert "digest verified" in log and node.s3()["secretKey"] not in log

    kube.create(namespace, {"apiVersion": "modelops.io/v1alpha1", "kind": "UpdatePolicy",
                            "metadata": {"name": "iris"},
                            "spec": {"model": "iris", "targetVersion": "2"}})
    wait_for(lambda: ((kube.get_up(namespace, "iris") or {}).get("status") or {}).get(
        "stableVersion") == "2", timeout=60, what="policy stable on 2")
    answer = predict(kube, namespace, "iris", 80, "iris")
    assert answer["model_version"] == "2" and answer["outputs"][0]["data"] == [0]


def test_an_hf_artifact_comes_through_the_hub_client(
        kube: Kube, namespace: str, operator: Any, artifacts: tuple[str, bytes]) -> None:
    """hf://org/repo through huggingface_hub (kserve-storage), its endpoint the local hub."""
    _, model_file = artifacts
    org = namespace[-5:]  # a repository of this test's own
    node.hf_repo(org, "iris", {"model.joblib": model_file})
    creds(kube, namespace, "hub", {"HF_ENDPOINT": node.HF_ENDPOINT})
    kube.create(namespace, model_version(
        "iris-v1", "iris", "1", serving=serving(),
        artifact={"uri": f"hf://{org}/iris", "digest": digest(model_file),
                  "credentialsSecret": "hub"}))
    phases_until_ready(kube, namespace, ["iris-v1"])
    assert predict(kube, namespace, "iris-1", 8080, "iris")["outputs"][0]["data"] == [0]


def test_prometheus_scrapes_the_real_pods_request_metrics(
        kube: Kube, namespace: str, operator: Any, artifacts: tuple[str, bytes],
        tmp_path: Path) -> None:
    """What canary analysis reads: the model server's own http_requests_total{code}, from
    pods that Prometheus's Kubernetes service discovery found through the API server and
    labelled by the chart's PodMonitor rules, scraped inside the node through nodelink's
    proxy."""
    url, model_file = artifacts
    kube.create(namespace, model_version(
        "iris-v1", "iris", "1", artifact={"uri": url, "digest": digest(model_file)},
        serving=serving(env=[{"name": "MODELOPS_EXAMPLE_ERROR_RATE", "value": "0.5"}])))
    phases_until_ready(kube, namespace, ["iris-v1"])
    prom = serving_pods_prometheus(tmp_path / "prom", kube.kubeconfig, namespace)
    try:
        codes = [predict_status(kube, namespace, "iris-1") for _ in range(40)]
        assert 5 <= codes.count(500) <= 35 and codes.count(200) + codes.count(500) == 40
        sel = f'namespace="{namespace}",model="iris",version="1",handler="infer"'

        def counted() -> dict[str, float] | None:
            got = {r["metric"]["code"]: float(r["value"][1])
                   for r in prom.query(f"sum by (code) (http_requests_total{{{sel}}})")}
            return got if sum(got.values()) >= 40 else None
        got = wait_for(counted, timeout=30, what="the pods' requests in Prometheus")
        assert got == {"200": codes.count(200), "500": codes.count(500)}
    finally:
        prom.stop()


def predict_status(kube: Kube, namespace: str, service: str) -> int:
    ip = kube.core.read_namespaced_service(service, namespace).spec.cluster_ip
    status, _ = wait_for(lambda: node.request(ip, 8080, "POST", "/v2/models/iris/infer",
                                              node.IRIS_SETOSA), timeout=15, what=service)
    return status


def reason_of(kube: Kube, ns: str, name: str) -> tuple[str, str]:
    st = (kube.get_mv(ns, name) or {}).get("status") or {}
    for c in st.get("conditions") or []:
        if c["type"] == "Ready":
            return c.get("reason", ""), c.get("message", "")
    return "", ""


def reason_is(kube: Kube, ns: str, name: str, want: str) -> tuple[str, str]:
    """The Ready condition's (reason, message) once the reason is `want`; until then an error
    that says what it is (a wait that times out shows it)."""
    got = reason_of(kube, ns, name)
    if got[0] != want:
        raise AssertionError(f"{name}: Ready reason {got[0]!r}: {got[1]}")
    return got


def warnings(kube: Kube, ns: str, name: str) -> set[str]:
    events = kube.core.list_namespaced_event(ns, field_selector=f"involvedObject.name={name}")
    return {e.reason for e in events.items if e.type == "Warning"}


def test_bad_artifacts_and_images_end_in_a_condition_and_an_event(
        kube: Kube, namespace: str, operator: Any, artifacts: tuple[str, bytes]) -> None:
    url, model_file = artifacts
    node.s3_put("models", f"{namespace}/junk/model.joblib", b"this is not a model")
    creds(kube, namespace, "s3-creds", node.s3_env())
    creds(kube, namespace, "no-keys", {"AWS_ENDPOINT_URL": node.s3()["inCluster"]})
    wrong = "sha256:" + "0" * 64
    cases = {
        # name: (artifact, serving extra, reason, words in the message)
        "wrong-digest": ({"uri": url, "digest": wrong}, {}, "FetchFailed", "digest mismatch"),
        "unreachable": ({"uri": f"http://nowhere.{namespace}.svc.cluster.local:8000/m.joblib"},
                        {}, "FetchFailed", "failed after 3 attempts"),
        "no-credentials": ({"uri": f"s3://models/{namespace}/junk/",
                            "credentialsSecret": "no-keys"}, {}, "FetchFailed",
                           "authentication failed"),
        "cannot-load": ({"uri": f"s3://models/{namespace}/junk/",
                         "credentialsSecret": "s3-creds"}, {}, "ServerCrashing", "cannot load"),
        "no-image": ({"uri": url}, {"image": "localhost/modelops/absent:dev"},
                     "ImageUnavailable", "localhost/modelops/absent:dev"),
    }
    for i, (name, (artifact, extra, _, _)) in enumerate(cases.items()):
        kube.create(namespace, model_version(name, "bad", str(i + 1), artifact=artifact,
                                             serving=serving(**extra)))
    # A policy whose target is a version that never fetches rolls nothing out.
    kube.create(namespace, model_version("good", "iris", "1", serving=serving(),
                                         artifact={"uri": url, "digest": digest(model_file)}))
    kube.create(namespace, {"apiVersion": "modelops.io/v1alpha1", "kind": "UpdatePolicy",
                            "metadata": {"name": "iris"},
                            "spec": {"model": "iris", "targetVersion": "1"}})
    wait_for(lambda: ((kube.get_up(namespace, "iris") or {}).get("status") or {}).get(
        "stableVersion") == "1", timeout=120, what="policy stable on 1")
    kube.create(namespace, model_version("iris-bad", "iris", "9", serving=serving(),
                                         artifact={"uri": url, "digest": wrong}))
    kube.kubectl("patch", "updatepolicy", "iris", "-n", namespace, "--type=merge",
                 "-p", '{"spec":{"targetVersion":"9"}}')

    for name, (_, _, reason, words) in cases.items():
        wait_for(lambda n=name, r=reason: reason_is(kube, namespace, n, r),
                 timeout=150, what=f"{name}: Ready reason {reason}")
        _, message = reason_of(kube, namespace, name)
        assert words in message, (name, message)
        # Events are posted from a queue, a moment after the status they tell of.
        wait_for(lambda n=name, r=reason: r in warnings(kube, namespace, n), timeout=15,
                 what=f"{name}: a {reason} Warning event")
        assert (kube.get_mv(namespace, name) or {})["status"]["phase"] != "Ready"
    wait_for(lambda: reason_is(kube, namespace, "iris-bad", "FetchFailed"), timeout=60,
             what="iris-bad FetchFailed")
    # The rollout of 9 waits at its last step for pods that never get ready: version 1
    # keeps every replica and answers through the stable Service.
    st = (kube.get_up(namespace, "iris") or {})["status"]
    assert st["stableVersion"] == "1" and "waiting for 9 to be ready" in st["message"], st
    assert predict(kube, namespace, "iris", 80, "iris")["model_version"] == "1"
    assert node.s3()["secretKey"] not in json.dumps(kube.get_mv(namespace, "no-credentials"))


def test_a_version_refused_by_its_pods_stays_refused_at_zero(
        kube: Kube, namespace: str, operator: Any, artifacts: tuple[str, bytes]) -> None:
    """The wrong-digest target of a policy: its canary's fetcher refuses it, the rollout ends
    at its deadline and scales it to zero, and the version still says why (Failed, Ready=False
    FetchFailed, Verified=False); it is not rolled out again until its spec changes."""
    url, model_file = artifacts
    kube.create(namespace, model_version("good", "iris", "1", serving=serving(),
                                         artifact={"uri": url, "digest": digest(model_file)}))
    kube.create(namespace, {"apiVersion": "modelops.io/v1alpha1", "kind": "UpdatePolicy",
                            "metadata": {"name": "iris"},
                            "spec": {"model": "iris", "targetVersion": "1",
                                     "progressDeadlineSeconds": 20}})
    wait_for(lambda: ((kube.get_up(namespace, "iris") or {}).get("status") or {}).get(
        "stableVersion") == "1", timeout=120, what="policy stable on 1")
    kube.create(namespace, model_version("iris-bad", "iris", "9", serving=serving(),
                                         artifact={"uri": url, "digest": "sha256:" + "0" * 64}))
    wait_for(lambda: (kube.get_mv(namespace, "iris-bad") or {}).get("status", {}).get("phase")
             == "Ready", what="9 waits for its rollout")
    assert "not verified yet" in reason_of(kube, namespace, "iris-bad")[1]
    targeted = time.monotonic()
    kube.kubectl("patch", "updatepolicy", "iris", "-n", namespace, "--type=merge",
                 "-p", '{"spec":{"targetVersion":"9"}}')
    wait_for(lambda: reason_is(kube, namespace, "iris-bad", "FetchFailed"), timeout=90,
             what="iris-bad FetchFailed")
    print(f"\nFetchFailed {time.monotonic() - targeted:.1f}s after the target changed")
    up = wait_for(lambda: (s := (kube.get_up(namespace, "iris") or {}).get("status") or {})
                  .get("phase") == "Degraded" and s, timeout=120, what="the deadline")
    assert up["stableVersion"] == "1" and up["history"][0]["reason"] == "ProgressDeadlineExceeded"

    def at_zero() -> dict[str, Any] | None:
        st = (kube.get_mv(namespace, "iris-bad") or {}).get("status") or {}
        return st if (st.get("serving") or {}).get("replicas") == 0 and st.get(
            "phase") == "Failed" else None
    st = wait_for(at_zero, timeout=60, what="iris-bad scaled to zero, still refused")
    conds = {c["type"]: c for c in st["conditions"]}
    assert conds["Ready"]["status"] == "False" and conds["Ready"]["reason"] == "FetchFailed"
    assert "digest mismatch" in conds["Ready"]["message"]
    assert (conds["Verified"]["status"], conds["Verified"]["reason"]) == ("False", "FetchFailed")
    # `retry` does not roll out a version its pods refused: the policy says why and stays.
    kube.kubectl("annotate", "updatepolicy", "iris", "-n", namespace, "modelops.io/action=retry")
    wait_for(lambda: "will not be rolled out" in (
        (kube.get_up(namespace, "iris") or {}).get("status") or {}).get("message", ""),
        timeout=30, what="the policy refusing 9")
    time.sleep(3)
    up = (kube.get_up(namespace, "iris") or {})["status"]
    assert up["stableVersion"] == "1" and not up.get("canaryVersion"), up
    assert kube.apps.read_namespaced_deployment("iris-9", namespace).spec.replicas == 0
    # What a user reads: the CLI lists it Failed, with its pods' reason, not beside the
    # healthy version as Ready.
    r = subprocess.run([sys.executable, "-m", "modelops.cli.main", "status", "iris", "-n",
                        namespace, "-o", "json"], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "KUBECONFIG": kube.kubeconfig})
    assert r.returncode == 0, r.stderr
    listed = {v["version"]: v for v in json.loads(r.stdout)["versions"]}
    assert listed["9"]["phase"] == "Failed" and listed["1"]["phase"] == "Ready"
    assert listed["9"]["problem"].startswith("Verified: FetchFailed"), listed["9"]
