"""`make demo`, last part: the closed loop on the real node, left to itself (the same scenario
as tests/integration/test_real_loop.py, from tests/support/loop.py). In namespace demo-loop,
so that the model `iris` of the earlier parts stays as it was."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.support import loop
from tests.support.kube import Kube
from tests.support.loadgen import LoadGen
from tests.support.prometheus import serving_pods_prometheus
from tests.support.rollout import Model
from tests.support.waiting import wait_for
from tests.support.webhook import Receiver

from narrate import KUBECONFIG, ROOT, kubectl, note, say, watch_mv, watch_rollout

NS = "demo-loop"


def cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "modelops.cli.main", *args, "-n", NS],
                   env={**os.environ, "PYTHONPATH": str(ROOT / "operator"),
                        "KUBECONFIG": str(KUBECONFIG)}, check=False)


def loop_tour(kube: Kube) -> None:
    say("9. The closed loop: the world drifts, a scheduled evaluation on fresh data sees it, "
        "the model is retrained on the new data, gated and rolled out, by itself")
    kubectl("delete", "namespace", NS, "--ignore-not-found", "--wait=true", "--timeout=120s")
    kubectl("create", "namespace", NS)
    prom = serving_pods_prometheus(Path(tempfile.mkdtemp(prefix="modelops-demo-loop-")),
                                   str(KUBECONFIG), NS)
    receiver = Receiver().start()
    kubectl("create", "secret", "generic", "team", "-n", NS, f"--from-literal=url={receiver.url}")
    load = None
    try:
        loop.setup(kube, NS)
        note("labelled iris data of today's world in S3: data/demo-loop/train/ (300 rows) and "
             "data/demo-loop/eval/ (150 held-out rows), from examples/iris/data.py")
        kube.create(NS, loop.template(NS))
        note("iris-1: trained by a 2-pod gang (torchrun, gloo) on the train data, evaluated on "
             "the held-out data (gate accuracy >= 0.85) before it serves and every 15s while "
             "it serves; each run fetches the data there at that moment")
        m = Model(kube, NS, "iris")
        loop.policy(m, 2, prom.address, "team")
        note("policy: autoUpdate; canary 50% for 10s judged on the error rate; monitoring "
             "takes a failed scheduled evaluation as a regression; retraining from iris-1")
        watch_mv(kube, "iris-1", "Ready", timeout=300, ns=NS)
        watch_rollout(m, lambda st: st.get("stableVersion") == "1", timeout=180)
        load = LoadGen(kube, NS, "iris", 80, "iris", rate=20)
        note("a load generator sends 20 predictions a second through Service iris")
        wait_for(lambda: any(r.get("passed") for r in (loop.mv_status(kube, NS, "iris-1").get(
            "evaluation") or {}).get("runs") or []), timeout=90, what="a scheduled run")
        drift = time.time()
        loop.put_world(NS, "after")
        note("the world drifts: a new instrument reads every petal 1.5 cm longer and 0.8 cm "
             "wider; the new labelled data replaces the old in S3")
        run = wait_for(lambda: (m.status().get("retraining") or {}).get("runs"), timeout=120,
                       what="a retraining")[0]
        failed = loop.first_failed(kube, NS)
        note(f"scheduled run {failed['run']} read {failed['data']['uri']} "
             f"({failed['data']['digest'][:19]}...): {failed['message']}")
        note(f"retraining: {run['version']} ({run['reason']}: {run['message']})")
        watch_mv(kube, run["name"], "Ready", timeout=300, ns=NS)
        watch_rollout(m, lambda st: st.get("phase") == "Promoted"
                      and st.get("stableVersion") == run["version"], timeout=300)
        answers = load.answers(since=drift, until=time.time())
        ph = loop.phases(kube, NS, drift, kube.get_up(NS, "iris") or {})
        note(f"from the drift to the retrained version serving: {ph.total:.0f}s (evaluation "
             f"{ph.evaluation:.0f}s, detection {ph.detection:.0f}s, training {ph.training:.0f}s, "
             f"gate {ph.gate:.0f}s, canary {ph.canary:.0f}s); {len(answers)} predictions, "
             f"{sum(a.code != 200 for a in answers)} failed")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "Promoted" not in receiver.reasons()[-3:]:
            time.sleep(0.5)
        for msg in receiver.messages:
            note(f"webhook got #{msg['id']} {msg['reason']}: {msg['message']}")
        cli("lineage", "iris")
        cli("compare", "iris", "1", run["version"])
    finally:
        if load is not None:
            load.stop()
        receiver.stop()
        prom.stop()
