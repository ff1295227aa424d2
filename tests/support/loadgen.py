"""A load generator on the real node: steady requests to a model's stable Service, as its
clients send them, recording for each answer the time, the code and which version answered.

It is a pod (the example model-server image, for its Python) running the script below; the
records are its log lines, read through the API server. Inside the cluster it goes through
kube-proxy, the Service and DNS like any client, not through the test's own proxy.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kubernetes import client

from .kube import Kube
from .manifests import model_version
from .node import EXAMPLE_IMAGE, IRIS_SETOSA, helper_pod, on_real_node, serve_example_model
from .rollout import Model
from .waiting import wait_for

SCRIPT = r"""
import json, random, sys, threading, time, urllib.error, urllib.request
url, rate, body = sys.argv[1], float(sys.argv[2]), sys.argv[3].encode()
# open: each request on a thread of its own at its time (requests overlap, as from many
# clients); closed: one at a time, the next when the last answered.
open_loop = len(sys.argv) > 4 and sys.argv[4] == "open"
headers = {"Content-Type": "application/json", **json.loads(sys.argv[5] if len(sys.argv) > 5
                                                           else "{}")}
# varied: each request a different iris-like input (seeded), so that answers differ.
varied = random.Random(int(sys.argv[6])) if len(sys.argv) > 6 and sys.argv[6] else None
# clients: that many clients, each one at a time with cookies of its own (a browser's session)
clients = int(sys.argv[7]) if len(sys.argv) > 7 and sys.argv[7] else 0
gap, start = 1.0 / rate, time.time()
lock = threading.Lock()
print(json.dumps({"start": start}), flush=True)

def one(data, client=None, jar=None):
    t = time.time()
    sent, jar_sent = dict(headers), bool(jar)
    if jar:
        sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
    req = urllib.request.Request(url, data=data, headers=sent)
    got = []
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            code, out, got = r.status, r.read(), r.headers.get_all("Set-Cookie") or []
    except urllib.error.HTTPError as e:
        code, out = e.code, e.read()
    except Exception as e:
        code, out = 0, f"{type(e).__name__}: {e}"[:160].encode()
    if jar is not None:
        for c in got:
            k, _, v = c.split(";")[0].partition("=")
            jar[k.strip()] = v.strip()
    try:
        answer = json.loads(out) if code == 200 else {}
        version = answer.get("model_version")
        label = answer["outputs"][0]["data"][0] if varied else None
    except Exception:
        version = label = None
    line = json.dumps({"t": t, "ms": round(1000 * (time.time() - t), 1), "code": code,
                       "v": version, "y": label, "c": client, "k": bool(jar_sent),
                       "err": None if code == 200 else out[:160].decode(errors="replace")})
    with lock:  # whole lines, one writer at a time
        print(line, flush=True)

def iris():
    x = [round(varied.uniform(lo, hi), 1) for lo, hi in ((4.3, 7.9), (2.0, 4.4), (1.0, 6.9),
                                                          (0.1, 2.5))]
    return json.dumps({"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP32",
                                   "data": x}]}).encode()

def client(i):
    jar, n, jitter = {}, 0, random.Random()
    while True:
        # Anywhere in its slot: clients in lockstep with other loads would meet a
        # deterministic weighted round robin at the same points of its cycle every time.
        due = start + (i + jitter.random()) * gap + n * gap * clients
        time.sleep(max(0.0, due - time.time()))
        n += 1
        one(iris() if varied else body, i, jar)

for i in range(clients):
    threading.Thread(target=client, args=(i,), daemon=True).start()
n = 0
while not clients:
    due = start + n * gap
    time.sleep(max(0.0, due - time.time()))
    n += 1
    data = iris() if varied else body
    if open_loop:
        threading.Thread(target=one, args=(data,), daemon=True).start()
    else:
        one(data)
while True:  # the clients' threads ask
    time.sleep(3600)
