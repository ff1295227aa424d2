#!/usr/bin/env python3
"""The local cluster's queue: Kueue on the real node. `up`, `down`, `status` (`make kueue-up`;
the tests that queue start it themselves, so that the rest of the suite runs without it).

Kueue's manager (built from its module by hack/cluster/build.sh kueue, its image by
hack/images/build.sh kueue) is installed from its release's own kustomize manifests
(config/default: CRDs, RBAC, the manager with its internal certificates, webhooks) with these
changes, all for a shared 2-core test machine:
- one framework, batch/job (what training Jobs are), and only the webhooks of Jobs and of
  Kueue's own kinds: the release also intercepts every Pod, Deployment and StatefulSet;
- the Job webhooks only in namespaces labelled `modelops.io/queues: "true"` (tests that queue
  label theirs), so that the rest of the suite does not depend on Kueue being up; Kueue's
  controllers manage queued Jobs everywhere, as in any install;
- no visibility API server (its APIService, while down, stalls namespace deletion): the
  VisibilityOnDemand feature off;
- waitForPodsReady on (a gang whose pods are not all ready in 5 minutes gives its quota back
  and is queued again), no leader election (one replica), small requests.
Then the cluster's queues: ResourceFlavors `real-node` (the real node, CPU and memory) and
`kwok-gpu` (the kwok GPU nodes), a ClusterQueue `modelops` with quota on both, preemption of
lower priorities within it, and the WorkloadPriorityClasses `low` and `high`. A namespace uses
it through a LocalQueue of its own (docs/training.md). Standard library only.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import realnode  # noqa: E402
from localcluster import CACHE, STATE, Cluster, log, versions  # noqa: E402

NAMESPACE = "kueue-system"
IMAGE = "localhost/modelops/kueue:dev"
QUEUED = "modelops.io/queues"  # the label of namespaces whose Jobs pass Kueue's webhooks
CLUSTER_QUEUE = "modelops"
KEPT_WEBHOOKS = {"job", "clusterqueue", "cohort", "resourceflavor", "workload"}
GPU = "nvidia.com/gpu"
CONFIG = """apiVersion: config.kueue.x-k8s.io/v1beta2
kind: Configuration
health:
  healthProbeBindAddress: :8081
metrics:
  bindAddress: :8443
webhook:
  port: 9443
leaderElection:
  leaderElect: false
clientConnection:
  qps: 50
  burst: 100
waitForPodsReady:
  timeout: 5m
  blockAdmission: false
integrations:
  frameworks:
  - batch/job
"""
OVERLAY = f"""apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [../default]
images:
  - {{name: us-central1-docker.pkg.dev/k8s-staging-images/kueue/kueue,
     newName: {IMAGE.rsplit(':', 1)[0]}, newTag: dev}}
patches:
  - target: {{kind: Deployment}}
    patch: |-
      - {{op: replace, path: /spec/template/spec/containers/0/imagePullPolicy, value: Never}}
      - op: add
        path: /spec/template/spec/nodeSelector
        value: {{{realnode.LABEL}: real}}
      - op: add
        path: /spec/template/spec/tolerations
        value: [{{key: {realnode.LABEL}, operator: Equal, value: real, effect: NoSchedule}}]
      - {{op: add, path: /spec/template/spec/containers/0/args/-,
         value: --feature-gates=VisibilityOnDemand=false}}
      - op: replace
        path: /spec/template/spec/containers/0/resources
        value: {{requests: {{cpu: 50m, memory: 96Mi}}, limits: {{memory: 512Mi}}}}
