"""The project's pinned Helm (built by `make binaries`) and its chart."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "modelops"
KUBE_VERSION = "1.35.4"


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(line.split("=", 1) for line in (ROOT / "hack" / "cluster" / "versions.env")
               .read_text().splitlines() if "=" in line and not line.startswith("#"))
    cache = Path(os.environ.get("MODELOPS_CACHE", Path.home() / ".cache" / "modelops"))
    binary = cache / f"helm-{env['HELM_VERSION']}" / "bin" / "helm"
    return subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=180)


def template(release: str, namespace: str, *values: str, show: tuple[str, ...] = ()) -> str:
    """The chart rendered offline, as `helm install` would apply it."""
    only = [a for s in show for a in ("--show-only", f"templates/{s}")]
    r = helm("template", release, str(CHART), "--namespace", namespace,
             "--kube-version", KUBE_VERSION, *only, *values)
    if r.returncode != 0:
        raise AssertionError(f"helm template: {r.stderr}")
    return r.stdout
