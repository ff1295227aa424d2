"""A small synchronous client for tests, on the official kubernetes package."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config, dynamic
from kubernetes.client.exceptions import ApiException

ROOT = Path(__file__).resolve().parents[2]
GROUP, VERSION = "modelops.io", "v1alpha1"


class Kube:
    def __init__(self, kubeconfig: str) -> None:
        self.kubeconfig = kubeconfig
        self.api = config.new_client_from_config(config_file=kubeconfig)
        self.core = client.CoreV1Api(self.api)
        self.apps = client.AppsV1Api(self.api)
        self.batch = client.BatchV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)
        self.dyn = dynamic.DynamicClient(self.api)

    # -- modelops objects ------------------------------------------------------------------
    def create(self, ns: str, obj: dict[str, Any] | str) -> dict[str, Any]:
        body = yaml.safe_load(obj) if isinstance(obj, str) else obj
        plural = {"ModelVersion": "modelversions", "UpdatePolicy": "updatepolicies"}[body["kind"]]
        return dict(self.custom.create_namespaced_custom_object(GROUP, VERSION, ns, plural, body))

    def get_mv(self, ns: str, name: str) -> dict[str, Any] | None:
        return self._get("modelversions", ns, name)

    def get_up(self, ns: str, name: str) -> dict[str, Any] | None:
        return self._get("updatepolicies", ns, name)

    def _get(self, plural: str, ns: str, name: str) -> dict[str, Any] | None:
        try:
            return dict(self.custom.get_namespaced_custom_object(GROUP, VERSION, ns, plural, name))
        except ApiException as e:
            if e.status == 404:
                return None
            raise

    def patch_mv(self, ns: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        return dict(self.custom.patch_namespaced_custom_object(GROUP, VERSION, ns,
                                                               "modelversions", name, patch))

    def delete_mv(self, ns: str, name: str) -> None:
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, ns, "modelversions", name)

    # -- anything ------------------------------------------------------------------------------
    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True
                ) -> subprocess.CompletedProcess[str]:
        r = subprocess.run([str(ROOT / "hack" / "cluster" / "kubectl"),
                            f"--kubeconfig={self.kubeconfig}", *args],
                           input=stdin, capture_output=True, text=True, timeout=120)
        if check and r.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {r.stderr}")
        return r

    def apply_yaml(self, ns: str, text: str) -> subprocess.CompletedProcess[str]:
        """kubectl apply, as a user would; returns the result so tests can read rejections."""
        return self.kubectl("apply", "-n", ns, "-f", "-", stdin=text, check=False)

    def events(self, ns: str, name: str) -> list[Any]:
        evs = self.core.list_namespaced_event(ns, field_selector=f"involvedObject.name={name}")
        return list(evs.items)

    def get_json(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)
