"""Small builders of test manifests."""

from __future__ import annotations

from typing import Any


def model_version(name: str, model: str, version: str, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "version": version}
    body.setdefault("artifact", {"uri": f"s3://models/{model}/{version}/"})
    body.update(spec)
    if body.get("artifact") is None:
        body.pop("artifact")
    return {"apiVersion": "modelops.io/v1alpha1", "kind": "ModelVersion",
            "metadata": {"name": name}, "spec": body}


def served(name: str, model: str, version: str, replicas: int = 1, **serving: Any
           ) -> dict[str, Any]:
    return model_version(name, model, version, serving={
        "image": f"example.com/{model}:{version}", "replicas": replicas, **serving})
