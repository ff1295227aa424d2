"""Two operators in one kopf peering, as the chart runs them with `ha.enabled`: one acts, the
other waits paused; SIGKILL the leader and the standby takes over once the leader's peering
record expires. Shared by tests/integration/test_ha.py (what each replica does) and
bench/ha.py (how long the handover takes)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .kube import Kube
from .manifests import served
from .operator import OperatorProcess
from .waiting import wait_for

LIFETIME = 5  # seconds a peering record lives unrenewed; the chart's default is 20


def phase(kube: Kube, ns: str, name: str) -> str | None:
    return ((kube.get_mv(ns, name) or {}).get("status") or {}).get("phase")


@contextmanager
def peering(kube: Kube, name: str) -> Iterator[str]:
    kube.kubectl("apply", "--server-side", "-f", "-", stdin=json.dumps({
        "apiVersion": "kopf.dev/v1", "kind": "ClusterKopfPeering", "metadata": {"name": name}}))
    try:
        yield name
    finally:
        kube.kubectl("delete", "clusterkopfpeering", name, "--wait=false", check=False)


def replica(kubeconfig: str, log_dir: Path, peering_name: str, priority: int) -> OperatorProcess:
    return OperatorProcess(kubeconfig, log_dir, env={"MODELOPS_PEERING_LIFETIME": str(LIFETIME)},
                           extra_args=[f"--peering={peering_name}", f"--priority={priority}"])


def leader_serves(kube: Kube, ns: str, leader: OperatorProcess, standby: OperatorProcess,
                  model: str) -> None:
    """The leader up and acting, the standby started beside it, a first version served."""
    leader.start()
    leader.wait_for_log("Resuming operations after the pause")  # kopf starts paused
    standby.start()
    kube.create(ns, served(f"{model}-v1", model, "1"))
    wait_for(lambda: phase(kube, ns, f"{model}-v1") == "Ready", what="served by the leader")


def handover(kube: Kube, ns: str, leader: OperatorProcess, model: str) -> float:
    """SIGKILL the leader (its peering record is not withdrawn: it has to expire), create a
    second version; seconds from the kill until that version is Ready."""
    leader.kill()
    dead = time.monotonic()
    kube.create(ns, served(f"{model}-v2", model, "2"))
    wait_for(lambda: phase(kube, ns, f"{model}-v2") == "Ready", timeout=60,
             what="served by the standby after the leader died")
    return time.monotonic() - dead
