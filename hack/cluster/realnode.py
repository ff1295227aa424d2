"""The local cluster's one real node: containerd, kubelet and kube-proxy in a network namespace.

Pods on this node run real processes. Everything it makes is its own and is swept by `down`:
the network namespace `modelops-node` (pod and Service addresses exist only there, and
kube-proxy's rules live there), the cgroup parent `/modelops-node`, state under
`.localcluster/node/`, and containerd's shims (found by the address of our containerd, never
by name). Kubelet and containerd 1.6 still write a few fixed host paths, so there is one real
node per machine. Standard library only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sweep

if TYPE_CHECKING:
    from localcluster import Cluster

NETNS = "modelops-node"
NETNS_PATH = Path("/run/netns") / NETNS
NODE = "real-node"
NODE_IP = "10.250.0.2"
POD_CIDR = "10.245.0.0/24"
DNS_IP = "10.96.0.10"
# Host servers the node's pods reach as Services in kube-system: name -> port in the node.
# s3: the local S3 server; hf: the local Hugging Face hub (olah serving git repositories).
HOST_SERVICES = {"s3": 9000, "hf": 8090}
CGROUP = "modelops-node"
CGROUP_FS = Path("/sys/fs/cgroup")
CNI_BIN = Path("/usr/lib/cni")
PROCS = ("kube-router", "kube-proxy", "kubelet", "containerd", "nodelink")  # stop order
TOOLS = ("containerd", "containerd-shim-runc-v2", "runc", "ctr", "nsenter", "ip", "iptables",
         "ipset")
LABEL = "modelops.io/node-kind"


def log(msg: str) -> None:
    print(f"[cluster {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def enabled() -> bool:
    return os.environ.get("MODELOPS_REAL_NODE", "1") != "0"


def _sh(*argv: str, check: bool = True, ns: bool = False, **kw: Any) -> subprocess.CompletedProcess:
    if ns:
        argv = ("nsenter", f"--net={NETNS_PATH}", *argv)
    return subprocess.run(argv, check=check, capture_output=True, text=True, **kw)


class RealNode:
    def __init__(self, cluster: Cluster, cache: Path) -> None:
        self.c = cluster
        self.cache = cache
        self.dir = cluster.state / "node"
        self.sock = self.dir / "containerd.sock"
        self.marker = self.dir / "owner"
        # containerd's content and snapshots outlive the cluster, like the images' cache, so a
        # warm `cluster-up` loads only images that changed; containers never outlive it.
        self.store = cache / "node-containerd"

    # -- checks --------------------------------------------------------------------------------
    def preflight(self) -> None:
        missing = [t for t in TOOLS if not shutil.which(t)]
        missing += [str(CNI_BIN / p) for p in ("bridge", "host-local", "loopback", "portmap")
                    if not (CNI_BIN / p).exists()]
        if missing:
            raise SystemExit("the real node needs " + ", ".join(missing)
                             + "; `bash hack/install-debs.sh` installs them "
                             "(or MODELOPS_REAL_NODE=0 for a kwok-only cluster)")
        if os.geteuid() != 0:
            raise SystemExit("the real node needs root (or MODELOPS_REAL_NODE=0)")
        if len(str(self.sock)) > 100:
            raise SystemExit(f"{self.sock} is too long for a Unix socket; move the checkout "
                             "or set MODELOPS_CLUSTER_DIR to a shorter path")
        # Left by a real node whose processes are all gone (a machine or session that ended
        # without `cluster-down`): empty, so removing them stops nothing. One with a process
        # in it belongs to a running cluster, perhaps another checkout's: refuse.
        if NETNS_PATH.exists() and not sweep.netns_in_use(NETNS_PATH):
            log(f"removing the empty network namespace {NETNS} a stopped cluster left")
            _sh("ip", "netns", "delete", NETNS, check=False)
        for cg in self._cgroups():
            if cg.exists() and not sweep.cgroup_in_use(cg):
                sweep.remove_cgroup(cg)
        taken = []
        if NETNS_PATH.exists():
            taken.append(f"network namespace {NETNS} (/run/netns)")
        if any(p.exists() for p in self._cgroups()):
            taken.append(f"cgroup /{CGROUP}")
        if taken:
            raise SystemExit(
                "the real node cannot start: " + "; ".join(taken) + " exist(s) with processes "
                "in them that this cluster did not start (another checkout's cluster?). Stop "
                "that cluster with its `make cluster-down`.")

    def _cgroups(self) -> list[Path]:
        return [d / CGROUP for d in sorted(CGROUP_FS.iterdir())
                if d.is_dir() and not d.is_symlink() and (d / "cgroup.procs").exists()]

    # -- up --------------------------------------------------------------------------------------
    def up(self, bins: dict[str, Path], api_port: int, proxy_port: int,
           host_ports: dict[str, int]) -> None:
        """`host_ports`: the host's loopback port of each of HOST_SERVICES that runs."""
        t0 = time.monotonic()
        self.preflight()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.marker.write_text(str(self.c.state))
        self._network()
        self.c._start("nodelink", [
            sys.executable, str(Path(__file__).with_name("nodelink.py")),
            "--egress", str(self.c.state / "egress.sock"), "--netns", str(NETNS_PATH),
            "--http-proxy", f"127.0.0.1:{proxy_port}",
            "--forward-in-node", f"127.0.0.1:{api_port}=127.0.0.1:{api_port}",
            "--forward-in-node", f"{NODE_IP}:{api_port}=127.0.0.1:{api_port}",
            *[arg for name, port in host_ports.items() for arg in (
                "--forward-in-node", f"{NODE_IP}:{HOST_SERVICES[name]}=127.0.0.1:{port}")]])
        self._containerd()
        self.c._wait("containerd", lambda: self._ctr("version", check=False).returncode == 0,
                     30, "containerd")
        self._kill_tasks()  # a cluster that crashed may have left containers in the store
        self._import_images()
        self._cgroup_root()
        self._kubelet(bins["kubelet"], api_port)
        self.c._wait("the real node Ready", self._ready, 90, "kubelet")
        self._kube_proxy(bins["kube-proxy"], api_port)
        self._kube_router(bins["kube-router"], api_port)
        self._service("default", "kubernetes", "https", api_port)
        for name in host_ports:
            self._service("kube-system", name, "http", HOST_SERVICES[name])
        self._dns()
        log(f"real node {NODE} ready in {time.monotonic() - t0:.1f}s")

    def _network(self) -> None:
        _sh("ip", "netns", "add", NETNS)
        for cmd in (("ip", "link", "set", "lo", "up"),
                    # The node's address, on a veth pair wholly inside the namespace (no dummy
                    # module on every kernel).
                    ("ip", "link", "add", "mo-node0", "type", "veth", "peer", "name", "mo-node1"),
                    ("ip", "addr", "add", f"{NODE_IP}/24", "dev", "mo-node0"),
                    ("ip", "link", "set", "mo-node1", "up"),
                    ("ip", "link", "set", "mo-node0", "up"),
                    # a route for Service addresses: kube-proxy rewrites them before they leave
                    ("ip", "route", "add", "default", "dev", "mo-node0"),
                    ("sysctl", "-qw", "net.ipv4.ip_forward=1"),
                    ("sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1")):
            _sh(*cmd, ns=True)
        net = self.dir / "cni" / "net.d"
        net.mkdir(parents=True, exist_ok=True)
        (net / "10-modelops.conflist").write_text(json.dumps({
            "cniVersion": "1.0.0", "name": "modelops",
            "plugins": [
                {"type": "bridge", "bridge": "mo-cni0", "isGateway": True, "ipMasq": False,
                 "hairpinMode": True,
                 "ipam": {"type": "host-local", "ranges": [[{"subnet": POD_CIDR}]],
                          "routes": [{"dst": "0.0.0.0/0"}],
                          "dataDir": str(self.dir / "cni" / "ipam")}},
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ]}, indent=2))

    def _containerd(self) -> None:
        d = self.dir
        cfg = d / "containerd.toml"
        cfg.write_text(f"""version = 2
root = "{self.store}"
state = "{d / 'run'}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "{self.sock}"
[ttrpc]
  address = "{self.sock}.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "{d / 'opt'}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/modelops/pause:dev"
  # root here lacks CAP_SYS_RESOURCE: runc must not raise a container's oom_score_adj
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_BIN}"
    conf_dir = "{d / 'cni' / 'net.d'}"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{d / 'runc'}"
""")
        self.c._start("containerd", ["nsenter", f"--net={NETNS_PATH}", "containerd",
                                     "--config", str(cfg), "--log-level", "warn"])

    def _ctr(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return _sh("ctr", f"--address={self.sock}", "-n", "k8s.io", *args, check=check)

    def load_images(self) -> None:
        if not self.sock.exists():
            raise SystemExit("the real node is not running")
        self._import_images()

    def _import_images(self) -> None:
        images = sorted((self.cache / "images").glob("*.oci.tar"))
        if not any(p.name.startswith("pause") for p in images):
            raise SystemExit("the pause image is missing; `bash hack/images/build.sh` builds it")
        t0 = time.monotonic()
        record = self.store / "modelops-imported.json"
        try:
            done = json.loads(record.read_text())
        except (OSError, ValueError):
            done = {}
        have = set(self._ctr("images", "ls", "-q", check=False).stdout.split())
        loaded = []
        for tar in images:
            name = tar.name.removesuffix(".oci.tar")
            key = tar.with_name(f"{name}.key").read_text().strip() if tar.with_name(
                f"{name}.key").exists() else str(tar.stat().st_mtime)
            if done.get(name) == key and f"localhost/modelops/{name}:dev" in have:
                continue
            r = self._ctr("images", "import", "--no-unpack", str(tar), check=False)
            if r.returncode != 0:
                raise SystemExit(f"importing {tar.name} into the real node failed: {r.stderr}")
            done[name] = key
            loaded.append(name)
        record.write_text(json.dumps(done, indent=2))
        log(f"real node: images loaded: {', '.join(loaded) or 'none changed'} "
            f"({time.monotonic() - t0:.1f}s)")

    def _cgroup_root(self) -> None:
        # The kubelet wants its cgroup root to exist in every hierarchy; a v1 cpuset child
        # starts empty and must be given its parent's CPUs and memory nodes.
        for cg in self._cgroups():
            cg.mkdir(exist_ok=True)
            for f in ("cpuset.cpus", "cpuset.mems"):
                if (cg / f).exists() and not (cg / f).read_text().strip():
                    (cg / f).write_text((cg.parent / f).read_text())

    def _kubelet(self, kubelet: Path, api_port: int) -> None:
        d, pki = self.dir, self.c.pki
        from pki import kubeconfig
        kubeconfig(d / "kubelet.kubeconfig", f"https://127.0.0.1:{api_port}", pki, "node")
        resolv = d / "resolv.conf"
        resolv.write_text("# pods with dnsPolicy Default: no name server outside the node\n")
        cfg = d / "kubelet.json"
        cfg.write_text(json.dumps({
            "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
            # This machine has cgroup v1 only, which kubelet 1.35 refuses unless told.
            "failCgroupV1": False, "cgroupDriver": "cgroupfs", "cgroupRoot": f"/{CGROUP}",
            "containerRuntimeEndpoint": f"unix://{self.sock}",
            "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                               "x509": {"clientCAFile": str(pki / "ca.crt")}},
            "authorization": {"mode": "Webhook"},
            "address": NODE_IP, "port": 10250, "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1", "healthzPort": 10248,
            "clusterDNS": [DNS_IP], "clusterDomain": "cluster.local",
            "resolvConf": str(resolv), "podLogsDir": str(d / "pods-logs"),
            "failSwapOn": False, "serializeImagePulls": False,
            "registerWithTaints": [{"key": LABEL, "value": "real", "effect": "NoSchedule"}],
            # Our images are imported, not pulled: one the kubelet collected could never come
            # back, and every pod needing it would wait on a pull that cannot succeed (a CI run
            # that filled the disk to 95% lost them mid-suite). 100 turns collection off.
            "nodeStatusReportFrequency": "10s", "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            "evictionHard": {"memory.available": "200Mi", "nodefs.available": "2%",
                             "imagefs.available": "2%"},
            "containerLogMaxSize": "10Mi",
        }, indent=2))
        self.c._start("kubelet", [
            "nsenter", f"--net={NETNS_PATH}", str(kubelet), f"--config={cfg}",
            f"--kubeconfig={d / 'kubelet.kubeconfig'}", f"--root-dir={d / 'kubelet'}",
            f"--hostname-override={NODE}", f"--node-ip={NODE_IP}",
            f"--node-labels={LABEL}=real", "--v=1"])

    def _ready(self) -> bool:
        out = self.c.kubectl("get", "node", NODE, "-o", "json", check=False)
        try:
            conds = json.loads(out)["status"]["conditions"]
        except (ValueError, KeyError):
            return False
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conds)

    def _kube_proxy(self, proxy: Path, api_port: int) -> None:
        d = self.dir
        from pki import kubeconfig
        kubeconfig(d / "kube-proxy.kubeconfig", f"https://127.0.0.1:{api_port}", self.c.pki,
                   "kube-proxy")
        cfg = d / "kube-proxy.json"
        cfg.write_text(json.dumps({
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
            "clientConnection": {"kubeconfig": str(d / "kube-proxy.kubeconfig")},
            "mode": "iptables", "clusterCIDR": POD_CIDR, "hostnameOverride": NODE,
            "bindAddress": NODE_IP, "metricsBindAddress": "127.0.0.1:10249",
            "healthzBindAddress": "127.0.0.1:10256",
            # nf_conntrack_max is global, not ours to change
            "conntrack": {"maxPerCore": 0},
        }))
        self.c._start("kube-proxy", ["nsenter", f"--net={NETNS_PATH}", str(proxy),
                                     f"--config={cfg}", "--v=1"])

    def _kube_router(self, binary: Path, api_port: int) -> None:
        """NetworkPolicies enforced for the node's pods (kube-router's policy controller only:
        routing and Services stay with the bridge and kube-proxy), its rules and ipsets in the
        node's network namespace."""
        from pki import kubeconfig
        kubeconfig(self.dir / "kube-router.kubeconfig", f"https://127.0.0.1:{api_port}",
                   self.c.pki, "admin")
        self.c._start("kube-router", [
            "nsenter", f"--net={NETNS_PATH}", str(binary),
            f"--kubeconfig={self.dir / 'kube-router.kubeconfig'}",
            "--run-firewall=true", "--run-router=false", "--run-service-proxy=false",
            "--enable-cni=false", f"--hostname-override={NODE}",
            "--service-cluster-ip-range=10.96.0.0/16", "--health-port=0", "--metrics-port=0"])

    def _service(self, namespace: str, name: str, port_name: str, port: int) -> None:
        """A Service whose endpoint is nodelink on NODE_IP, forwarding to a host server: the
        API server (it runs with --endpoint-reconciler-type=none: it is on the host's
        loopback, which no endpoint may name) and the local S3 server."""
        objs: list[dict[str, Any]] = []
        if name != "kubernetes":  # the API server makes its own Service
            objs.append({"apiVersion": "v1", "kind": "Service",
                         "metadata": {"name": name, "namespace": namespace},
                         "spec": {"ports": [{"name": port_name, "port": port,
                                             "protocol": "TCP"}]}})
        objs.append({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "namespace": namespace,
                         "labels": {"kubernetes.io/service-name": name,
                                    "endpointslice.kubernetes.io/managed-by":
                                        "localcluster.modelops.io"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [NODE_IP], "conditions": {"ready": True}}],
            "ports": [{"name": port_name, "port": port, "protocol": "TCP"}]})
        self.c.kubectl("apply", "--server-side", "-f", "-",
                       stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": objs}))

    def _dns(self) -> None:
        manifest = Path(__file__).with_name("coredns.yaml")
        self.c.kubectl("apply", "--server-side", "-f", str(manifest))

    # -- down ------------------------------------------------------------------------------------
    def down(self) -> None:
        """Pods first while the kubelet can still tear them down, then the node, then a sweep."""
        pids = self.c._pids()
        if not self.dir.exists():  # not ours to sweep: nothing of a real node was started here
            self.c.stop(list(PROCS))
            return
        if self.c.running() and _alive_any(pids, "kubelet"):
            self.c.kubectl("cordon", NODE, check=False)
            self.c.kubectl("delete", "pods", "-A", f"--field-selector=spec.nodeName={NODE}",
                           "--grace-period=5", "--timeout=40s", check=False)
        self.c.stop(["kube-router", "kube-proxy", "kubelet"])
        if _alive_any(pids, "containerd"):
            self._kill_tasks()
        self.c.stop(["containerd"])
        sweep.kill_shims(self.sock)
        self.c.stop(["nodelink"])
        if self.c.running():
            self.c.kubectl("delete", "node", NODE, "--ignore-not-found", check=False)
        sweep.sweep(self.dir, self._cgroups())
        if NETNS_PATH.exists():
            _sh("ip", "netns", "delete", NETNS, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
        (self.c.state / "egress.sock").unlink(missing_ok=True)

    def _kill_tasks(self) -> None:
        tasks = self._ctr("tasks", "ls", "-q", check=False).stdout.split()
        for t in tasks:
            self._ctr("tasks", "kill", "-s", "SIGKILL", t, check=False)
        for t in tasks:
            self._ctr("tasks", "delete", "-f", t, check=False)
        # Containers (and the pods' sandboxes) go with the cluster; images stay in the store.
        for c in self._ctr("containers", "ls", "-q", check=False).stdout.split():
            self._ctr("containers", "rm", c, check=False)

def _alive_any(pids: dict[str, int], name: str) -> bool:
    pid = pids.get(name, 0)
    return pid > 0 and Path(f"/proc/{pid}").exists()
