"""Session fixtures: the local cluster, the CRDs, the operator, a namespace per test.

The cluster is real (etcd, kube-apiserver, controller-manager, scheduler, kwok) and is started
by `hack/cluster/localcluster.py` when no running one is named. A missing cluster fails the
integration tests; it never skips them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import faults
from tests.support.emitter import Emitter
from tests.support.gitops import Argo, GitOpsModel
from tests.support.identity import ChartIdentity
from tests.support.kube import Kube
from tests.support.operator import OperatorProcess
from tests.support.prometheus import Prometheus, serving_pods_prometheus
from tests.support.shipped import ShippedOperator
from tests.support.waiting import wait_for
from tests.support.webhook import Receiver

ROOT = Path(__file__).resolve().parent.parent


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--cluster", choices=["local", "kind"], default="local",
                     help="local: the project's own control plane + kwok (default); "
                          "kind: pytest-kind, for machines with Docker")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests against the Helm-installed operator run together, after the others (it is
    installed once, and the suite's operator process steps aside for good), those that need
    the autoscalers last among them (installed once); tests that stop and start the cluster
    run last, so no other test sees it go."""
    items.sort(key=lambda item: (item.get_closest_marker("cluster_cycle") is not None,
                                 "shipped_operator" in getattr(item, "fixturenames", ()),
                                 "autoscalers" in getattr(item, "fixturenames", ())))


def _load_localcluster():  # type: ignore[no-untyped-def]
    return _load("localcluster")


def _load_argocd():  # type: ignore[no-untyped-def]
    return _load("argocd")


