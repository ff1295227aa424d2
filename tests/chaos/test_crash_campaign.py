"""Crash campaign: SIGKILL the operator at a random moment of a rollout or a training run,
restart it, and check that nothing was lost, doubled or jumped (`make chaos`).

Each trial's seed fixes when the kill lands; seeds are the test ids, so a failure replays with
`pytest tests/chaos -k 'seed-17'`. MODELOPS_CHAOS_TRIALS sets how many (default 30).
"""

from __future__ import annotations

import os
import random
import threading
import time
from typing import Any

import pytest

from tests.support import results
from tests.support.kube import Kube
from tests.support.manifests import model_version
from tests.support.operator import OperatorProcess
from tests.support.rollout import Model
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration
TRIALS = int(os.environ.get("MODELOPS_CHAOS_TRIALS", "30"))
STEPS = [{"setWeight": 25}, {"pause": {"duration": "1s"}}, {"setWeight": 50},
         {"pause": {"duration": "1s"}}]
PLANNED_WEIGHTS = {None, 0, 25, 50, 100}
PLANNED_CANARY_REPLICAS = {0, 1, 2, 4}  # 4 replicas at 0, 25, 50 and 100 %


class Recorder(threading.Thread):
    """Everything the policy's status and the canary Deployment showed, sampled every 50 ms."""

    def __init__(self, m: Model) -> None:
        super().__init__(daemon=True)
        self.m = m
        self.weights: set[Any] = set()
        self.replicas: set[int] = set()
        self.stop = False

    def run(self) -> None:
        while not self.stop:
            try:
                self.weights.add(self.m.status().get("canaryWeight"))
                self.replicas.add(self.m.replicas("2"))
            except Exception:  # an object between states is no sample
                pass
            time.sleep(0.05)


def kill_at_random(operator: OperatorProcess, rng: random.Random, window: float) -> float:
    at = rng.uniform(0, window)
    time.sleep(at)
    operator.kill()
    time.sleep(rng.uniform(0, 1))
    operator.start()
    return at


def rollout_trial(kube: Kube, operator: OperatorProcess, ns: str, rng: random.Random
                  ) -> tuple[str, float]:
    m = Model(kube, ns)
    m.version("1")
    m.version("2")
    m.policy(targetVersion="1", replicas=4, strategy={"canary": {"steps": STEPS}})
    m.wait("stable on 1", stableVersion="1", phase="Promoted")
    wait_for(lambda: m.replicas("1") == 4, what="4 replicas on v1")
    rec = Recorder(m)
    rec.start()
    m.patch({"targetVersion": "2"})
    at = kill_at_random(operator, rng, 5.0)
    st = m.wait("promoted after the crash", timeout=90, phase="Promoted", stableVersion="2")
    rec.stop = True
    rec.join()
    history = st["history"]
    assert [h["version"] for h in history] == ["2", "1"], history  # none lost, none doubled
    assert len({h["revision"] for h in history}) == len(history)
    assert history[0]["outcome"] == "Promoted"
    assert rec.weights <= PLANNED_WEIGHTS, f"unplanned weights {rec.weights}"
    assert rec.replicas <= PLANNED_CANARY_REPLICAS, f"unplanned replicas {rec.replicas}"
    deps = sorted(d.metadata.name for d in kube.apps.list_namespaced_deployment(ns).items)
    assert deps == ["m-1", "m-2"]
    return "rollout", at


def training_trial(kube: Kube, operator: OperatorProcess, ns: str, rng: random.Random
                   ) -> tuple[str, float]:
    kube.create(ns, model_version(
        "m-v1", "m", "1", artifact=None,
        training={"image": "t", "command": ["train"], "outputURI": "s3://o/", "nodes": 2,
                  "podAnnotations": {"pod-complete.stage.kwok.x-k8s.io/delay": "3s"}},
        serving={"image": "s", "replicas": 1}))
    at = kill_at_random(operator, rng, 5.0)
    wait_for(lambda: ((kube.get_mv(ns, "m-v1") or {}).get("status") or {}).get("phase")
             == "Ready", timeout=90, what="trained and served after the crash")
    jobs = [j.metadata.name for j in kube.batch.list_namespaced_job(ns).items]
    assert jobs == ["m-1-train-1"], jobs
    st = (kube.get_mv(ns, "m-v1") or {})["status"]
    assert st["training"]["attempts"] == 1 and st["artifactURI"] == "s3://o/"
    deps = [d.metadata.name for d in kube.apps.list_namespaced_deployment(ns).items]
    assert deps == ["m-1"]
    return "training", at


@pytest.mark.parametrize("seed", range(TRIALS), ids=lambda s: f"seed-{s}")
def test_crash_loses_nothing(kube: Kube, operator: OperatorProcess, namespace: str,
                             seed: int) -> None:
    rng = random.Random(seed)
    trial = rollout_trial if seed % 2 == 0 else training_trial
    t0 = time.monotonic()
    kind, at = trial(kube, operator, namespace, rng)
    # Written once the trial passed: a failed one shows as the test failing.
    results.record("crash-campaign", "trials", f"seed-{seed}", {
        "kind": kind, "killed_after_s": round(at, 2), "took_s": round(time.monotonic() - t0, 1)})
    print(f"\nseed {seed}: {kind}, killed {at:.2f}s after it began")
