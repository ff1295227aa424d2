#!/usr/bin/env python3
"""The local cluster's Gateway API implementation: Traefik on the real node. `up`, `down`,
`status`; `make cluster-up` runs `up` when the cluster has a real node.

Traefik (built from its module by hack/cluster/build.sh traefik, its image by
hack/images/build.sh traefik) runs in the namespace `traefik` with the ClusterRoles of its
release's own RBAC files, watching Gateway API objects (the standard-channel CRDs of the
version it implements, installed by cluster-up) and its own CRDs (a TraefikService carries
mirroring, which its Gateway API provider does not implement: docs/traffic.md). One
GatewayClass `traefik` and one Gateway `modelops` in `traefik` take HTTPRoutes from every
namespace on port 80 of the Service `traefik.traefik` (the entry point listens on 8000 inside
the pod). Pods reach it by that name; the host reaches it like any Service address, through
nodelink's proxy. Its own metrics (Prometheus format) and ping are on port 9000. Standard
library only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import realnode  # noqa: E402
from localcluster import CACHE, STATE, Cluster, log, versions  # noqa: E402

NAMESPACE = "traefik"
GATEWAY = "modelops"
CLASS = "traefik"
CONTROLLER = "traefik.io/gateway-controller"
IMAGE = "localhost/modelops/traefik:dev"
WEB_PORT = 8000  # the entry point inside the pod; the Gateway's listener names it
LABELS = {"app.kubernetes.io/name": "traefik", "app.kubernetes.io/part-of": "modelops-cluster"}


def home() -> Path:
    return CACHE / f"traefik-{versions()['TRAEFIK_VERSION']}"


def cluster_roles() -> list[str]:
    """The ClusterRoles of Traefik's release RBAC files, as YAML documents (their bindings
    name a default namespace and account; ours are below)."""
    return [doc for name in ("gateway-rbac.yaml", "crd-rbac.yaml")
            for doc in (home() / "crds" / name).read_text().split("\n---")
            if "kind: ClusterRole\n" in doc]


def role_names() -> list[str]:
    return [next(line.split(":", 1)[1].strip() for line in doc.splitlines()
                 if line.strip().startswith("name:")) for doc in cluster_roles()]


def objects() -> list[dict[str, Any]]:
    meta = {"namespace": NAMESPACE, "labels": LABELS}
    args = [f"--entryPoints.web.address=:{WEB_PORT}", "--entryPoints.traefik.address=:9000",
            "--ping=true", "--ping.entryPoint=traefik",
            "--metrics.prometheus=true", "--metrics.prometheus.entryPoint=traefik",
            "--metrics.prometheus.addServicesLabels=true",
            "--providers.kubernetesGateway=true",
            f"--providers.kubernetesGateway.statusAddress.service.name={NAMESPACE}",
            f"--providers.kubernetesGateway.statusAddress.service.namespace={NAMESPACE}",
            "--providers.kubernetesCRD=true",
            "--global.checkNewVersion=false", "--global.sendAnonymousUsage=false",
            "--log.level=INFO"]
    pod = {
        "serviceAccountName": "traefik", "terminationGracePeriodSeconds": 5,
        "nodeSelector": {realnode.LABEL: "real"},
        "tolerations": [{"key": realnode.LABEL, "operator": "Equal", "value": "real",
                         "effect": "NoSchedule"}],
        "securityContext": {"runAsNonRoot": True, "runAsUser": 65532,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{
            "name": "traefik", "image": IMAGE, "imagePullPolicy": "Never", "args": args,
            "ports": [{"name": "web", "containerPort": WEB_PORT},
                      {"name": "traefik", "containerPort": 9000}],
            "readinessProbe": {"httpGet": {"path": "/ping", "port": 9000},
                               "periodSeconds": 2},
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                          "limits": {"memory": "512Mi"}},
            "securityContext": {"allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]}},
        }]}
    binding = {"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole"},
               "subjects": [{"kind": "ServiceAccount", "name": "traefik",
                             "namespace": NAMESPACE}]}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "traefik", **meta}},
        *[{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
           "metadata": {"name": f"modelops-traefik-{role}", "labels": LABELS},
           **binding, "roleRef": {**binding["roleRef"], "name": role}}
          for role in role_names()],
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "traefik", **meta},
         "spec": {"replicas": 1, "selector": {"matchLabels": LABELS},
                  "template": {"metadata": {"labels": LABELS}, "spec": pod}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "traefik", **meta},
         "spec": {"selector": LABELS, "ports": [
             {"name": "web", "port": 80, "targetPort": "web"},
             {"name": "metrics", "port": 9000, "targetPort": "traefik"}]}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
         "metadata": {"name": CLASS, "labels": LABELS},
         "spec": {"controllerName": CONTROLLER}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
         "metadata": {"name": GATEWAY, **meta},
         "spec": {"gatewayClassName": CLASS, "listeners": [{
             "name": "web", "port": WEB_PORT, "protocol": "HTTP",
             "allowedRoutes": {"namespaces": {"from": "All"}}}]}},
    ]


class Gateway:
    def __init__(self, cluster: Cluster | None = None) -> None:
        self.cluster = cluster or Cluster(STATE)

    def programmed(self) -> bool:
        out = self.cluster.kubectl("get", "gateway", GATEWAY, "-n", NAMESPACE, "-o", "json",
                                   check=False)
        try:
            conds = json.loads(out)["status"]["conditions"]
        except (ValueError, KeyError):
            return False
        return any(c["type"] == "Programmed" and c["status"] == "True" for c in conds)

    def up(self) -> None:
        if not self.cluster.running():
            raise SystemExit("the local cluster is not running: `make cluster-up` first")
        if not realnode.enabled():
            raise SystemExit("the gateway runs on the real node, which this cluster has not")
        if not (home() / "crds" / "traefik.yaml").exists():
            raise SystemExit("traefik is not built: `make binaries` builds it")
        t0 = time.monotonic()
        k = self.cluster.kubectl
        k("apply", "--server-side", "-f", str(home() / "crds" / "traefik.yaml"))
        k("apply", "--server-side", "-f", "-", stdin="\n---\n".join(cluster_roles()))
        k("apply", "--server-side", "--force-conflicts", "-f", "-",
          stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects()}))
        k("rollout", "status", "deployment/traefik", "-n", NAMESPACE, "--timeout=120s")
        self.cluster._wait("Gateway modelops programmed", self.programmed, 60)
        log(f"gateway (traefik) up in {time.monotonic() - t0:.1f}s: "
            f"http://traefik.{NAMESPACE}.svc.cluster.local, Gateway {NAMESPACE}/{GATEWAY}")

    def down(self) -> None:
        if not self.cluster.running():
            return
        k = self.cluster.kubectl
        k("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true",
          "--timeout=60s", check=False)
        k("delete", "gatewayclass", CLASS, "--ignore-not-found", check=False)
        k("delete", "clusterrolebinding", *[f"modelops-traefik-{r}" for r in role_names()],
          "--ignore-not-found", check=False)
        k("delete", "clusterrole", *role_names(), "--ignore-not-found", check=False)
        log("gateway removed")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("command", choices=["up", "down", "status"])
    a = ap.parse_args()
    gw = Gateway()
    if a.command == "up":
        gw.up()
    elif a.command == "down":
        gw.down()
    else:
        ok = gw.programmed()
        print(f"gateway: {'programmed' if ok else 'not running'}")
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
