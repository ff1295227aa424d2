"""`make cluster-down` removes everything the real node made, touches nothing it did not
make, and a second `make cluster-up` starts clean (up/down/up)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import _load_localcluster
from tests.support.kube import Kube
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.cluster_cycle, pytest.mark.real_node]
NETNS = "modelops-node"


def leftovers(state: Path) -> list[str]:
    """Everything of the real node that could outlive it, as found on the machine."""
    found = []
    if Path("/run/netns", NETNS).exists():
        found.append(f"network namespace {NETNS}")
    found += [str(d) for d in Path("/sys/fs/cgroup").glob("*/modelops-node")]
    node = str(state / "node")
    found += [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()
              if line.split()[4].startswith(node)]
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if node in cmd or str(state / "egress.sock") in cmd:
                found.append(f"process {proc.name}: {cmd[:120]}")
    logs = Path("/var/log/containers")
    if logs.is_dir():
        found += [str(p) for p in logs.iterdir() if p.is_symlink() and
                  os.readlink(p).startswith(node)]
    return found


def test_down_leaves_nothing_and_touches_nothing_else_then_up_again(
        kube: Kube, cluster_handed_back: None, tmp_path: Path) -> None:
    # The suite's operators and what they were granted go first: the cluster ends here.
    lc = _load_localcluster()
    cluster = lc.Cluster()
    assert cluster.running(), "the cycle test needs the running local cluster"
    assert leftovers(cluster.state), "the real node should be up before the cycle"
    # Somebody else's shim on this machine (Docker's containerd, say): down must not kill it.
    src = tmp_path / "shim.c"
    src.write_text("#include <unistd.h>\nint main(void) { sleep(300); return 0; }\n")
    theirs = tmp_path / "containerd-shim-runc-v2"
    subprocess.run(["gcc", "-o", str(theirs), str(src)], check=True)
    other = subprocess.Popen([str(theirs), "-namespace", "moby", "-address",
                              "/run/containerd/containerd.sock"])
    try:
        t0 = time.monotonic()
        cluster.down()
        took_down = time.monotonic() - t0
        assert leftovers(cluster.state) == []
        assert other.poll() is None, "cluster-down killed a process it did not start"
        # A namespace of that name with a process in it is somebody's running node: refused.
        subprocess.run(["ip", "netns", "add", NETNS], check=True)
        squatter = subprocess.Popen(["ip", "netns", "exec", NETNS, "sleep", "300"])
        try:
            time.sleep(0.5)
            with pytest.raises(SystemExit, match="with processes in them"):
                cluster.up()
        finally:
            squatter.kill()
            squatter.wait()
        t0 = time.monotonic()
        cluster.up()
        took_up = time.monotonic() - t0
        print(f"\nreal node cycle: down {took_down:.1f}s, up {took_up:.1f}s")
    finally:
        other.kill()
    fresh = Kube(str(cluster.kubeconfig))
    wait_for(lambda: fresh.kubectl("get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns",
                                   "-o", "jsonpath={.items[0].status.containerStatuses[0].ready}",
                                   check=False).stdout == "true",
             timeout=60, what="CoreDNS running again on the real node")
