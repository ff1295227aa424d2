"""The local cluster's gateway (Traefik, hack/cluster/gateway.py) as tests use it: an HTTPRoute
of the test's namespace on the Gateway `traefik/modelops`, and load sent through it."""

from __future__ import annotations

import json
import time
from typing import Any

from .kube import Kube
from .loadgen import LoadGen
from .waiting import wait_for

URL = "http://traefik.traefik.svc.cluster.local"  # the gateway's Service, from pods
GATEWAY = {"name": "modelops", "namespace": "traefik"}


def host(ns: str, model: str = "iris") -> str:
    """Each test's route answers its own host name: many namespaces share the Gateway."""
    return f"{model}.{ns}.test"


def route(kube: Kube, ns: str, model: str = "iris", **spec: Any) -> None:
    """The user's HTTPRoute for `model`: its host, path /v2 to the model's Service (the
    operator owns the backendRefs from then on)."""
    kube.kubectl("apply", "-n", ns, "-f", "-", stdin=json.dumps({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": model},
        "spec": {"parentRefs": [GATEWAY], "hostnames": [host(ns, model)],
                 "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/v2"}}],
                            "backendRefs": [{"name": model, "port": 80}]}], **spec}}))


def load(kube: Kube, ns: str, rate: float, name: str = "loadgen",
         headers: dict[str, str] | None = None, seed: int | None = None,
         clients: int = 0) -> LoadGen:
    """Open-loop load on the model through the gateway (`headers` besides its Host), or
    `clients` that keep their cookies, each one request at a time."""
    return LoadGen(kube, ns, "iris", 80, "iris", rate=rate, name=name, open_loop=True, url=URL,
                   headers={"Host": host(ns), **(headers or {})}, seed=seed, clients=clients)


def rules(kube: Kube, ns: str, name: str = "iris") -> list[dict[str, Any]]:
    return list(kube.get_json("httproute", name, "-n", ns)["spec"]["rules"])


def ours(kube: Kube, ns: str) -> list[str]:
    """The names of the rules the operator added (header routes)."""
    return [r["name"] for r in rules(kube, ns) if (r.get("name") or "").startswith("modelops-")]


def accepted(kube: Kube, ns: str, name: str = "iris") -> bool:
    r = kube.get_json("httproute", name, "-n", ns)
    gen = r["metadata"]["generation"]
    return any(c["type"] == "Accepted" and c["status"] == "True"
               and c.get("observedGeneration") == gen
               for p in (r.get("status") or {}).get("parents") or []
               for c in p.get("conditions") or [])


def wait_accepted(kube: Kube, ns: str) -> None:
    """The route's current generation accepted, and then applied: Traefik's data plane takes
    a route a moment after its status says so (its 2 s providersThrottleDuration)."""
    wait_for(lambda: accepted(kube, ns), timeout=30, what="the gateway to accept the route")
    time.sleep(3)
