#!/usr/bin/env python3
"""A real Kubernetes control plane on loopback, with kwok nodes: `up`, `down`, `status`.

etcd, kube-apiserver (TLS, RBAC, ServiceAccount tokens), kube-controller-manager,
kube-scheduler and kwok run as plain processes under `.localcluster/` on free ports, the way
controller-runtime's envtest and kwokctl's binary runtime run them. Standard library only, so
it runs before the project's virtualenv exists.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # pki.py lives beside this file, however it is loaded
import hostservices  # noqa: E402
import realnode  # noqa: E402
from kwoknodes import node_list  # noqa: E402
from pki import aggregation_flags, kubeconfig, make_certs  # noqa: E402
from procs import alive, free_port, http_ok, listen_ports, port_free, tail  # noqa: E402

ROOT = HERE.parent.parent
STATE = Path(os.environ.get("MODELOPS_CLUSTER_DIR", ROOT / ".localcluster"))
CACHE = Path(os.environ.get("MODELOPS_CACHE", Path.home() / ".cache" / "modelops"))
AUDITED = "modelops-system"
SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.0/16"
# The cluster's own processes, in reverse start order.
CORE = ("kwok", "kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd")


def log(msg: str) -> None:
    print(f"[cluster {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def versions() -> dict[str, str]:
    out = {}
    for line in (HERE / "versions.env").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def binaries() -> dict[str, Path]:
    v = versions()
    k8s = CACHE / f"kubernetes-{v['K8S_VERSION']}" / "bin"
    return {
        "etcd": CACHE / f"etcd-{v['ETCD_VERSION']}" / "bin" / "etcd",
        "kube-apiserver": k8s / "kube-apiserver",
        "kube-controller-manager": k8s / "kube-controller-manager",
        "kube-scheduler": k8s / "kube-scheduler",
        "kubectl": k8s / "kubectl",
        "kubelet": k8s / "kubelet",
        "kube-proxy": k8s / "kube-proxy",
        "kwok": CACHE / f"kwok-{v['KWOK_VERSION']}" / "bin" / "kwok",
        "versitygw": CACHE / f"versitygw-{v['VERSITYGW_VERSION']}" / "bin" / "versitygw",
        "olah": CACHE / f"olah-{v['OLAH_VERSION']}" / "bin" / "python",
        "gateway-api-crds": CACHE / f"gateway-api-{v['GATEWAY_API_VERSION']}" / "crds",
        "traefik": CACHE / f"traefik-{v['TRAEFIK_VERSION']}" / "bin" / "traefik",
        "kueue": CACHE / f"kueue-{v['KUEUE_VERSION']}" / "bin" / "kueue",
        "smi-crds": CACHE / f"smi-crds-{v['ARGO_ROLLOUTS_VERSION']}" / "split.yaml",
        "kube-router": CACHE / (f"kube-router-{v['KUBE_ROUTER_VERSION']}-" + hashlib.sha256(
            v["KUBE_ROUTER_DEPS"].strip('"').encode()).hexdigest()[:8]) / "bin" / "kube-router",
    }


def ensure_binaries() -> dict[str, Path]:
    bins = binaries()
    if not all(p.exists() for p in bins.values()):
        log("building missing binaries (first run only)")
        subprocess.run(["bash", str(HERE / "build.sh"), "etcd", "kwok", "kubernetes",
                        "gateway-api", "smi", "versitygw", "olah", "kube-router", "traefik",
                        "kueue"],
                       check=True)
    return bins


class Cluster:
    def __init__(self, state: Path = STATE) -> None:
        self.state = state
        self.pki = state / "pki"
        self.logs = state / "logs"
        self.kubeconfig = state / "kubeconfig"
        self.info_file = state / "cluster.json"

    # -- processes -------------------------------------------------------------------------
    def _start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> int:
        with open(self.logs / f"{name}.log", "ab") as out:  # the child keeps its own copy
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        (self.state / "pids").mkdir(exist_ok=True)
        (self.state / "pids" / name).write_text(str(proc.pid))
        # How it was started (its namespace wrapper included), so `restart` can do it again.
        (self.state / "argv").mkdir(exist_ok=True)
        (self.state / "argv" / name).write_text(json.dumps({"argv": argv, "env": env}))
        return proc.pid

    def restart(self, name: str, sig: int = signal.SIGKILL) -> float:
        """Kill one of the cluster's processes (SIGKILL: a crash) and start it again as it was
        started; returns the seconds it was away. What it serves is the caller's to wait for."""
        how = json.loads((self.state / "argv" / name).read_text())
        pid = self._pids().get(name, 0)
        down = time.monotonic()
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, sig)
            self._wait(f"{name} gone", lambda: not alive(pid), 30)
        # A listener's socket can outlive the process by a moment (threads letting go).
        for port in listen_ports(how["argv"]):
            self._wait(f"{name}'s port {port} released", lambda p=port: port_free(p), 30)
        self.resume(name)
        return time.monotonic() - down

    def resume(self, name: str) -> None:
        """Start one of the cluster's processes again as it was started (after `stop`)."""
        how = json.loads((self.state / "argv" / name).read_text())
        self._start(name, how["argv"], how["env"])

    def _pids(self) -> dict[str, int]:
        d = self.state / "pids"
        return {p.name: int(p.read_text()) for p in d.iterdir()} if d.exists() else {}

    def running(self) -> bool:
        """The control plane answers and every process of the cluster (the real node's too,
        when there is one) is alive: a half-started or half-dead cluster is started afresh."""
        pids = self._pids()
        names = CORE + (realnode.PROCS if realnode.enabled() else ())
        return all(alive(pids.get(n, 0)) for n in names) and self._healthy()

    def _healthy(self) -> bool:
        try:
            info = json.loads(self.info_file.read_text())
        except (OSError, ValueError):
            return False
        return self._get(f"{info['server']}/readyz") == "ok"

    def _get(self, url: str) -> str | None:
        ctx = ssl.create_default_context(cafile=str(self.pki / "ca.crt"))
        ctx.load_cert_chain(str(self.pki / "admin.crt"), str(self.pki / "admin.key"))
        try:
            with urllib.request.urlopen(url, context=ctx, timeout=2) as r:
                return str(r.read().decode())
        except OSError:
            return None

    def _wait(self, what: str, check, timeout: float, name: str | None = None) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            if name and not alive(self._pids().get(name, 0)):
                raise SystemExit(f"{name} exited; see {self.logs / (name + '.log')}:\n"
                                 + tail(self.logs / f"{name}.log"))
            time.sleep(0.1)
        raise SystemExit(f"timed out after {timeout}s waiting for {what}")

    # -- lifecycle -------------------------------------------------------------------------
    def up(self, nodes: int = 4, gpu_nodes: int = 2) -> None:
        if self.running():
            log(f"already running; kubeconfig at {self.kubeconfig}")
            if realnode.enabled():  # never yesterday's images: load what was rebuilt since
                realnode.RealNode(self, CACHE).load_images()
            return
        self.down(quiet=True)
        bins = ensure_binaries()
        t0 = time.monotonic()
        self.state.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        if not (self.pki / "front-proxy-client.crt").exists():  # made by an older version: redo
            make_certs(self.pki)
        ports = {k: free_port() for k in ("etcd", "etcd_peer", "apiserver", "kcm", "sched", "kwok",
                                          "s3", "hf", "node_proxy")}
        server = f"https://127.0.0.1:{ports['apiserver']}"
        for user in ("admin", "controller-manager", "scheduler", "kwok"):
            kubeconfig(self.state / f"{user}.kubeconfig", server, self.pki, user)
        shutil.copy(self.state / "admin.kubeconfig", self.kubeconfig)
        self.info_file.write_text(json.dumps({"server": server, "ports": ports}))

        etcd_url = f"http://127.0.0.1:{ports['etcd']}"
        self._start("etcd", [
            str(bins["etcd"]), "--data-dir", str(self.state / "etcd"), "--name", "local",
            "--listen-client-urls", etcd_url, "--advertise-client-urls", etcd_url,
            "--listen-peer-urls", f"http://127.0.0.1:{ports['etcd_peer']}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{ports['etcd_peer']}",
            "--initial-cluster", f"local=http://127.0.0.1:{ports['etcd_peer']}",
            "--unsafe-no-fsync", "--quota-backend-bytes", str(4 * 1024**3), "--log-level", "warn",
        ])
        self._wait("etcd", lambda: http_ok(f"{etcd_url}/health"), 30, "etcd")
        pki = self.pki
        # Requests of the operator's ServiceAccounts (the chart's namespace) are audited, so
        # benchmarks can count them by verb and user agent; everything else is not.
        audit = self.state / "audit-policy.json"
        audit.write_text(json.dumps({
            "apiVersion": "audit.k8s.io/v1", "kind": "Policy", "omitStages": ["RequestReceived"],
            "rules": [{"level": "Metadata", "userGroups": [f"system:serviceaccounts:{AUDITED}"]},
                      {"level": "None"}]}))
        self._start("kube-apiserver", [
            str(bins["kube-apiserver"]), f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
            # The API server reaches kubelets and pods through nodelink, the only way into
            # the real node's network namespace.
            f"--egress-selector-config-file={self._egress_config()}",
            "--kubelet-preferred-address-types=InternalIP,Hostname",
            f"--kubelet-client-certificate={pki / 'kubelet-client.crt'}",
            f"--kubelet-client-key={pki / 'kubelet-client.key'}",
            f"--secure-port={ports['apiserver']}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            *aggregation_flags(pki),
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=Node,RBAC",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            "--endpoint-reconciler-type=none", "--allow-privileged=true",
            "--enable-priority-and-fairness=false", "--profiling=false",
            "--max-requests-inflight=2000", "--max-mutating-requests-inflight=1000",
            f"--audit-policy-file={audit}", f"--audit-log-path={self.logs / 'audit.log'}",
            "--audit-log-maxsize=500", "--audit-log-maxbackup=1",
            "--v=0",
        ])
        self._wait("kube-apiserver /readyz", self._healthy, 60, "kube-apiserver")
        log(f"api server ready at {server} ({time.monotonic() - t0:.1f}s)")
        self._start("kube-controller-manager", [
            str(bins["kube-controller-manager"]),
            f"--kubeconfig={self.state / 'controller-manager.kubeconfig'}",
            f"--authentication-kubeconfig={self.state / 'controller-manager.kubeconfig'}",
            f"--authorization-kubeconfig={self.state / 'controller-manager.kubeconfig'}",
            "--leader-elect=false", "--bind-address=127.0.0.1", f"--secure-port={ports['kcm']}",
            f"--root-ca-file={pki / 'ca.crt'}",
            f"--service-account-private-key-file={pki / 'sa.key'}",
            "--use-service-account-credentials=true",
            "--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,"
            "-node-route-controller",
            "--kube-api-qps=500", "--kube-api-burst=1000",
            "--concurrent-deployment-syncs=20", "--concurrent-replicaset-syncs=20",
            "--concurrent-job-syncs=20", "--concurrent-gc-syncs=40",
        ])
        sched_cfg = self.state / "scheduler.yaml"
        sched_cfg.write_text(json.dumps({
            "apiVersion": "kubescheduler.config.k8s.io/v1",
            "kind": "KubeSchedulerConfiguration",
            "clientConnection": {"kubeconfig": str(self.state / "scheduler.kubeconfig"),
                                 "qps": 500, "burst": 1000},
            "leaderElection": {"leaderElect": False},
        }))
        self._start("kube-scheduler", [
            str(bins["kube-scheduler"]), f"--config={sched_cfg}",
            "--bind-address=127.0.0.1", f"--secure-port={ports['sched']}",
        ])
        self._start("kwok", [
            str(bins["kwok"]), f"--kubeconfig={self.state / 'kwok.kubeconfig'}",
            "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            f"--config={HERE / 'kwok-stages.yaml'}", f"--cidr={POD_CIDR}", "--node-ip=127.0.0.1",
            "--node-lease-duration-seconds=40", f"--server-address=127.0.0.1:{ports['kwok']}",
        ])
        self.kubectl("apply", "-f", "-", stdin=json.dumps(node_list(nodes, gpu_nodes)))
        self._wait("kwok nodes Ready", lambda: self._ready_nodes() >= nodes, 60, "kwok")
        self._wait("default ServiceAccount", self._default_sa, 60, "kube-controller-manager")
        # Gateway API's CRDs, as a cluster with a Gateway controller would have them.
        self.kubectl("apply", "--server-side", "-f", str(bins["gateway-api-crds"]))
        # SMI's TrafficSplit, as a cluster with an SMI mesh would have it.
        self.kubectl("apply", "--server-side", "-f", str(bins["smi-crds"]))
        hostservices.start_s3(self, bins["versitygw"], ports["s3"])
        hostservices.start_hf(self, bins["olah"], ports["hf"])
        if realnode.enabled():
            realnode.RealNode(self, CACHE).up(bins, ports["apiserver"], ports["node_proxy"],
                                              {"s3": ports["s3"], "hf": ports["hf"]})
            import gateway  # imports this module: loaded only here
            gateway.Gateway(self).up()
        else:
            self._start("nodelink", [sys.executable, str(HERE / "nodelink.py"),
                                     "--egress", str(self.state / "egress.sock"),
                                     "--http-proxy", f"127.0.0.1:{ports['node_proxy']}"])
        log(f"cluster up in {time.monotonic() - t0:.1f}s; "
            f"export KUBECONFIG={self.kubeconfig}")

    def _egress_config(self) -> Path:
        path = self.state / "egress.json"
        path.write_text(json.dumps({
            "apiVersion": "apiserver.k8s.io/v1beta1", "kind": "EgressSelectorConfiguration",
            "egressSelections": [{"name": "cluster", "connection": {
                "proxyProtocol": "HTTPConnect",
                "transport": {"uds": {"udsName": str(self.state / "egress.sock")}}}}]}))
        return path

    def _ready_nodes(self) -> int:
        out = self.kubectl("get", "nodes", "-o", "json", check=False)
        try:
            items = json.loads(out)["items"]
        except (ValueError, KeyError):
            return 0
        return sum(any(c["type"] == "Ready" and c["status"] == "True"
                       for c in n.get("status", {}).get("conditions", [])) for n in items)

    def _default_sa(self) -> bool:
        return bool(self.kubectl("get", "serviceaccount", "default", "-o", "name", check=False))

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        r = subprocess.run([str(binaries()["kubectl"]), f"--kubeconfig={self.kubeconfig}", *args],
                           input=stdin, capture_output=True, text=True)
        if check and r.returncode != 0:
            raise SystemExit(f"kubectl {' '.join(args)} failed: {r.stderr}")
        return r.stdout if r.returncode == 0 else ""

    def stop(self, names: list[str]) -> None:
        """SIGTERM the named processes (in order), then SIGKILL what is left after 10 s."""
        pids = self._pids()
        for name in names:
            pid = pids.get(name)
            if pid and alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while any(alive(pids.get(n, 0)) for n in names) and time.monotonic() < deadline:
            time.sleep(0.1)
        for name in names:
            pid = pids.get(name, 0)
            if alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
            (self.state / "pids" / name).unlink(missing_ok=True)

    def down(self, quiet: bool = False) -> None:
        # The real node's pods while its kubelet and the API server still run; what runs on
        # top of the cluster (Argo CD); then the cluster in reverse start order, so nothing
        # reconnects to a half-stopped control plane.
        realnode.RealNode(self, CACHE).down()
        self.stop(sorted(set(self._pids()) - set(CORE)) + list(CORE))
        for sub in ("pids", "etcd", "argocd", "s3", "hf", "hf-cache"):
            shutil.rmtree(self.state / sub, ignore_errors=True)
        self.info_file.unlink(missing_ok=True)
        (self.state / "s3.json").unlink(missing_ok=True)
        if not quiet:
            log("cluster stopped")

    def status(self) -> int:
        pids = self._pids()
        for name, pid in pids.items():
            print(f"{name:26} pid {pid:<8} {'running' if alive(pid) else 'DEAD'}")
        ok = self.running()
        print(f"api server: {'ready' if ok else 'not ready'}; kubeconfig: {self.kubeconfig}")
        if ok:
            print(f"memory of the cluster's processes: {self.rss_mib():.0f} MiB")
        return 0 if ok else 1

    def rss_mib(self) -> float:
        total = 0
        for pid in self._pids().values():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                pass
        return total / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("command", choices=["up", "down", "status", "build", "load-images",
                                        "restart"])
    ap.add_argument("name", nargs="?", help="restart: which process (kube-apiserver, "
                    "containerd, kubelet, ...): killed and started again as it was")
    ap.add_argument("--nodes", type=int, default=4)
    ap.add_argument("--gpu-nodes", type=int, default=2)
    a = ap.parse_args()
    c = Cluster()
    if a.command == "up":
        c.up(a.nodes, a.gpu_nodes)
    elif a.command == "down":
        c.down()
    elif a.command == "build":
        ensure_binaries()
    elif a.command == "load-images":  # after `make images`, without a restart
        realnode.RealNode(c, CACHE).load_images()
    elif a.command == "restart":
        log(f"{a.name} back after {c.restart(a.name):.1f}s")
    else:
        return c.status()
    return 0


if __name__ == "__main__":
    sys.exit(main())