"""


def home() -> Path:
    return CACHE / f"kueue-{versions()['KUEUE_VERSION']}"


def trimmed(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The release's objects, changed as the module's docstring says."""
    out = []
    for o in objs:
        name = o["metadata"]["name"]
        if o["kind"] == "APIService" or "visibility" in name:
            continue
        if o["kind"] == "ConfigMap" and name == "kueue-manager-config":
            o["data"] = {"controller_manager_config.yaml": CONFIG}
        if o["kind"] in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
            kept = []
            for hook in o.get("webhooks") or []:
                kind = hook["name"].removesuffix(".kb.io")[1:]
                if kind not in KEPT_WEBHOOKS:
                    continue
                if kind == "job":
                    hook["namespaceSelector"] = {"matchLabels": {QUEUED: "true"}}
                kept.append(hook)
            o["webhooks"] = kept
        out.append(o)
    return out


def queues(real_cpu: str, real_memory: str) -> list[dict[str, Any]]:
    """The cluster's flavors, its ClusterQueue and priorities (a LocalQueue per namespace
    points at the ClusterQueue)."""
    v = "kueue.x-k8s.io/v1beta2"
    labels = {"app.kubernetes.io/part-of": "modelops-cluster"}
    flavors = [
        {"apiVersion": v, "kind": "ResourceFlavor",
         "metadata": {"name": "real-node", "labels": labels},
         "spec": {"nodeLabels": {realnode.LABEL: "real"},
                  "tolerations": [{"key": realnode.LABEL, "operator": "Equal",
                                   "value": "real", "effect": "NoSchedule"}]}},
        {"apiVersion": v, "kind": "ResourceFlavor",
         "metadata": {"name": "kwok-gpu", "labels": labels},
         "spec": {"nodeLabels": {"nvidia.com/gpu.present": "true"},
                  "tolerations": [{"key": GPU, "operator": "Exists", "effect": "NoSchedule"}]}},
    ]
    cq = {"apiVersion": v, "kind": "ClusterQueue",
          "metadata": {"name": CLUSTER_QUEUE, "labels": labels},
          "spec": {"namespaceSelector": {},
                   "preemption": {"withinClusterQueue": "LowerPriority"},
                   "resourceGroups": [{
                       "coveredResources": ["cpu", "memory", GPU],
                       "flavors": [
                           {"name": "real-node", "resources": [
                               {"name": "cpu", "nominalQuota": real_cpu},
                               {"name": "memory", "nominalQuota": real_memory},
                               {"name": GPU, "nominalQuota": "0"}]},
                           {"name": "kwok-gpu", "resources": [
                               {"name": "cpu", "nominalQuota": "256"},
                               {"name": "memory", "nominalQuota": "2Ti"},
                               {"name": GPU, "nominalQuota": "16"}]}]}]}}
    priorities = [{"apiVersion": v, "kind": "WorkloadPriorityClass",
                   "metadata": {"name": name, "labels": labels}, "value": value,
                   "description": f"modelops' local cluster: {name} priority"}
                  for name, value in (("low", 100), ("high", 1000))]
    return [*flavors, cq, *priorities]