def _load(name: str):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(name, ROOT / "hack" / "cluster" / f"{name}.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def kubeconfig(request: pytest.FixtureRequest) -> Iterator[str]:
    # pytest-kind owns --kubeconfig (a running cluster to use instead of starting one).
    named = request.config.getoption("--kubeconfig") or os.environ.get("MODELOPS_TEST_KUBECONFIG")
    if named:
        yield str(named)
        return
    if request.config.getoption("--cluster") == "kind":
        kind_cluster = request.getfixturevalue("kind_cluster")  # from pytest-kind
        yield str(kind_cluster.kubeconfig_path)
        return
    lc = _load_localcluster()
    cluster = lc.Cluster()
    started = not cluster.running()
    cluster.up()
    yield str(cluster.kubeconfig)
    if started and not os.environ.get("MODELOPS_KEEP_CLUSTER"):
        cluster.down()


@pytest.fixture(scope="session")
def kube(kubeconfig: str) -> Kube:
    k = Kube(kubeconfig)
    k.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
    k.kubectl("wait", "--for=condition=Established", "--timeout=60s",
              "crd/modelversions.modelops.io", "crd/updatepolicies.modelops.io")
    return k


# The suite's operator acts as the chart's ServiceAccount of this release, with exactly the
# chart's RBAC; notification receivers are Secrets in its release namespace, as under Helm.
SUITE_RELEASE, SUITE_NAMESPACE = "suite", "modelops-suite"


@pytest.fixture(scope="session")
def chart_identity(kube: Kube) -> Iterator[ChartIdentity]:
    identity = ChartIdentity(kube, SUITE_RELEASE, SUITE_NAMESPACE)
    identity.install()
    yield identity
    identity.remove()


@pytest.fixture(scope="session")
def host_operator(kube: Kube, chart_identity: ChartIdentity,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorProcess]:
    config = chart_identity.kubeconfig(tmp_path_factory.mktemp("operator") / "kubeconfig")
    op = OperatorProcess(config, ROOT / ".localcluster" / "logs",
                         env={"MODELOPS_RECEIVERS_NAMESPACE": chart_identity.namespace})
    op.start()
    yield op
    op.stop()
    refused = faults.refusals(op.every_log(), chart_identity.user)
    assert not refused, "the chart's RBAC is missing a permission:\n" + "\n".join(refused)


@pytest.fixture
def operator(host_operator: OperatorProcess) -> OperatorProcess:
    """The operator the test runs against: a process acting as the chart's ServiceAccount.
    The real-node end-to-end modules override it with `shipped_operator`."""
    return host_operator


@pytest.fixture(scope="session")
def shipped_operator(kube: Kube, host_operator: OperatorProcess) -> Iterator[ShippedOperator]:
    """The operator installed by Helm, in its pod (tests/support/shipped.py); the process steps
    aside (one operator at a time). The tests that use it run last (see above)."""
    host_operator.stop()
    op = ShippedOperator(kube)
    _in_cluster.append(op.finish)
    op.install()
    yield op
    op.finish()  # the process does not come back: nothing after these tests needs it


# What the session installed in the cluster, to be removed (once) before a test takes the
# cluster down: the fixtures' own teardowns come after it and find nothing left to do.
_in_cluster: list[Callable[[], None]] = []


@pytest.fixture
def cluster_handed_back(host_operator: OperatorProcess, chart_identity: ChartIdentity) -> None:
    host_operator.stop()
    _in_cluster.append(chart_identity.remove)
    while _in_cluster:
        _in_cluster.pop(0)()


@pytest.fixture
def namespace(kube: Kube, request: pytest.FixtureRequest) -> Iterator[str]:
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    name = f"t-{slug}-{uuid.uuid4().hex[:5]}"
    kube.kubectl("create", "namespace", name)
    if request.node.get_closest_marker("real_node"):
        # What runs for real runs as hardened clusters demand: the operator's children too.
        kube.kubectl("label", "namespace", name, "pod-security.kubernetes.io/enforce=restricted")
    wait_for(lambda: kube.kubectl("get", "serviceaccount", "default", "-n", name,
                                  check=False).returncode == 0, what="default ServiceAccount")
    yield name
    kube.kubectl("delete", "namespace", name, "--wait=false", check=False)


# Settings a user's Argo CD already has in argocd-cm; the health patch must leave them be.
USER_ARGOCD_SETTINGS = {"timeout.reconciliation": "180s", "admin.enabled": "false",
                        "statusbadge.enabled": "true"}


@pytest.fixture(scope="session")
def argocd(kube: Kube) -> Iterator[Argo]:
    """A real Argo CD (controller, repo server, redis, git daemon) on the local cluster, with
    modelops' health checks patched into a user-configured argocd-cm as docs/install.md says."""
    lc = _load_argocd()
    cluster = lc.Cluster()
    assert str(cluster.kubeconfig) == kube.kubeconfig, "the Argo CD tests need the local cluster"
    server = lc.ArgoCD(cluster)
    server.up()
    kube.kubectl("apply", "-n", "argocd", "-f", "-", stdin=json.dumps({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "argocd-cm", "labels": {"app.kubernetes.io/part-of": "argocd"}},
        "data": USER_ARGOCD_SETTINGS}))
    kube.kubectl("-n", "argocd", "patch", "configmap", "argocd-cm", "--type", "merge",
                 "--patch-file", str(ROOT / "deploy" / "argocd" / "argocd-cm-patch.yaml"))
    yield Argo(kube, server)
    if not os.environ.get("MODELOPS_KEEP_CLUSTER"):
        server.down()


_AUTOSCALERS: list[Any] = []  # the installed KEDA and metrics-server, while they are up


@pytest.fixture(scope="session")
def autoscalers_session(kube: Kube) -> Iterator[None]:
    """Takes the autoscalers down at the end, before the cluster, if a test left them up."""
    yield
    _autoscalers_down()


@pytest.fixture
def autoscalers(kube: Kube, autoscalers_session: None) -> None:
    """KEDA (its operator and external-metrics API server) and metrics-server, built here,
    on the real node, installed from their releases' own manifests (hack/cluster/
    autoscalers.py). Installed once for the tests that use them, which run one after the
    other (pytest_collection_modifyitems), and taken down before the next test that does not:
    their pods' requests would crowd the real node for the training gangs."""
    if _AUTOSCALERS:
        return
    mod = _load("autoscalers")
    cluster = mod.Cluster()
    assert str(cluster.kubeconfig) == kube.kubeconfig, "autoscaling tests need the local cluster"
    server = mod.Autoscalers(cluster)
    server.up()
    _AUTOSCALERS.append(server)


def _autoscalers_down() -> None:
    if _AUTOSCALERS and not os.environ.get("MODELOPS_KEEP_CLUSTER"):
        _AUTOSCALERS.pop().down()


def pytest_runtest_setup(item: pytest.Item) -> None:
    if "autoscalers" not in getattr(item, "fixturenames", ()):
        _autoscalers_down()



