"""The operator alone at a size where the baseline would take most of the time: a burst of N
served ModelVersions to all Ready, then a restart. Peak and steady memory, CPU, API writes.

    python bench/operator_only.py 5000 [--no-restart]   # writes operator-only-5000.json

--no-restart skips the restart and the clean-up (its namespace stays: `make cluster-down`).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import harness
import scale


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 5000
    restart = "--no-restart" not in sys.argv
    kube = harness.cluster()
    sa = harness.install_identity(kube, Path(tempfile.mkdtemp(prefix="modelops-bench-")))
    harness.add_nodes(kube)
    try:
        out = scale.converge(kube, kube.kubeconfig, sa, n, 0, harness.Audit(), restart=restart)
    finally:
        harness.remove_identity(kube)
        harness.remove_nodes(kube)
    out["n"] = n
    path = harness.save(f"operator-only-{n}", out)
    st = out.get("startup") or {}
    after = (f"; restart: first reconcile {st['first_s']:.1f}s, all {st['all_s'] or 0:.1f}s, peak "
             f"{st['peak_rss_mib']:.0f} MiB, steady {st['rss_mib']:.0f} MiB, "
             f"{st['writes']} writes" if restart else "")
    harness.log(f"N={n}: all Ready after {out['total_s']:.1f}s; CPU {out['cpu_s']:.1f}s; "
                f"peak RSS {out['peak_rss_mib']:.0f} MiB{after}; writes/MV "
                f"{out['writes_per_mv']:.2f}; results in {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
