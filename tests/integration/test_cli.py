"""`kubectl modelops` against the local cluster: every command on real resources, its errors,
kubectl's plugin discovery, and `--watch` drawn on a pseudo-terminal."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.emitter import Emitter
from tests.support.kube import Kube
from tests.support.manifests import model_version, served
from tests.support.operator import OperatorProcess
from tests.support.prometheus import Prometheus
from tests.support.rollout import Model, analysis, stable_on_v1
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the virtualenv's bin, where pip put kubectl-modelops
KUBECTL = str(ROOT / "hack" / "cluster" / "kubectl")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
Emit = Callable[..., Emitter]


def cli_env(kubeconfig: str) -> dict[str, str]:
    env = {**os.environ, "KUBECONFIG": kubeconfig, "PYTHONPATH": str(ROOT / "operator"),
           "COLUMNS": "200"}
    env.pop("NO_COLOR", None)
    return env


def cli(kube: Kube, *args: str, kubeconfig: str | None = None, stdin: str | None = None
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "modelops.cli.main", *args], input=stdin,
                          capture_output=True, text=True, timeout=90,
                          env=cli_env(kubeconfig or kube.kubeconfig))


def ok(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 0, f"exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    return r.stdout


def fails(r: subprocess.CompletedProcess[str], code: int, message: str) -> None:
    assert r.returncode == code, f"exit {r.returncode}, wanted {code}\n{r.stdout}\n{r.stderr}"
    assert message in r.stderr, r.stderr


def steps(*s: dict[str, Any]) -> dict[str, Any]:
    return {"canary": {"steps": list(s)}}


def test_status_list_and_history_of_a_canary_through_its_promotion(
        kube: Kube, operator: OperatorProcess, prometheus: Prometheus, emitters: Emit,
        namespace: str) -> None:
    ns = namespace
    m = stable_on_v1(kube, ns, analysis=analysis(prometheus.address, interval="1s"),
              strategy=steps({"setWeight": 25}, {"pause": {}}))
    emitters("m", "1")
    emitters("m", "2")
    m.patch({"targetVersion": "2"})
    m.wait("at the pause", phase="Paused", currentStepIndex=1, actualCanaryWeight=25)
    wait_for(lambda: [r["phase"] for r in (m.status().get("analysis") or {}).get("metrics", [])]
             == ["Successful"], timeout=30, what="a successful measurement")

    out = ok(cli(kube, "status", "m", "-n", ns))
    for expected in ("model m  namespace " + ns, "policy m  phase Paused",
                     "stable 1   canary 2   target 2   replicas 4",
                     "canary weight 25% set / 25% actual", "1/2 done", "✓ 1. weight 25%",
                     "▶ 2. pause until promoted", "error-rate", "<= 0.05", "Successful",
                     "m-v1", "m-v2", "Healthy"):
        assert expected in out, (expected, out)

    data = json.loads(ok(cli(kube, "status", "m", "-n", ns, "-o", "json")))
    p = data["policy"]
    assert (p["stableVersion"], p["canaryVersion"], p["canaryWeight"],
            p["actualCanaryWeight"]) == ("1", "2", 25, 25)
    assert p["step"] == {"index": 1, "count": 2, "description": "pause until promoted"}
    assert p["analysis"]["metrics"][0]["name"] == "error-rate"
    assert p["analysis"]["metrics"][0]["max"] == 0.05
    assert {v["version"]: v["role"] for v in data["versions"]} == {"1": "stable", "2": "canary"}
    assert data["rolloutActive"] is True
    as_yaml = yaml.safe_load(ok(cli(kube, "status", "m", "-n", ns, "-o", "yaml")))
    assert as_yaml["policy"]["canaryVersion"] == "2"

    row = next(ln for ln in ok(cli(kube, "list", "-n", ns)).splitlines() if ln.startswith("m "))
    assert row.split() == ["m", "1", "2", "25/25%", "2/2", "Paused", "1:Ready", "2:Ready"]
    every = ok(cli(kube, "list", "-A"))
    assert every.split()[0] == "NAMESPACE" and any(ln.split()[:2] == [ns, "m"]
                                                   for ln in every.splitlines())

    out = ok(cli(kube, "promote", "m", "-n", ns))
    assert f"updatepolicy/m patched (namespace {ns}):" in out
    assert "metadata.annotations[modelops.io/action]: - -> promote" in out
    # --watch off a terminal: one line per change, then the final view; exit 0 on success.
    watched = ok(cli(kube, "status", "m", "-n", ns, "--watch", "--interval", "0.3",
                     "--timeout", "60"))
    assert "phase=Promoted stable=2" in watched and "policy m  phase Promoted" in watched

    rows = json.loads(ok(cli(kube, "history", "m", "-n", ns, "-o", "json")))["rollouts"]
    assert [(r["revision"], r["version"], r["outcome"], r["reason"]) for r in rows] == [
        (2, "2", "Promoted", "StepsCompleted"), (1, "1", "Promoted", "FirstVersion")]
    assert rows[0]["fromVersion"] == "1" and rows[0]["durationSeconds"] > 0
    table = ok(cli(kube, "history", "m", "-n", ns)).splitlines()
    assert table[0].split()[:5] == ["REVISION", "VERSION", "FROM", "OUTCOME", "REASON"]
    assert table[1].split()[:5] == ["2", "2", "1", "Promoted", "StepsCompleted"]


def test_pause_resume_abort_retry_promote_full_and_rollback(
        kube: Kube, operator: OperatorProcess, namespace: str) -> None:
    ns = namespace
    m = stable_on_v1(kube, ns, strategy=steps({"setWeight": 25}, {"pause": {"duration": "1h"}}))
    m.patch({"targetVersion": "2"})
    m.wait("in the timed pause", phase="Progressing", currentStepIndex=1)

    assert "spec.paused: false -> true" in ok(cli(kube, "pause", "m", "-n", ns))
    m.wait("paused", phase="Paused")
    assert (kube.get_up(ns, "m") or {})["spec"]["paused"] is True
    assert "unchanged: already paused" in ok(cli(kube, "pause", "m", "-n", ns))
    fails(cli(kube, "promote", "m", "-n", ns), 1, "the rollout is paused (spec.paused is true)")

    assert "spec.paused: true -> false" in ok(cli(kube, "resume", "m", "-n", ns))
    m.wait("going again", phase="Progressing", currentStepIndex=1)

    ok(cli(kube, "abort", "m", "-n", ns))
    st = m.wait("aborted", phase="Degraded")
    assert st["history"][0]["outcome"] == "Aborted"
    fails(cli(kube, "abort", "m", "-n", ns), 1, "nothing to abort")

    assert "-> retry" in ok(cli(kube, "retry", "m", "-n", ns))
    m.wait("retried", phase="Progressing", canaryVersion="2", currentStepIndex=1)
    assert "-> promote-full" in ok(cli(kube, "promote", "m", "--full", "-n", ns))
    m.wait("promoted", phase="Promoted", stableVersion="2")
    fails(cli(kube, "retry", "m", "-n", ns), 1, "nothing to retry")

    out = ok(cli(kube, "rollback", "m", "--to", "1", "-n", ns))
    assert "spec.targetVersion: 2 -> 1" in out and "at once" in out
    st = m.wait("rolled back", phase="RolledBack", stableVersion="1")
    assert st["history"][0]["reason"] == "TargetRollback"
    fails(cli(kube, "rollback", "m", "--to", "7", "-n", ns), 3,
          "model 'm' has no version '7' (versions: 1, 2)")
    rows = json.loads(ok(cli(kube, "history", "m", "-n", ns, "-o", "json")))["rollouts"]
    assert [(r["version"], r["outcome"]) for r in rows] == [
        ("1", "RolledBack"), ("2", "Promoted"), ("2", "Aborted"), ("1", "Promoted")]


def test_resume_lifts_a_pause_the_operator_took(kube: Kube, operator: OperatorProcess,
                                               namespace: str) -> None:
    # Prometheus where nothing listens: every measurement is a gap, and the operator pauses.
    m = stable_on_v1(kube, namespace, analysis=analysis("http://127.0.0.1:9", interval="1s",
                                                 inconclusive_limit=0),
              strategy=steps({"setWeight": 25}, {"pause": {"duration": "1h"}}))
    m.patch({"targetVersion": "2"})
    wait_for(lambda: m.status().get("pauseReason"), what="the operator's pause")
    assert "paused by the operator: analysis inconclusive" in ok(
        cli(kube, "status", "m", "-n", namespace))
    fails(cli(kube, "promote", "m", "-n", namespace), 1, "the operator paused the rollout")
    out = ok(cli(kube, "resume", "m", "-n", namespace))
    assert "metadata.annotations[modelops.io/action]: - -> resume" in out
    assert "spec.paused" not in out  # the user never paused it
    wait_for(lambda: any(e.reason == "Resumed" for e in kube.events(namespace, "m")),
             what="Resumed event")


def test_compare_two_versions(kube: Kube, operator: OperatorProcess, namespace: str) -> None:
    gates = [{"metric": "accuracy", "min": 0.85}]
    for v, acc, image in (("1", 0.9, "srv:1"), ("2", 0.93, "srv:2")):
        kube.create(namespace, model_version(
            f"m-v{v}", "m", v, serving={"image": image, "replicas": 1},
            evaluation={"image": "eval:1", "command": ["python", "eval.py"], "gates": gates,
                        "podAnnotations": {"modelops.io/kwok-termination-message":
                                           json.dumps({"accuracy": acc, "f1": 0.8})}}))
    for v in ("1", "2"):
        wait_for(lambda v=v: ((kube.get_mv(namespace, f"m-v{v}") or {}).get("status") or {})
                 .get("evaluation", {}).get("metrics"), timeout=60, what=f"v{v} evaluated")
    lines = ok(cli(kube, "compare", "m", "1", "2", "-n", namespace)).splitlines()

    def line(field: str) -> list[str]:
        return next(ln.split() for ln in lines if field in ln.split())
    assert line("accuracy") == ["≠", "accuracy", "0.9", "0.93", "+0.03"]
    assert line("f1") == ["f1", "0.8", "0.8", "+0"]
    assert line("image")[0] == "≠" and line("image")[2:4] == ["srv:1", "srv:2"]
    assert line("gates")[0] != "≠"
    rows = json.loads(ok(cli(kube, "compare", "m", "1", "2", "-n", namespace, "-o", "json")))
    differ = {r["field"] for r in rows["rows"] if r["differs"]}
    assert {"accuracy", "image", "uri"} <= differ and "f1" not in differ
    fails(cli(kube, "compare", "m", "1", "9", "-n", namespace), 3, "has no version '9'")


@pytest.fixture
def other_namespace(kube: Kube, namespace: str) -> Iterator[str]:
    name = f"{namespace[:50]}-to"
    kube.kubectl("create", "namespace", name)
    yield name
    kube.kubectl("delete", "namespace", name, "--wait=false", check=False)


def test_export_then_import_into_another_namespace(
        kube: Kube, operator: OperatorProcess, namespace: str, other_namespace: str,
        tmp_path: Path) -> None:
    m = Model(kube, namespace)
    for v in ("1", "2"):
        body = served(f"m-v{v}", "m", v)
        body["metadata"].update(labels={"team": "nlp"},
                                annotations={"example.com/owner": "alice"})
        kube.create(namespace, body)
    m.policy(targetVersion="1", replicas=2)
    m.wait("serving", stableVersion="1", phase="Promoted")

    text = ok(cli(kube, "export", "m", "-n", namespace))
    doc = yaml.safe_load(text)
    assert [(o["kind"], o["metadata"]["name"]) for o in doc["items"]] == [
        ("ModelVersion", "m-v1"), ("ModelVersion", "m-v2"), ("UpdatePolicy", "m")]
    for o in doc["items"]:
        assert set(o) == {"apiVersion", "kind", "metadata", "spec"}
        assert set(o["metadata"]) <= {"name", "labels", "annotations"}
        assert not any(k.startswith("modelops.io/") for k in o["metadata"].get("annotations", {}))
    assert doc["items"][0]["metadata"]["annotations"] == {"example.com/owner": "alice"}
    path = tmp_path / "m.yaml"
    path.write_text(text)

    out = ok(cli(kube, "import", str(path), "-n", other_namespace))
    assert "modelversion/m-v1 created" in out and "updatepolicy/m created" in out
    assert f"3 object(s) created, 0 unchanged, in namespace {other_namespace}" in out
    copied = kube.get_mv(other_namespace, "m-v2") or {}
    assert copied["spec"] == (kube.get_mv(namespace, "m-v2") or {})["spec"]
    assert copied["metadata"]["labels"] == {"team": "nlp"}
    Model(kube, other_namespace).wait("the copy serves", stableVersion="1")

    again = ok(cli(kube, "import", str(path), "-n", other_namespace))
    assert again.count("unchanged (already there, no-op)") == 3
    assert f"nothing to do: everything in {path} is already in namespace" in again

    changed = yaml.safe_load(text)
    changed["items"][0]["spec"]["artifact"]["uri"] = "s3://elsewhere/"
    extra = served("m-v3", "m", "3")
    changed["items"].insert(2, {**extra, "apiVersion": "modelops.io/v1alpha1"})
    fails(cli(kube, "import", "-", "-n", other_namespace, stdin=yaml.safe_dump(changed)), 1,
          "modelversion/m-v1: model m version 1 exists with different content: artifact.uri")
    assert kube.get_mv(other_namespace, "m-v3") is None  # all or nothing
    fails(cli(kube, "import", str(tmp_path / "missing.yaml"), "-n", other_namespace), 3,
          "cannot read")


def sa_kubeconfig(kube: Kube, path: Path, token: str, server: str | None = None) -> str:
    admin = json.loads(Path(kube.kubeconfig).read_text())
    cluster = dict(admin["clusters"][0]["cluster"])
    if server:
        cluster["server"] = server
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "sa",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "sa", "user": {"token": token}}],
        "contexts": [{"name": "sa", "context": {"cluster": "c", "user": "sa"}}]}))
    return str(path)


def test_errors_say_what_is_wrong_with_distinct_exit_codes(kube: Kube, namespace: str,
                                                           tmp_path: Path) -> None:
    ns = namespace
    kube.create(ns, served("m-v1", "m", "1"))
    fails(cli(kube, "status", "nope", "-n", ns), 3,
          f"model 'nope' not found in namespace {ns}")
    fails(cli(kube, "history", "m", "-n", ns), 3, "model 'm' has no UpdatePolicy")
    fails(cli(kube, "status", "m", "--kubeconfig", str(tmp_path / "none")), 4,
          "no kubeconfig found")
    fails(cli(kube, "status", "m", "--context", "nowhere"), 4, "context 'nowhere' is not in")
    down = sa_kubeconfig(kube, tmp_path / "down", "x", server="https://127.0.0.1:1")
    fails(cli(kube, "list", "-n", ns, kubeconfig=down), 4,
          "cannot reach the cluster at https://127.0.0.1:1")
    bad = sa_kubeconfig(kube, tmp_path / "bad", "not-a-token")
    fails(cli(kube, "list", "-n", ns, kubeconfig=bad), 5, "unauthorized")

    Model(kube, ns).policy(targetVersion="1")
    kube.kubectl("create", "serviceaccount", "cli-user", "-n", ns)
    token = kube.kubectl("create", "token", "cli-user", "-n", ns, "--duration=1h").stdout.strip()
    user = sa_kubeconfig(kube, tmp_path / "user", token)
    fails(cli(kube, "status", "m", "-n", ns, kubeconfig=user), 5,
          f"forbidden: cannot list modelversions.modelops.io in namespace {ns}")
    kube.kubectl("create", "role", "reader", "--verb=get,list,watch",
                 "--resource=modelversions.modelops.io,updatepolicies.modelops.io", "-n", ns)
    kube.kubectl("create", "rolebinding", "reader", "--role=reader",
                 f"--serviceaccount={ns}:cli-user", "-n", ns)
    wait_for(lambda: cli(kube, "status", "m", "-n", ns, kubeconfig=user).returncode == 0,
             what="the reader role in effect")
    fails(cli(kube, "pause", "m", "-n", ns, kubeconfig=user), 5,
          f"forbidden: cannot patch updatepolicies.modelops.io in namespace {ns}")
    fails(cli(kube, "list", "-A", kubeconfig=user), 5,
          "forbidden: cannot list modelversions.modelops.io in any namespace (cluster-wide)")
    assert (kube.get_up(ns, "m") or {})["spec"].get("paused") is not True


def test_kubectl_finds_the_plugin(kube: Kube, namespace: str) -> None:
    assert (BIN / "kubectl-modelops").exists(), "install the package: pip install -e ."
    env = {**cli_env(kube.kubeconfig), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}

    def kubectl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([KUBECTL, *args], capture_output=True, text=True, env=env,
                              timeout=60)
    assert str(BIN / "kubectl-modelops") in kubectl("plugin", "list").stdout
    kube.create(namespace, model_version("m-v1", "m", "1"))
    out = ok(kubectl("modelops", "list", "-n", namespace))
    assert out.splitlines()[1].split()[:1] == ["m"] and "1:" in out
    fails(kubectl("modelops", "status", "nope", "-n", namespace), 3, "model 'nope' not found")


def run_on_a_pty(argv: list[str], env: dict[str, str], timeout: float = 90
                 ) -> tuple[int, str]:
    """Run argv with a pseudo-terminal (160x60) as its stdin/stdout/stderr; all it wrote."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 60, 160, 0, 0))
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                            close_fds=True)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        code = proc.wait(timeout=max(deadline - time.monotonic(), 1))
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return code, b"".join(chunks).decode(errors="replace")


