"""The Kubernetes kinds the operator reads and writes, as the API server names them: what a
request path is made of. Pure data, importable by any layer (kube.py does the I/O)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None, sub: str = "") -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
        if sub:
            base += f"/{sub}"
        return base


MODELVERSIONS = Resource("modelops.io", "v1alpha1", "modelversions", "ModelVersion")
UPDATEPOLICIES = Resource("modelops.io", "v1alpha1", "updatepolicies", "UpdatePolicy")
DEPLOYMENTS = Resource("apps", "v1", "deployments", "Deployment")
SERVICES = Resource("", "v1", "services", "Service")
JOBS = Resource("batch", "v1", "jobs", "Job")
PODS = Resource("", "v1", "pods", "Pod")
NODES = Resource("", "v1", "nodes", "Node")
EVENTS = Resource("", "v1", "events", "Event")
KINDS = {r.kind: r for r in (MODELVERSIONS, UPDATEPOLICIES, DEPLOYMENTS, SERVICES, JOBS, PODS,
                             NODES)}
