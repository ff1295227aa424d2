"""The operator alone at a size where the baseline would take most of the time: a burst of N
served ModelVersions to all Ready, then a restart. Peak and steady memory, CPU, API writes.

    python bench/operator_only.py 5000      # writes bench/results/operator-only-5000.json
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import harness
import scale


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    kube = harness.cluster()
    sa = harness.install_identity(kube, Path(tempfile.mkdtemp(prefix="modelops-bench-")))
    harness.add_nodes(kube)
    try:
        out = scale.converge(kube, kube.kubeconfig, sa, n, 0, harness.Audit())
    finally:
        harness.remove_identity(kube)
        harness.remove_nodes(kube)
    out["n"] = n
    path = harness.ROOT / "bench" / "results" / f"operator-only-{n}.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    harness.log(f"N={n}: all Ready after {out['total_s']:.1f}s; CPU {out['cpu_s']:.1f}s; "
                f"peak RSS {out['peak_rss_mib']:.0f} MiB; after a restart "
                f"{out['startup']['rss_mib']:.0f} MiB; writes/MV {out['writes_per_mv']:.2f}; "
                f"results in {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