class Queue:
    def __init__(self, cluster: Cluster | None = None) -> None:
        self.cluster = cluster or Cluster(STATE)
        self.dir = self.cluster.state / "kueue"

    def manifests(self) -> list[dict[str, Any]]:
        """The release's manifests through our overlay, as objects."""
        shutil.rmtree(self.dir, ignore_errors=True)
        shutil.copytree(home() / "config", self.dir)
        (self.dir / "modelops").mkdir()
        (self.dir / "modelops" / "kustomization.yaml").write_text(OVERLAY)
        yaml = self.cluster.kubectl("kustomize", str(self.dir / "modelops"))
        # kubectl turns YAML into JSON (no YAML parser in the standard library).
        out = self.cluster.kubectl("create", "--dry-run=client", "-o", "json", "-f", "-",
                                   stdin=yaml)
        docs, at, decoder = [], 0, json.JSONDecoder()
        while at < len(out.rstrip()):  # one JSON object per manifest, one after the other
            doc, end = decoder.raw_decode(out, at)
            docs += doc["items"] if doc.get("kind") == "List" else [doc]
            at = end + len(out[end:]) - len(out[end:].lstrip())
        return trimmed(docs)

    def ready(self) -> bool:
        """The manager answers, and its webhooks have their certificate."""
        out = self.cluster.kubectl("get", "deployment", "kueue-controller-manager", "-n",
                                   NAMESPACE, "-o", "json", check=False)
        try:
            if not json.loads(out)["status"].get("readyReplicas"):
                return False
        except (ValueError, KeyError):
            return False
        hooks = self.cluster.kubectl("get", "validatingwebhookconfiguration",
                                     "kueue-validating-webhook-configuration", "-o", "json",
                                     check=False)
        try:
            return all(h["clientConfig"].get("caBundle") for h in json.loads(hooks)["webhooks"])
        except (ValueError, KeyError):
            return False

    def admits(self) -> bool:
        """Kueue has taken the ClusterQueue in (it says Active)."""
        out = self.cluster.kubectl("get", "clusterqueue", CLUSTER_QUEUE, "-o", "json",
                                   check=False)
        try:
            conds = json.loads(out)["status"]["conditions"]
        except (ValueError, KeyError):
            return False
        return any(c["type"] == "Active" and c["status"] == "True" for c in conds)

    def up(self) -> None:
        if not self.cluster.running():
            raise SystemExit("the local cluster is not running: `make cluster-up` first")
        if not realnode.enabled():
            raise SystemExit("the queue runs on the real node, which this cluster has not")
        if not (home() / "config" / "default").is_dir():
            raise SystemExit("kueue is not built: `make binaries` builds it")
        t0 = time.monotonic()
        k = self.cluster.kubectl
        k("apply", "--server-side", "--force-conflicts", "-f", "-",
          stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": self.manifests()}))
        self.cluster._wait("Kueue's manager ready, its webhooks certified", self.ready, 120)
        # A webhook's certificate is there a moment before its server serves with it.
        cpu, memory = self.real_node()
        items = queues(cpu, memory)
        self.cluster._wait("Kueue's webhooks answering", lambda: self._apply(items), 60)
        self.cluster._wait(f"ClusterQueue {CLUSTER_QUEUE} active", self.admits, 60)
        log(f"queue (kueue) up in {time.monotonic() - t0:.1f}s: ClusterQueue {CLUSTER_QUEUE}, "
            f"real node {cpu} CPU / {memory}; kwok GPU nodes 16 GPUs")

    def real_node(self) -> tuple[str, str]:
        """The real node's allocatable CPU and memory: its flavor's quota."""
        out = self.cluster.kubectl("get", "nodes", "-l", f"{realnode.LABEL}=real", "-o", "json")
        alloc = json.loads(out)["items"][0]["status"]["allocatable"]
        return alloc["cpu"], alloc["memory"]

    def _apply(self, items: list[dict[str, Any]]) -> bool:
        out = self.cluster.kubectl("apply", "--server-side", "-f", "-", check=False,
                                   stdin=json.dumps({"apiVersion": "v1", "kind": "List",
                                                     "items": items}))
        if not out:
            time.sleep(0.5)  # refused by a webhook not serving yet
        return bool(out)

    def down(self) -> None:
        if not self.cluster.running():
            return
        k = self.cluster.kubectl
        for kind in ("clusterqueue", "resourceflavor", "workloadpriorityclass"):
            k("delete", kind, "-l", "app.kubernetes.io/part-of=modelops-cluster",
              "--ignore-not-found", check=False)
        k("delete", "-f", "-", "--ignore-not-found", "--wait=false", check=False,
          stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": self.manifests()}))
        log("queue removed")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("command", choices=["up", "down", "status"])
    a = ap.parse_args()
    q = Queue()
    if a.command == "up":
        q.up()
    elif a.command == "down":
        q.down()
    else:
        ok = q.ready() and q.admits()
        print(f"queue: {'admitting' if ok else 'not running'}")
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