def test_watch_redraws_on_a_terminal_until_the_rollout_ends(
        kube: Kube, operator: OperatorProcess, namespace: str) -> None:
    m = stable_on_v1(kube, namespace, strategy=steps(
        {"setWeight": 50}, {"pause": {"duration": "2s"}},
        {"setWeight": 75}, {"pause": {"duration": "2s"}}))
    m.patch({"targetVersion": "2"})
    m.wait("rolling", canaryVersion="2")
    env = {k: v for k, v in cli_env(kube.kubeconfig).items() if k not in ("COLUMNS", "LINES")}
    env["TERM"] = "xterm-256color"
    code, raw = run_on_a_pty([sys.executable, "-m", "modelops.cli.main", "status", "m", "-n",
                              namespace, "--watch", "--interval", "0.2", "--timeout", "60"], env)
    plain = ANSI.sub("", raw)
    assert code == 0, raw[-3000:]
    assert "\x1b[1A" in raw and "\x1b[2K" in raw, "not redrawn in place"
    assert "━" in plain  # the progress bar over the steps
    done = set(re.findall(r"([0-4])/4 done", plain))
    assert len(done) >= 2, f"saw only {done} of the steps"
    assert plain.index("phase Progressing") < plain.rindex("phase Promoted")
    assert m.status()["stableVersion"] == "2"
