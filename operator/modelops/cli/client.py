"""All of the CLI's API traffic: the official kubernetes client, synchronous, CustomObjectsApi.

Every call names its verb and resource, so that a refusal becomes an error that says exactly
which permission is missing, and a connection problem says which server could not be reached.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from ..api.common import GROUP, VERSION
from .errors import FAILED, FORBIDDEN, NOT_FOUND, UNREACHABLE, CliError

PLURALS = {"ModelVersion": "modelversions", "UpdatePolicy": "updatepolicies"}
MERGE_PATCH = "application/merge-patch+json"
# (connect, read) seconds: an unreachable cluster should fail fast, not hang a terminal.
TIMEOUT = (5, 30)
SA_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def _kubeconfig_paths(explicit: str | None) -> list[str]:
    raw = explicit or os.environ.get("KUBECONFIG") or "~/.kube/config"
    return [os.path.expanduser(p) for p in raw.split(os.pathsep) if p]


class Cluster:
    """One API server, reached like kubectl would: --kubeconfig, $KUBECONFIG, ~/.kube/config,
    or the pod's ServiceAccount when running in a cluster."""

    def __init__(self, kubeconfig: str | None = None, context: str | None = None,
                 namespace: str | None = None) -> None:
        cfg = client.Configuration()
        paths = [p for p in _kubeconfig_paths(kubeconfig) if os.path.exists(p)]
        default_ns = "default"
        try:
            if paths:
                joined = os.pathsep.join(paths)
                contexts, current = config.list_kube_config_contexts(config_file=joined)
                chosen = next((c for c in contexts if c["name"] == context), None) \
                    if context else current
                if context and chosen is None:
                    names = ", ".join(c["name"] for c in contexts) or "none"
                    raise CliError(f"context {context!r} is not in {joined} (contexts: {names})",
                                   UNREACHABLE)
                config.load_kube_config(config_file=joined, context=context,
                                        client_configuration=cfg, persist_config=False)
                default_ns = ((chosen or {}).get("context") or {}).get("namespace") or "default"
                self.source = f"context {(chosen or {}).get('name')!r} of {joined}"
            elif os.environ.get("KUBERNETES_SERVICE_HOST") and not kubeconfig:
                config.load_incluster_config(client_configuration=cfg)
                if SA_NAMESPACE.exists():
                    default_ns = SA_NAMESPACE.read_text().strip() or "default"
                self.source = "the in-cluster ServiceAccount"
            else:
                where = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
                raise CliError(f"no kubeconfig found at {where}", UNREACHABLE,
                               "point --kubeconfig or KUBECONFIG at one")
        except ConfigException as e:
            raise CliError(f"cannot use the kubeconfig: {e}", UNREACHABLE) from None
        # One retry at most: kubectl users expect a fast "cannot connect", not a long hang.
        cfg.retries = 1
        self.host = cfg.host
        self.api_client = client.ApiClient(configuration=cfg)
        self.api_client.user_agent = "kubectl-modelops"
        self.custom = client.CustomObjectsApi(self.api_client)
        self.namespace = namespace or default_ns

    # -- error mapping -----------------------------------------------------------------------
    @contextmanager
    def _call(self, verb: str, plural: str, namespace: str | None,
              name: str | None = None) -> Iterator[None]:
        resource = f"{plural}.{GROUP}"
        where = f"in namespace {namespace}" if namespace else "in any namespace (cluster-wide)"
        try:
            yield
        except ApiException as e:
            message = _server_message(e)
            if e.status == 403:
                raise CliError(f"forbidden: cannot {verb} {resource} {where}", FORBIDDEN,
                               message) from None
            if e.status == 401:
                raise CliError(f"unauthorized: {self.host} did not accept the credentials of "
                               f"{self.source}", FORBIDDEN, message) from None
            if e.status == 404 and name is None and "page not found" in (message or ""):
                raise CliError(f"the modelops CRDs are not installed on {self.host} "
                               f"({resource} is unknown)", NOT_FOUND,
                               "install them: kubectl apply --server-side -f crds/") from None
            if e.status == 404:
                raise CliError(f"{verb} {resource}{' ' + name if name else ''} {where}: "
                               f"{message}", NOT_FOUND) from None
            raise CliError(f"{verb} {resource}{' ' + name if name else ''} {where}: "
                           f"{message or e.reason} (HTTP {e.status})", FAILED) from None
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise CliError(f"cannot reach the cluster at {self.host}: {_reason(e)}",
                           UNREACHABLE, f"using {self.source}") from None

    # -- reads -------------------------------------------------------------------------------
    def list_objects(self, kind: str, namespace: str | None) -> list[dict[str, Any]]:
        """All objects of a kind in a namespace, or in every namespace when None."""
        plural = PLURALS[kind]
        got: Any
        with self._call("list", plural, namespace):
            if namespace is None:
                got = self.custom.list_cluster_custom_object(GROUP, VERSION, plural,
                                                             _request_timeout=TIMEOUT)
            else:
                got = self.custom.list_namespaced_custom_object(GROUP, VERSION, namespace,
                                                                plural, _request_timeout=TIMEOUT)
        items = [dict(o) for o in (got or {}).get("items") or []]
        for o in items:
            # List items carry no kind; the bundle and views want it.
            o.setdefault("kind", kind)
            o.setdefault("apiVersion", f"{GROUP}/{VERSION}")
        return items

    def model_objects(self, namespace: str | None
                      ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        return (self.list_objects("ModelVersion", namespace),
                self.list_objects("UpdatePolicy", namespace))

    def may_edit_spec(self, namespace: str, name: str) -> bool:
        """Whether this user may change the policy's spec (the chart's admission policy asks
        for the verb `edit-spec`); steering through the action annotation needs only patch."""
        review: Any = {
            "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {
                "group": GROUP, "resource": PLURALS["UpdatePolicy"], "verb": "edit-spec",
                "namespace": namespace, "name": name}}}
        api = client.AuthorizationV1Api(self.api_client)
        with self._call("review access to", PLURALS["UpdatePolicy"], namespace, name):
            got: Any = api.create_self_subject_access_review(review, _request_timeout=TIMEOUT)
        return bool(got.status.allowed)

    # -- writes ------------------------------------------------------------------------------
    def patch_policy(self, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        with self._call("patch", PLURALS["UpdatePolicy"], namespace, name):
            got: Any = self.custom.patch_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURALS["UpdatePolicy"], name, patch,
                _content_type=MERGE_PATCH, _request_timeout=TIMEOUT)
        return dict(got)

    def create(self, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
        plural = PLURALS[obj["kind"]]
        with self._call("create", plural, namespace, obj["metadata"]["name"]):
            got: Any = self.custom.create_namespaced_custom_object(
                GROUP, VERSION, namespace, plural, obj, _request_timeout=TIMEOUT)
        return dict(got)


def _server_message(e: ApiException) -> str:
    try:
        body = json.loads(e.body or "")
    except (TypeError, ValueError):
        return str(e.body or "").strip()
    return str(body.get("message") or "") if isinstance(body, dict) else str(body)


def _reason(e: Exception) -> str:
    inner = getattr(e, "reason", None)
    text = str(inner or e)
    # urllib3 nests the useful part ("Connection refused", "certificate verify failed") deep.
    for marker in ("[Errno", "certificate verify failed", "timed out", "Name or service"):
        at = text.find(marker)
        if at >= 0:
            return text[at:].rstrip("')\" ")
    return text