"""


def iris_model(kube: Kube, ns: str, versions: list[str], replicas: int,
               steps: list[Any] | None = None, error_rate: dict[str, float] | None = None,
               error_after: dict[str, float] | None = None, latency: float = 0.0,
               work_ms: float = 0.0, disagree: dict[str, float] | None = None,
               routing: dict[str, Any] | None = None, **policy: Any) -> Model:
    """Versions of the example `iris` model on the real node, light enough that two full sets
    fit beside each other, and a policy of `replicas` replicas with the first one stable and
    the Service `iris:80` (`error_rate`: version -> MODELOPS_EXAMPLE_ERROR_RATE; `error_after`:
    version -> MODELOPS_EXAMPLE_ERROR_AFTER, seconds it serves well first; `latency`: seconds
    each answer takes, MODELOPS_EXAMPLE_LATENCY; `work_ms`: its CPU, MODELOPS_EXAMPLE_WORK_MS;
    `disagree`: version -> MODELOPS_EXAMPLE_DISAGREE; `routing`: the canary's trafficRouting)."""
    url, data = serve_example_model(kube, ns)
    artifact = {"uri": url, "digest": "sha256:" + hashlib.sha256(data).hexdigest()}
    for v in versions:
        env = [{"name": f"MODELOPS_EXAMPLE_ERROR_{key}", "value": str(values[v])}
               for key, values in (("RATE", error_rate or {}), ("AFTER", error_after or {}))
               if v in values]
        env += [{"name": "MODELOPS_EXAMPLE_DISAGREE", "value": str((disagree or {})[v])}
                ] if v in (disagree or {}) else []
        env += [{"name": "MODELOPS_EXAMPLE_LATENCY", "value": str(latency)}] if latency else []
        env += [{"name": "MODELOPS_EXAMPLE_WORK_MS", "value": str(work_ms)}] if work_ms else []
        kube.create(ns, model_version(f"iris-v{v}", "iris", v, artifact=artifact, serving={
            "image": EXAMPLE_IMAGE, "port": 8080, "readinessPath": "/v2/health/ready",
            # The default CPU request and no CPU limit (see test_real_serving.serving).
            "resources": {"memory": "256Mi"}, "env": env, **on_real_node()}))
    m = Model(kube, ns, "iris")
    m.policy(targetVersion=versions[0], replicas=replicas, service={"name": "iris", "port": 80},
             strategy={"canary": {"steps": steps or [], **(
                 {"trafficRouting": routing} if routing else {})}}, **policy)
    m.wait(f"v{versions[0]} stable", timeout=240, stableVersion=versions[0], phase="Promoted")
    return m


def log_records(kube: Kube, ns: str, pod: str) -> list[str]:
    """A load generator pod's records: the JSON lines its `load` container printed so far."""
    try:
        text = kube.core.read_namespaced_pod_log(pod, ns, container="load")
    except Exception:  # not started yet
        return []
    return [line for line in str(text).splitlines() if line.startswith("{")]


@dataclass(frozen=True)
class Answer:
    t: float  # when the request was sent (the node's clock, which is the host's)
    ms: float
    code: int  # 0: no HTTP answer (refused, reset, timed out)
    version: str | None
    error: str | None
    label: int | None = None  # the class answered (varied inputs only)
    client: int | None = None  # which client asked (clients only)
    cookie: bool = False  # the client sent cookies it was given


class LoadGen:
    def __init__(self, kube: Kube, namespace: str, service: str, port: int, model: str,
                 rate: float = 20.0, name: str = "loadgen", open_loop: bool = False,
                 url: str | None = None, headers: dict[str, str] | None = None,
                 seed: int | None = None, clients: int = 0) -> None:
        """`url`: another address than the model's Service (a gateway's); `headers` sent with
        every request (a Host, a tester's header); `seed`: varied inputs, seeded; `clients`:
        that many clients sharing `rate`, each one request at a time, keeping its cookies."""
        self.kube, self.ns, self.name = kube, namespace, name
        url = url or f"http://{service}.{namespace}.svc.cluster.local:{port}"
        url += f"/v2/models/{model}/infer"
        kube.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": helper_pod({"restartPolicy": "Never",
                                "terminationGracePeriodSeconds": 1, "containers": [{
                                    "name": "load", "image": EXAMPLE_IMAGE,
                                    "imagePullPolicy": "IfNotPresent",
                                    "command": ["python3", "-u", "-c", SCRIPT, url, str(rate),
                                                json.dumps(IRIS_SETOSA),
                                                "open" if open_loop else "closed",
                                                json.dumps(headers or {}),
                                                "" if seed is None else str(seed),
                                                str(clients or "")]}]})}))
        wait_for(self._started, timeout=90, what=f"load generator {name} sending")

    def _started(self) -> bool:
        return any("start" in line for line in self._lines())

    def _lines(self) -> list[str]:
        return log_records(self.kube, self.ns, self.name)

    def answers(self, since: float = 0.0, until: float | None = None) -> list[Answer]:
        out = []
        for line in self._lines():
            r: dict[str, Any] = json.loads(line)
            if "t" not in r or r["t"] < since or (until is not None and r["t"] >= until):
                continue
            out.append(Answer(r["t"], r["ms"], r["code"], r["v"], r["err"], r.get("y"),
                              r.get("c"), bool(r.get("k"))))
        return out

    def wait_answers(self, n: int, since: float, timeout: float = 120) -> list[Answer]:
        return wait_for(lambda: (a := self.answers(since)) and len(a) >= n and a,
                        timeout=timeout, what=f"{n} answers since {since:.0f}")

    def stop(self) -> None:
        self.kube.kubectl("delete", "pod", self.name, "-n", self.ns, "--wait=false",
                          check=False)


