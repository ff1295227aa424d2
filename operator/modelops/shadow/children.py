"""The comparer's Deployment and Service, owned by the policy while a setMirror step holds.
Pure.

It runs the operator's own image, beside the canary (the canary Deployment's node selector
and tolerations), and is scraped like a serving pod: its pod carries the model and the
canary's version, so `template: agreement` selects its series as every template selects a
version's (analysis.templates).
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..api.updatepolicy import UpdatePolicySpec
from ..serving import names
from ..traffic.base import Backend

PORT = 80  # the Service's; the container listens on 8080
SHADOW = "modelops.io/shadow"  # the scrape rules keep pods with this label, as serving pods


def name(policy: str) -> str:
    """`<policy>-shadow`, cut (with a hash) to a DNS-1035 label."""
    if len(policy) <= 56:
        return f"{policy}-shadow"
    return f"{policy[:47]}-{hashlib.sha256(policy.encode()).hexdigest()[:8]}-shadow"


def backend(policy: str, canary: str | None) -> Backend:
    return Backend(canary or "", name(policy), PORT)


def url(b: Backend, namespace: str) -> str:
    return f"http://{b.service}.{namespace}.svc:{b.port}"


def manifests(up: dict[str, Any], spec: UpdatePolicySpec, stable: Backend, canary: Backend,
              runtime: str, image: str, placement: dict[str, Any]) -> list[dict[str, Any]]:
    """Deployment and Service of the comparer between `stable` and `canary`."""
    ns, policy = up["metadata"]["namespace"], up["metadata"]["name"]
    shadow = (spec.strategy.canary.shadow if spec.strategy and spec.strategy.canary
              else None)
    selector = {**names.labels(spec.model, None, "shadow"), SHADOW: policy}
    labels = {**selector, names.VERSION: canary.version}
    env = {"MODELOPS_SHADOW_STABLE": url(stable, ns), "MODELOPS_SHADOW_CANARY": url(canary, ns),
           "MODELOPS_SHADOW_RUNTIME": runtime,
           "MODELOPS_SHADOW_ANSWER": (shadow.answer or "") if shadow else "",
           "MODELOPS_SHADOW_TOKEN_OVERLAP": str(shadow.token_overlap)
           if shadow and shadow.token_overlap else "",
           "MODELOPS_SHADOW_TIMEOUT": str(shadow.timeout_seconds if shadow else 10)}
    meta = {"name": name(policy), "namespace": ns, "labels": labels,
            "ownerReferences": [names.owner_reference(up)]}
    pod = {
        "automountServiceAccountToken": False, "enableServiceLinks": False,
        "terminationGracePeriodSeconds": 5,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        **{k: v for k, v in placement.items() if k in ("nodeSelector", "tolerations")},
        "containers": [{
            "name": "comparer", "image": image, "imagePullPolicy": "IfNotPresent",
            "command": ["python", "-m", "modelops.shadow.server"],
            "env": [{"name": k, "value": v} for k, v in env.items()],
            "ports": [{"name": "http", "containerPort": 8080},
                      {"name": "metrics", "containerPort": 9090}],
            "readinessProbe": {"httpGet": {"path": "/healthz", "port": "metrics"},
                               "periodSeconds": 2},
            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"},
                          "limits": {"memory": "256Mi"}},
            "securityContext": {"allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]}},
        }]}
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
         "spec": {"replicas": 1, "selector": {"matchLabels": selector},
                  "template": {"metadata": {"labels": labels, "annotations": {
                      "prometheus.io/scrape": "true", "prometheus.io/port": "9090",
                      "prometheus.io/path": "/metrics"}}, "spec": pod}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": meta,
         "spec": {"type": "ClusterIP", "selector": selector,
                  "ports": [{"name": "http", "port": PORT, "targetPort": "http",
                             "protocol": "TCP"}]}},
    ]
