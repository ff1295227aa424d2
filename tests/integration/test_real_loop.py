"""The closed loop on the real node, no step scripted: the iris model, trained by a two-pod
gang on labelled data in S3 and evaluated on held-out data there, serves real traffic and is
evaluated again on schedule. New labelled data from a drifted world lands in S3; the next
scheduled evaluation reads it and fails its gate; monitoring takes that as a regression;
retraining makes the next version from the template, a real gang trains it on the new data,
its evaluation gate passes on the new held-out data, and autoUpdate rolls it out as a canary
judged by a real Prometheus on real traffic until it is promoted. The policy's status, its
events, the CLI and a webhook receiver tell the story in order; each version's lineage says
what it came from, by digest. Not a request fails."""

from __future__ import annotations

import time

import pytest

from tests.integration.test_cli import cli, ok
from tests.support import loop
from tests.support.kube import Kube
from tests.support.loadgen import explain, now, share, traffic
from tests.support.prometheus import Prometheus
from tests.support.rollout import Model
from tests.support.shipped import ShippedOperator
from tests.support.waiting import wait_for
from tests.support.webhook import Receiver

pytestmark = [pytest.mark.integration, pytest.mark.real_node, pytest.mark.timeout(600)]
REPLICAS = 2


@pytest.fixture
def operator(shipped_operator: ShippedOperator) -> ShippedOperator:
    return shipped_operator


def test_drift_is_caught_retrained_on_new_data_gated_and_rolled_out(
        kube: Kube, namespace: str, operator: ShippedOperator, pods_prometheus: Prometheus,
        receiver: Receiver) -> None:
    receiver.start()
    train_before, eval_before = loop.setup(kube, namespace)
    kube.create(namespace, loop.template(namespace))
    m = Model(kube, namespace, "iris")
    loop.policy(m, REPLICAS, operator.reach(namespace, "prometheus", pods_prometheus.port),
                receiver.name)
    m.wait("1 trained, evaluated and serving", timeout=300, stableVersion="1", phase="Promoted")
    v1 = loop.mv_status(kube, namespace, "iris-1")
    assert v1["training"]["data"]["digest"] == train_before, v1["training"]
    assert v1["training"]["image"]["imageID"], v1["training"]
    assert v1["evaluation"]["data"]["digest"] == eval_before, v1["evaluation"]
    assert v1["evaluation"]["metrics"]["accuracy"] >= loop.FLOOR

    with traffic(kube, namespace, REPLICAS) as (rec, load):
        start = now()
        wait_for(lambda: any(r.get("passed") for r in (loop.mv_status(
            kube, namespace, "iris-1").get("evaluation") or {}).get("runs") or []),
            timeout=90, what="a scheduled run that passed")
        drift = time.time()
        train_after, eval_after = loop.put_world(namespace, "after")
        run = wait_for(lambda: (m.status().get("retraining") or {}).get("runs"), timeout=120,
                       what="a retraining")[0]
        st = m.wait("the retrained version promoted", timeout=420,
                    stableVersion=run["version"], phase="Promoted")
        time.sleep(4)
        end = now()
        answers = load.answers(since=start, until=end)

    # The scheduled run that read the drifted data failed its gate, by digest.
    failed = loop.first_failed(kube, namespace)
    assert failed["data"]["digest"] == eval_after, failed
    assert failed["metrics"]["accuracy"] < loop.FLOOR, failed
    assert run["reason"] == "Regression" and run["parent"] == "1", run
    # The new version: trained on the new data by the gang, gated on the new held-out data.
    mv = kube.get_mv(namespace, run["name"]) or {}
    assert mv["spec"]["parentVersion"] == "1"
    s = mv["status"]
    assert s["training"]["data"]["digest"] == train_after, s["training"]
    assert s["training"]["image"]["imageID"] == v1["training"]["image"]["imageID"]
    assert s["evaluation"]["data"]["digest"] == eval_after, s["evaluation"]
    assert s["evaluation"]["metrics"]["accuracy"] >= loop.FLOOR, s["evaluation"]
    assert st["retraining"]["runs"][0]["outcome"] == "Succeeded"
    # Real traffic throughout: nothing failed, and the new version answers at the end.
    bad = [a for a in answers if a.code != 200]
    assert not bad, explain(bad, rec, start)
    assert share([a for a in answers if a.t >= end - 3], run["version"]) == 100
    assert rec.fewest_endpoints(start, end) >= REPLICAS
    # Told in order, to the receiver: the regression, the retraining, then (the new version
    # Ready: its retraining succeeded and autoUpdate starts its rollout, in one round) the
    # rollout, promoted.
    def told() -> list[str] | None:
        got = receiver.reasons()
        try:
            i = got.index("RetrainingStarted", got.index("Regression"))
            end = got.index("Promoted", i)
        except ValueError:
            return None
        return got if {"RetrainingSucceeded", "RolloutStarted"} <= set(got[i:end]) else None
    got = wait_for(told, timeout=60, what=f"the receiver told, in order ({receiver.reasons()})")
    # The lineage as a user reads it: the retrained version under the one it replaced.
    tree = ok(cli(kube, "lineage", "iris", "-n", namespace)).splitlines()
    assert tree[0].startswith("1  Ready  trained on s3://data/") and \
        f"@{train_before[7:19]}" in tree[0], tree
    assert tree[1].startswith(f"└─ {run['version']}  Ready") and \
        f"@{train_after[7:19]}" in tree[1] and f"on @{eval_after[7:19]}" in tree[1], tree
    print("\n" + "\n".join(tree))
    ph = loop.phases(kube, namespace, drift, kube.get_up(namespace, "iris") or {})
    print(f"\nclosed loop: {ph} (total {ph.total:.0f}s); {len(answers)} answers, 0 failed; "
          f"receiver got {got}")