def explain(bad: list[Answer], rec: Recorder, start: float) -> list[str]:
    """The first failed answers, each with what the rollout was doing then (for a message)."""
    out = []
    for a in bad[:10]:
        s = min(rec.samples, key=lambda s: abs(s.t - a.t), default=None)
        when = (f"{s.phase} step {s.step} weight {s.actual} stable {s.stable} canary "
                f"{s.canary} endpoints {s.endpoints}") if s else "?"
        out.append(f"+{a.t - start:.1f}s code {a.code} after {a.ms:.0f} ms ({a.error}); {when}")
    return out


def share(answers: list[Answer], version: str) -> float:
    """The share of successful answers that came from `version`, in percent."""
    ok = [a for a in answers if a.code == 200]
    return 100.0 * sum(a.version == version for a in ok) / len(ok) if ok else 0.0


def now() -> float:
    return time.time()


@dataclass(frozen=True)
class Sample:
    t: float
    phase: str | None
    step: int | None
    weight: int
    actual: int
    stable: str | None
    canary: str | None
    endpoints: int  # ready endpoints of the model's Service: the pods that take requests
    addresses: frozenset[str] = frozenset()  # their pod addresses


class Recorder:
    """Samples a policy's status and its Service's ready endpoints a few times a second, in a
    thread, so that a test can say what held at every moment of a rollout."""

    def __init__(self, kube: Kube, namespace: str, policy: str, service: str) -> None:
        self.kube, self.ns, self.policy, self.service = kube, namespace, policy, service
        self.discovery = client.DiscoveryV1Api(kube.api)
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            # An API hiccup is simply a sample less.
            with contextlib.suppress(Exception):
                self.samples.append(self._sample())
            self._stop.wait(0.25)

    def _sample(self) -> Sample:
        st = ((self.kube.get_up(self.ns, self.policy) or {}).get("status") or {})
        slices = self.discovery.list_namespaced_endpoint_slice(
            self.ns, label_selector=f"kubernetes.io/service-name={self.service}")
        ready = [a for s in slices.items for e in s.endpoints or []
                 if e.conditions is None or e.conditions.ready is not False
                 for a in e.addresses or []]
        return Sample(time.time(), st.get("phase"), st.get("currentStepIndex"),
                      int(st.get("canaryWeight") or 0), int(st.get("actualCanaryWeight") or 0),
                      st.get("stableVersion"), st.get("canaryVersion"), len(ready),
                      frozenset(ready))

    def stop(self) -> list[Sample]:
        self._stop.set()
        self._thread.join(timeout=5)
        return self.samples

    def fewest_endpoints(self, t0: float, t1: float) -> int:
        """The fewest ready endpoints the Service had between `t0` and `t1`."""
        return min(s.endpoints for s in self.samples if t0 <= s.t <= t1)

    def windows(self, key: Any) -> list[tuple[Any, float, float]]:
        """(value, start, end) for each run of samples with the same `key(sample)`."""
        out: list[tuple[Any, float, float]] = []
        for s in self.samples:
            k = key(s)
            if out and out[-1][0] == k:
                out[-1] = (k, out[-1][1], s.t)
            else:
                out.append((k, s.t, s.t))
        return out


@contextlib.contextmanager
def traffic(kube: Kube, ns: str, replicas: int, rate: float = 20.0
            ) -> Iterator[tuple[Recorder, LoadGen]]:
    """Once the model's Service `iris` has all its replicas behind it: a recorder and a load
    generator on it, both stopped at the end (the samples stay in the recorder)."""
    rec = Recorder(kube, ns, "iris", "iris")
    try:
        wait_for(lambda: rec.samples and rec.samples[-1].endpoints >= replicas, timeout=60,
                 what="the stable version whole behind the Service")
        # kube-proxy writes a new Service's rules a moment after its endpoints appear (until
        # then it refuses connections): the load begins after that moment.
        time.sleep(1.5)
        load = LoadGen(kube, ns, "iris", 80, "iris", rate=rate)
        try:
            yield rec, load
        finally:
            load.stop()
    finally:
        rec.stop()


def step_windows(rec: Recorder, answers: list[Answer], canary: str, steps: set[int],
                 min_s: float) -> list[tuple[int, int, list[Answer]]]:
    """(step, reported weight, the answers meanwhile) for each stretch of at least `min_s`
    seconds that the canary spent at one of `steps` with one reported weight (its first
    second left out: kube-proxy catches up)."""
    out = []
    for (step, actual), t0, t1 in rec.windows(lambda s: (s.step, s.actual)
                                              if s.canary == canary else (None, None)):
        if step in steps and t1 - t0 >= min_s:
            out.append((step, actual, [a for a in answers if t0 + 1 <= a.t < t1]))
    return out
