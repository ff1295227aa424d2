"""`make bench` (part): how long a standby takes over when the leader is SIGKILLed, into
bench/results/ha.json. Two operators in one kopf peering with the chart's `ha.enabled`
identity (tests/support/ha.py, as test_ha runs them): the leader serves a version, is killed,
and a second version is created; the time from the kill to that version's Ready.

    python bench/ha.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import tempfile
import uuid
from pathlib import Path

import harness
from tests.support import ha
from tests.support.identity import ChartIdentity


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    kube = harness.cluster()
    work = Path(tempfile.mkdtemp(prefix="modelops-bench-ha-"))
    identity = ChartIdentity(kube, "bench-ha", "modelops-bench-ha", "--set", "ha.enabled=true")
    identity.install()
    config = identity.kubeconfig(work / "kubeconfig")
    took: list[float] = []
    try:
        for i in range(args.repeats):
            ns = f"bench-ha-{uuid.uuid4().hex[:5]}"
            kube.kubectl("create", "namespace", ns)
            with ha.peering(kube, ns) as peering:
                leader, standby = (ha.replica(config, harness.CLUSTER / "logs", peering, p)
                                   for p in (200, 100))
                try:
                    ha.leader_serves(kube, ns, leader, standby, "ha")
                    took.append(ha.handover(kube, ns, leader, "ha"))
                finally:
                    leader.stop()
                    standby.stop()
                    kube.kubectl("delete", "namespace", ns, "--wait=false", check=False)
            harness.log(f"HA handover {i + 1}/{args.repeats}: {took[-1]:.1f} s")
    finally:
        identity.remove()
    path = harness.save("ha", {"lifetime_s": ha.LIFETIME, "handover_s": took,
                               "summary": harness.summary(took)})
    harness.log(f"written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
