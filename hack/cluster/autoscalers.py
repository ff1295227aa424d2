#!/usr/bin/env python3
"""The autoscalers of the local cluster: KEDA and metrics-server, `up`, `down`, `status`.

Each installed the way its release manifest is made: `kubectl kustomize` of the pinned
release's own manifests (hack/cluster/build.sh keda / metrics-server keeps them beside the
binaries), with an overlay that names the images built here (hack/images/build.sh keda,
metrics-server) and puts the pods on the real node. KEDA: its operator and external-metrics
API server (trimmed to the prometheus, cpu and memory scalers), without the admission
webhooks (not built); the operator makes its own certificates and gives the APIService its
CA, as in any install. metrics-server: the resource metrics API the HPA reads CPU from,
calling the real node's kubelet, whose serving certificate is self-signed here (as in kind),
hence --kubelet-insecure-tls. The API server reaches both through the aggregation layer
(front-proxy flags in localcluster.py) and nodelink. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import realnode  # noqa: E402
from localcluster import CACHE, STATE, Cluster, log, versions  # noqa: E402

NAMESPACE = "keda"
APISERVICES = ("v1beta1.external.metrics.k8s.io", "v1beta1.metrics.k8s.io")
DEPLOYMENTS = (("keda", "keda-operator"), ("keda", "keda-metrics-apiserver"),
               ("kube-system", "metrics-server"))
ON_REAL_NODE = f"""
      - {{op: replace, path: /spec/template/spec/containers/0/imagePullPolicy, value: Never}}
      - op: replace
        path: /spec/template/spec/nodeSelector
        value: {{{realnode.LABEL}: real}}
      - op: add
        path: /spec/template/spec/tolerations
        value: [{{key: {realnode.LABEL}, operator: Equal, value: real, effect: NoSchedule}}]"""
METRICS_SERVER_OVERLAY = f"""apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [../base]
images:
  - {{name: gcr.io/k8s-staging-metrics-server/metrics-server,
     newName: localhost/modelops/metrics-server, newTag: dev}}
patches:
  - target: {{kind: Deployment}}
    patch: |-{ON_REAL_NODE}
      - {{op: add, path: /spec/template/spec/containers/0/args/-, value: --kubelet-insecure-tls}}
"""
KEDA_OVERLAY = f"""apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [../crd, ../general, ../rbac, ../manager, ../metrics-server, ../service_account]
images:
  - {{name: ghcr.io/kedacore/keda, newName: localhost/modelops/keda, newTag: dev}}
  - {{name: ghcr.io/kedacore/keda-metrics-apiserver,
     newName: localhost/modelops/keda-metrics-apiserver, newTag: dev}}
patches:
  - target: {{kind: Deployment}}
    patch: |-{ON_REAL_NODE}
  - target: {{kind: Deployment, name: keda-operator}}
    patch: |-
      - {{op: add, path: /spec/template/spec/containers/0/args/-,
         value: --enable-webhook-patching=false}}
"""


def home(part: str) -> Path:
    return CACHE / f"{part}-{versions()[part.upper().replace('-', '_') + '_VERSION']}"


def ensure_built() -> None:
    if not (home("keda") / "config" / "default").is_dir() or not (
            home("metrics-server") / "manifests" / "base").is_dir():
        log("building KEDA and metrics-server (first run only)")
        subprocess.run(["bash", str(HERE / "build.sh"), "keda", "metrics-server"], check=True)
    subprocess.run(["bash", str(HERE.parent / "images" / "build.sh"), "keda", "metrics-server"],
                   check=True)


class Autoscalers:
    def __init__(self, cluster: Cluster | None = None) -> None:
        self.cluster = cluster or Cluster(STATE)
        self.dir = self.cluster.state / "autoscalers"

    def manifests(self, source: Path, overlay: str) -> str:
        """The release's manifests under `source`, through our overlay."""
        copy = self.dir / source.parent.name
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(source, copy)
        (copy / "modelops").mkdir()
        (copy / "modelops" / "kustomization.yaml").write_text(overlay)
        return self.cluster.kubectl("kustomize", str(copy / "modelops"))

    def available(self, apiservice: str) -> bool:
        out = self.cluster.kubectl("get", "apiservice", apiservice, "-o", "json", check=False)
        try:
            conds = json.loads(out)["status"]["conditions"]
        except (ValueError, KeyError):
            return False
        return any(c["type"] == "Available" and c["status"] == "True" for c in conds)

    def running(self) -> bool:
        return all(self.available(a) for a in APISERVICES)

    def up(self) -> None:
        if not self.cluster.running():
            raise SystemExit("the local cluster is not running: `make cluster-up` first")
        if not realnode.enabled():
            raise SystemExit("the autoscalers run on the real node, which this cluster has not")
        if self.running():
            log("keda and metrics-server already running")
            return
        t0 = time.monotonic()
        ensure_built()
        realnode.RealNode(self.cluster, CACHE).load_images()  # what was built since cluster-up
        self.dir.mkdir(parents=True, exist_ok=True)
        k = self.cluster.kubectl
        for source, overlay in ((home("keda") / "config", KEDA_OVERLAY),
                                (home("metrics-server") / "manifests", METRICS_SERVER_OVERLAY)):
            k("apply", "--server-side", "--force-conflicts", "-f", "-",
              stdin=self.manifests(source, overlay))
        for ns, name in DEPLOYMENTS:
            k("rollout", "status", f"deployment/{name}", "-n", ns, "--timeout=180s")
        for a in APISERVICES:
            self.cluster._wait(f"APIService {a} available", lambda a=a: self.available(a), 120,
                               "kube-apiserver")
        log(f"keda and metrics-server up in {time.monotonic() - t0:.1f}s")

    def down(self, quiet: bool = False) -> None:
        if self.cluster.running():
            k = self.cluster.kubectl
            k("delete", "apiservice", *APISERVICES, "--ignore-not-found", check=False)
            k("delete", "deployment,service,serviceaccount", "metrics-server", "-n",
              "kube-system", "--ignore-not-found", check=False)
            k("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true",
              "--timeout=120s", check=False)
            for res in ("clusterrole", "clusterrolebinding", "rolebinding -n kube-system"):
                names = k("get", *res.split(), "-o", "name", check=False).split()
                ours = [n for n in names if any(
                    w in n.split("/", 1)[-1] for w in ("keda", "metrics-server"))]
                if ours:
                    k("delete", *res.split()[1:], *ours, "--ignore-not-found", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
        if not quiet:
            log("keda and metrics-server removed")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("command", choices=["up", "down", "status"])
    a = ap.parse_args()
    scalers = Autoscalers()
    if a.command == "up":
        scalers.up()
    elif a.command == "down":
        scalers.down()
    else:
        ok = scalers.running()
        print(f"keda and metrics-server: {'running' if ok else 'not running'}")
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
