"""Installing modelops: the chart, the plain manifest, and least-privilege RBAC that suffices."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.helm import CHART, helm
from tests.support.kube import Kube
from tests.support.prometheus import built, snake
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
NS = "modelops-system"
SA = f"system:serviceaccount:{NS}:modelops"


def test_helm_lint_and_template() -> None:
    lint = helm("lint", str(CHART))
    assert lint.returncode == 0, lint.stdout + lint.stderr
    for values in ([], ["--set", "watchNamespaces={a,b}"], ["--set", "ha.enabled=true"]):
        r = helm("template", "t", str(CHART), "--kube-version", "1.35.4", *values)
        assert r.returncode == 0, r.stderr
        kinds = [d["kind"] for d in yaml.safe_load_all(r.stdout) if d]
        assert "Deployment" in kinds and "ServiceAccount" in kinds


def test_network_policy_option(kube: Kube) -> None:
    r = helm("template", "t", str(CHART), "--kube-version", "1.35.4", "--namespace", "default",
             "--set", "networkPolicy.enabled=true",
             "--set-json", 'networkPolicy.apiServer=[{"ipBlock":{"cidr":"10.0.0.1/32"}}]')
    assert r.returncode == 0, r.stderr
    np = next(d for d in yaml.safe_load_all(r.stdout) if d and d["kind"] == "NetworkPolicy")
    assert np["spec"]["policyTypes"] == ["Ingress", "Egress"]
    egress = np["spec"]["egress"]
    assert {p["port"] for p in egress[0]["ports"]} == {53}
    assert egress[1]["to"] == [{"ipBlock": {"cidr": "10.0.0.1/32"}}]
    assert [p["port"] for p in egress[1]["ports"]] == [443, 6443]
    assert [p["port"] for p in egress[2]["ports"]] == [9090] and "to" not in egress[2]
    # The API server itself accepts it.
    dry = kube.kubectl("apply", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(np))
    assert "created (server dry run)" in dry.stdout


def test_operator_pod_is_admitted_by_pod_security_restricted(kube: Kube, namespace: str
                                                               ) -> None:
    kube.kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted")
    docs = yaml.safe_load_all((ROOT / "dist" / "install.yaml").read_text())
    dep = next(d for d in docs if d and d["kind"] == "Deployment")
    template = dep["spec"]["template"]
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "operator", "labels": template["metadata"]["labels"]},
           "spec": {**template["spec"], "serviceAccountName": "default"}}
    r = kube.kubectl("apply", "--dry-run=server", "-n", namespace, "-f", "-",
                     stdin=json.dumps(pod), check=False)
    assert r.returncode == 0 and "created (server dry run)" in r.stdout, r.stderr
    # The check bites: a root container is refused in the same namespace.
    pod["spec"]["securityContext"] = {"runAsNonRoot": False, "runAsUser": 0}
    pod["spec"]["containers"][0]["securityContext"].pop("runAsNonRoot", None)
    r = kube.kubectl("apply", "--dry-run=server", "-n", namespace, "-f", "-",
                     stdin=json.dumps(pod), check=False)
    assert r.returncode != 0 and "restricted" in r.stderr


def test_values_schema_rejects_typos() -> None:
    r = helm("template", "t", str(CHART), "--set", "replicaz=2")
    assert r.returncode != 0 and "replicaz" in r.stderr


def test_chart_crds_and_install_manifest_are_current() -> None:
    r = subprocess.run(["bash", str(ROOT / "tools" / "render_install.sh"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_helm_install(kube: Kube) -> None:
    ns = "modelops-helm"
    kube.kubectl("create", "namespace", ns, check=False)
    try:
        r = helm("install", "mo", str(CHART), "-n", ns, "--kubeconfig", kube.kubeconfig,
                 "--set", f"watchNamespaces={{{ns}}}")
        assert r.returncode == 0, r.stderr
        dep = wait_for(lambda: kube.apps.read_namespaced_deployment("mo-modelops", ns),
                       what="operator Deployment")
        c = dep.spec.template.spec.containers[0]
        assert c.security_context.read_only_root_filesystem
        assert c.args[-2:] == ["--namespace", ns] or "--standalone" in c.args
        assert dep.spec.strategy.type == "Recreate"
        assert kube.kubectl("get", "role", "mo-modelops", "-n", ns).returncode == 0
    finally:
        helm("uninstall", "mo", "-n", ns, "--kubeconfig", kube.kubeconfig)
        kube.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def test_helm_install_with_ha_creates_the_peering(kube: Kube) -> None:
    ns = "modelops-ha"
    kube.kubectl("create", "namespace", ns, check=False)
    try:
        r = helm("install", "mo-ha", str(CHART), "-n", ns, "--kubeconfig", kube.kubeconfig,
                 "--set", "ha.enabled=true", "--set", f"watchNamespaces={{{ns}}}")
        assert r.returncode == 0, r.stderr
        peering = kube.get_json("kopfpeering", "modelops", "-n", ns)
        assert peering["kind"] == "KopfPeering"
        dep = kube.apps.read_namespaced_deployment("mo-ha-modelops", ns)
        assert dep.spec.replicas == 2
        script = dep.spec.template.spec.containers[0].args[0]
        assert "--peering=modelops --priority=$(hostname | cksum" in script
        assert "--standalone" not in script
        role = kube.get_json("role", "mo-ha-modelops", "-n", ns)
        assert any("kopfpeerings" in r["resources"] for r in role["rules"])
    finally:
        helm("uninstall", "mo-ha", "-n", ns, "--kubeconfig", kube.kubeconfig)
        kube.kubectl("delete", "namespace", ns, "--wait=false", check=False)


@pytest.fixture(scope="module")
def installed(kube: Kube) -> Iterator[None]:
    wait_for(lambda: kube.kubectl("get", "namespace", NS, check=False).returncode != 0,
             timeout=60, what=f"no {NS} left from an earlier run")
    r = kube.kubectl("apply", "--server-side", "--force-conflicts", "-f",
                     str(ROOT / "dist" / "install.yaml"), check=False)
    assert r.returncode == 0, r.stderr
    yield
    for obj in ("clusterrolebinding/modelops-cluster", "clusterrole/modelops-cluster"):
        kube.kubectl("delete", obj, check=False)
    kube.kubectl("delete", "namespace", NS, "--wait=false", check=False)


@pytest.mark.parametrize(("verb", "resource", "flags"), [
    ("list", "secrets", ["--all-namespaces"]),
    ("get", "secrets", ["-n", "default"]),
    ("delete", "pods", ["--all-namespaces"]),
    ("patch", "nodes", []),
    ("create", "clusterroles", []),
    ("create", "pods", ["-n", "default"]),
])
def test_the_service_account_cannot_do_what_it_does_not_need(
        kube: Kube, installed: None, verb: str, resource: str, flags: list[str]) -> None:
    r = kube.kubectl("auth", "can-i", verb, resource, *flags, f"--as={SA}", check=False)
    assert r.stdout.strip() == "no"


def rendered_with_monitoring() -> list[dict[str, object]]:
    r = helm("template", "t", str(CHART), "--kube-version", "1.35.4",
             "--set", "metrics.serviceMonitor.enabled=true",
             "--set", "metrics.prometheusRule.enabled=true",
             "--set", "metrics.grafanaDashboard.enabled=true",
             "--set", "metrics.podMonitor.enabled=true")
    assert r.returncode == 0, r.stderr
    return [d for d in yaml.safe_load_all(r.stdout) if d]


def exported_metric_names() -> set[str]:
    from prometheus_client import CollectorRegistry, generate_latest

    from modelops import metrics
    reg = CollectorRegistry()
    reg.register(metrics.StateCollector(lambda: ([], [{"metadata": {}, "spec": {},
                                                         "status": {}}])))
    text = generate_latest(metrics.REGISTRY).decode() + generate_latest(reg).decode()
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines()
            if line.startswith("modelops_")} | {
        line.split()[2] for line in text.splitlines() if line.startswith("# TYPE modelops_")}


def test_alerts_are_valid_promql_on_metrics_the_operator_exports(tmp_path: Path) -> None:
    import re
    rule = next(d for d in rendered_with_monitoring() if d["kind"] == "PrometheusRule")
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))  # type: ignore[index]
    promtool = built("promtool")
    r = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    names = exported_metric_names()
    used = set(re.findall(r"modelops_[a-z_]+", path.read_text()))
    alerts = {x["alert"] for g in rule["spec"]["groups"] for x in g["rules"]}  # type: ignore[index]
    assert {"ModelopsRollbackHappened", "ModelopsRolloutStuck", "ModelopsTrainingFailed",
            "ModelopsServingRegression", "ModelopsEvaluationFailing",
            "ModelopsNotificationsFailing"} <= alerts
    assert used and used <= names, used - names


def test_dashboard_shows_only_metrics_the_operator_exports() -> None:
    import re
    cm = next(d for d in rendered_with_monitoring() if d["kind"] == "ConfigMap")
    dash = json.loads(cm["data"]["modelops.json"])  # type: ignore[index]
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    used = {re.sub(r"_bucket$", "", n) for e in exprs for n in re.findall(r"modelops_[a-z_]+", e)}
    names = exported_metric_names()
    assert len(dash["panels"]) >= 6 and used <= names, used - names
    titles = " ".join(p["title"] for p in dash["panels"]).lower()
    assert all(w in titles for w in ("rollouts", "weight", "analysis", "training"))


def relabel_keep(relabel: list[dict[str, Any]]) -> Any:
    """Whether the first `keep` rule keeps a pod with these modelops.io/ labels."""
    rule = next(r for r in relabel if r.get("action") == "keep")
    names = [s.removeprefix("__meta_kubernetes_pod_label_modelops_io_") for s in
             rule["sourceLabels"]]
    return lambda labels: re.fullmatch(rule["regex"], ";".join(
        labels.get(n, "") for n in names)) is not None


def test_the_pod_monitor_labels_serving_pods_as_analysis_templates_select(
        tmp_path: Path) -> None:
    pm = next(d for d in rendered_with_monitoring() if d["kind"] == "PodMonitor")
    spec: Any = pm["spec"]
    # Serving pods and setMirror's comparers: both carry the model; the relabelings keep only
    # those two kinds (a training pod has the model too, and is dropped there).
    assert spec["selector"]["matchLabels"] == {"app.kubernetes.io/managed-by": "modelops"}
    assert spec["selector"]["matchExpressions"] == [{"key": "modelops.io/model",
                                                    "operator": "Exists"}]
    keep = relabel_keep(spec["podMetricsEndpoints"][0]["relabelings"])
    assert keep({"serving": "true"}) and keep({"shadow": "iris"})
    assert not keep({}) and not keep({"serving": "false"})
    assert spec["namespaceSelector"] == {"any": True}
    relabel = spec["podMetricsEndpoints"][0]["relabelings"]
    targets = {r.get("targetLabel") for r in relabel}
    assert {"namespace", "model", "version", "__address__", "__metrics_path__"} <= targets
    # Valid for a real Prometheus: the same rules in a scrape config, checked by promtool.
    config = {"scrape_configs": [{"job_name": "serving", "static_configs": [
        {"targets": ["127.0.0.1:9"]}], "relabel_configs": [snake(r) for r in relabel]}]}
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    promtool = built("promtool")
    r = subprocess.run([promtool, "check", "config", str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