@pytest.fixture(scope="session")
def kueue(kube: Kube) -> None:
    """Kueue, built here, on the real node with the cluster's queues (hack/cluster/kueue.py),
    from the first test that queues on. It stays: its Job webhooks only see namespaces
    labelled modelops.io/queues, its pod asks 50m, and taking it down while Workloads keep
    its finalizers would leave their namespaces terminating."""
    mod = _load("kueue")
    cluster = mod.Cluster()
    assert str(cluster.kubeconfig) == kube.kubeconfig, "queue tests need the local cluster"
    mod.Queue(cluster).up()


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    prom = Prometheus(tmp_path_factory.mktemp("prometheus"))
    prom.start()
    yield prom
    prom.stop()


@pytest.fixture
def gitops(kube: Kube, operator: OperatorProcess, argocd: Argo, namespace: str,
           tmp_path: Path) -> Iterator[GitOpsModel]:
    m = GitOpsModel(kube, argocd, namespace, tmp_path / "repo")
    m.argocd.synced_at(m.app, m.rev, "Healthy", timeout=120)
    m.argocd.settled(m.app)
    yield m
    m.close()


@pytest.fixture
def pods_prometheus(kube: Kube, namespace: str, tmp_path: Path) -> Iterator[Prometheus]:
    """A real Prometheus with Kubernetes service discovery (built from its module) finding
    the namespace's serving pods through the API server and labelling them by the chart's
    PodMonitor rules, as kube-prometheus-stack would."""
    prom = serving_pods_prometheus(tmp_path / "prometheus", kube.kubeconfig, namespace)
    yield prom
    prom.stop()


@pytest.fixture
def receiver(kube: Kube, namespace: str, operator: Any) -> Iterator[Receiver]:
    """A webhook receiver (not started: a test starts it, or leaves it down) and the receiver
    Secret `receiver.name` that names it where the operator reaches it, in the operator's
    release namespace (the chart's Role lets it read Secrets there and nowhere else)."""
    r = Receiver(name=f"team-{namespace[-5:]}")
    url = operator.reach(namespace, "receiver", r.port) + "/hook"
    kube.kubectl("create", "secret", "generic", r.name, "-n", operator.receivers_namespace,
                 f"--from-literal=url={url}")
    yield r
    r.stop()
    kube.kubectl("delete", "secret", r.name, "-n", operator.receivers_namespace, check=False)


@pytest.fixture
def emitters(prometheus: Prometheus, namespace: str
             ) -> Iterator[Callable[..., Emitter]]:
    """emit(model, version, error_rate=0) -> an Emitter scraped as that version's pods."""
    made: list[Emitter] = []

    def emit(model: str, version: str, error_rate: float = 0.0) -> Emitter:
        e = Emitter(error_rate=error_rate)
        made.append(e)
        prometheus.add_target(e.port, model=model, version=version, namespace=namespace)
        return e

    yield emit
    for e in made:
        prometheus.remove_target(e.port)
        e.close()


def _schedulable(kube: Kube, name: str) -> bool:
    node = kube.core.read_node(name)
    ready = any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])
    blocked = any(t.key.startswith("node.kubernetes.io/") for t in node.spec.taints or [])
    return ready and not blocked and (node.status.allocatable or {}).get("nvidia.com/gpu") == "8"


@pytest.fixture
def gpu_pool(kube: Kube, namespace: str) -> Iterator[dict[str, str]]:
    """Two 8-GPU kwok nodes of this test's own, so whole-node GPU jobs never wait for other
    tests' pods to drain; returns the nodeSelector that reaches them."""
    lc = _load_localcluster()
    nodes = lc.node_list(2, 2)["items"]
    label = {"modelops.io/test-pool": namespace}
    for i, node in enumerate(nodes):
        node["metadata"]["name"] = f"{namespace}-gpu-{i}"[:63]
        node["metadata"]["labels"].update(label, **{"kubernetes.io/hostname":
                                                    node["metadata"]["name"]})
    kube.kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List",
                                                       "items": nodes}))
    # Pods made before kwok marks a node Ready meet a not-ready taint and the scheduler's
    # back-off; on a busy machine that can outlast a test's wait.
    names = [n["metadata"]["name"] for n in nodes]
    wait_for(lambda: all(_schedulable(kube, n) for n in names), timeout=60,
             what=f"test GPU nodes {names} Ready")
    yield label
    for node in nodes:
        kube.kubectl("delete", "node", node["metadata"]["name"], "--wait=false", check=False)
