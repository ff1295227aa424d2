"""`make bench` (first part): what the heavy builds cost when they ran cold, collected into
bench/results/builds.json from the cache they built into.

hack/cluster/build.sh and hack/images/build.sh write the wall time of every build that really
ran (a cached part writes nothing) to ${MODELOPS_CACHE:-~/.cache/modelops}/timings/PART.json,
with the commit and date. Run against an empty cache (`MODELOPS_CACHE=/tmp/cold .ci/run`,
then `MODELOPS_CACHE=/tmp/cold python bench/builds.py`) these are the cold figures; a part
rebuilt since (its inputs changed) carries its newer time and date.

    python bench/builds.py [--cache DIR]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import harness

CLUSTER_PARTS = ("etcd", "kwok", "kubernetes", "helm", "coredns", "versitygw", "prometheus",
                 "kube-router", "olah")
IMAGES = ("pause", "coredns", "operator", "fetcher", "model-server", "trainer")


def collect(cache: Path) -> dict[str, Any]:
    """Every recorded build, and the sums the README quotes."""
    parts = {p.stem: json.loads(p.read_text()) for p in sorted((cache / "timings").glob("*.json"))}
    images = {k: v for k, v in parts.items() if k.startswith("image-")}
    cluster = {k: v for k, v in parts.items() if k in CLUSTER_PARTS}
    return {
        "parts": parts,
        # Built one after another by one `make binaries` / `make images`: the sums are walls.
        "cluster_binaries_s": sum(v["seconds"] for v in cluster.values()),
        "cluster_binaries_complete": set(cluster) == set(CLUSTER_PARTS),
        "images_s": sum(v["seconds"] for v in images.values()),
        "images_complete": {f"image-{i}" for i in IMAGES} <= set(images),
        "argocd_s": (parts.get("argocd") or {}).get("seconds"),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=Path(os.environ.get(
        "MODELOPS_CACHE", Path.home() / ".cache" / "modelops")))
    args = ap.parse_args()
    found = collect(args.cache)
    if not found["parts"]:
        harness.log(f"no build timings under {args.cache}/timings (nothing built since they "
                    "were recorded); bench/results/builds.json left as it is")
        return 0
    path = harness.save("builds", found)
    for name, p in found["parts"].items():
        harness.log(f"{name}: {p['seconds']} s ({p['date']}, {p['commit']})")
    harness.log(f"written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
