"""`make bench` (part): the closed loop on the real node, and Kueue's admission of a gang;
results in bench/results/loop.json.

- The loop (tests/support/loop.py, as its integration test runs it): the iris model trained
  by a two-pod gang on data in S3 serves 20 requests/s; the world drifts (new labelled data);
  measured from the drift to the retrained version promoted, split by phase from the times
  the resources' status recorded: evaluation (until the scheduled run that read the new data
  ended; it runs every 15 s), detection (that run's end to retraining's start), training (the
  gang, on the new data), gate (its evaluation), canary (50% for 10 s under analysis, then
  the full canary and promotion).
- Kueue's admission of a gang: a 2-pod training ModelVersion with queueName on an empty
  ClusterQueue, from its Job's creation (seen by a watch) to its unsuspension by Kueue.

    python bench/loop.py [--admissions 5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import harness
from tests.support import loop, node
from tests.support.loadgen import LoadGen
from tests.support.manifests import model_version
from tests.support.prometheus import serving_pods_prometheus
from tests.support.rollout import Model
from tests.support.waiting import wait_for

KUEUE = "kueue.x-k8s.io/v1beta2"


def closed_loop(kube: Any, ns: str, prometheus: str) -> dict[str, Any]:
    loop.setup(kube, ns)
    kube.create(ns, loop.template(ns))
    m = Model(kube, ns, "iris")
    loop.policy(m, 2, prometheus, None)
    m.wait("1 serving", timeout=300, stableVersion="1", phase="Promoted")
    load = LoadGen(kube, ns, "iris", 80, "iris", rate=20)
    try:
        wait_for(lambda: any(r.get("passed") for r in (loop.mv_status(kube, ns, "iris-1").get(
            "evaluation") or {}).get("runs") or []), timeout=90, what="a scheduled run")
        drift = time.time()
        loop.put_world(ns, "after")
        harness.log("the world drifted: new labelled data in S3")
        run = wait_for(lambda: (m.status().get("retraining") or {}).get("runs"),
                       timeout=120, what="a retraining")[0]
        m.wait("the retrained version promoted", timeout=420, stableVersion=run["version"],
               phase="Promoted")
        answers = load.answers(since=drift, until=time.time())
    finally:
        load.stop()
    ph = loop.phases(kube, ns, drift, kube.get_up(ns, "iris") or {})
    return {"phases_s": {k: getattr(ph, k) for k in ("evaluation", "detection", "training",
                                                      "gate", "canary")},
            "total_s": ph.total, "requests": len(answers),
            "failed": sum(a.code != 200 for a in answers)}


def admissions(kube: Any, ns: str, n: int) -> list[float]:
    subprocess.run([sys.executable, str(harness.ROOT / "hack/cluster/kueue.py"), "up"],
                   check=True)
    kube.kubectl("label", "namespace", ns, "modelops.io/queues=true", "--overwrite")
    kube.kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List",
                                                        "items": [
        {"apiVersion": KUEUE, "kind": "ClusterQueue", "metadata": {"name": ns},
         "spec": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
                  "resourceGroups": [{"coveredResources": ["cpu", "memory"], "flavors": [
                      {"name": "real-node", "resources": [
                          {"name": "cpu", "nominalQuota": "4"},
                          {"name": "memory", "nominalQuota": "8Gi"}]}]}]}},
        {"apiVersion": KUEUE, "kind": "LocalQueue",
         "metadata": {"name": "training", "namespace": ns}, "spec": {"clusterQueue": ns}}]}))
    out = []
    try:
        for i in range(n):
            name = f"gang{i}"
            kube.create(ns, model_version(name, "gang", str(i), artifact=None, training={
                "image": loop.TRAINER, "command": ["python3", "-c", "pass"], "nodes": 2,
                "gpusPerNode": 0, "backend": "gloo", "queueName": "training",
                "outputURI": f"s3://models/{ns}/gang/{i}",
                "resources": {"cpu": "100m", "memory": "128Mi"}, **node.on_real_node()}))
            out.append(_admission(kube, ns, f"gang-{i}-train-1"))
            harness.log(f"gang {i + 1}/{n} admitted {out[-1]:.2f}s after its Job appeared")
            kube.delete_mv(ns, name)
    finally:
        kube.kubectl("delete", "clusterqueue", ns, "--wait=false", check=False)
    return out


def _admission(kube: Any, ns: str, job: str) -> float:
    """Seconds from the Job's first sight (created suspended) to Kueue's unsuspending it."""
    seen = wait_for(lambda: _job(kube, ns, job), timeout=60, interval=0.02,
                    what="the gang's Job")
    t_created = time.time()
    if seen["spec"].get("suspend"):
        wait_for(lambda: not (_job(kube, ns, job) or {"spec": {"suspend": True}})[
            "spec"].get("suspend"), timeout=60, interval=0.02, what="admission")
    return round(time.time() - t_created, 3)


def _job(kube: Any, ns: str, name: str) -> dict[str, Any] | None:
    try:
        return dict(kube.batch.read_namespaced_job(name, ns).to_dict())
    except Exception:  # not there yet
        return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--admissions", type=int, default=5)
    args = ap.parse_args()
    kube = harness.cluster()
    work = Path(tempfile.mkdtemp(prefix="modelops-loop-"))
    op = harness.operator(harness.install_identity(kube, work))
    try:
        ns = harness.fresh_namespace(kube, "bench-loop")
        prom = serving_pods_prometheus(work / "prometheus", kube.kubeconfig, ns)
        try:
            result = closed_loop(kube, ns, prom.address)
        finally:
            prom.stop()
        harness.log(f"closed loop: {result}")
        result["admission_s"] = admissions(kube, ns, args.admissions)
        harness.wait_gone(kube, ns)
    finally:
        op.stop()
        harness.remove_identity(kube)
    harness.save("loop", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
