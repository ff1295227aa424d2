"""The real node runs the images last built: `make cluster-up` (and the test session, which
calls it) loads into a running node every image whose archive changed, so a test never passes
against yesterday's operator, fetcher, model server or trainer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import pytest

from tests.support import node
from tests.support.kube import Kube
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.real_node]
ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("MODELOPS_CACHE", Path.home() / ".cache" / "modelops"))
IMAGES = CACHE / "images"
SOCKET = ROOT / ".localcluster" / "node" / "containerd.sock"


def archive_digests(tar: Path) -> tuple[str, str]:
    """(manifest digest, config digest) of an OCI archive as build.sh writes it."""
    with tarfile.open(tar) as t:
        index = json.load(t.extractfile("index.json"))  # type: ignore[arg-type]
        manifest = index["manifests"][0]["digest"]
        blob = json.load(t.extractfile(f"blobs/sha256/{manifest.split(':')[1]}"))  # type: ignore[arg-type]
    return manifest, blob["config"]["digest"]


def node_images() -> dict[str, str]:
    """ref -> manifest digest of the images in the real node's containerd."""
    out = subprocess.run(["ctr", f"--address={SOCKET}", "-n", "k8s.io", "images", "ls"],
                         capture_output=True, text=True, check=True).stdout.splitlines()[1:]
    return {line.split()[0]: line.split()[2] for line in out if line.strip()}


def cluster_up() -> None:
    r = subprocess.run([sys.executable, str(ROOT / "hack" / "cluster" / "localcluster.py"),
                        "up"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr


def build_probe(token: str) -> None:
    r = subprocess.run(["bash", str(ROOT / "hack" / "images" / "build.sh"), "probe"],
                       env={**os.environ, "MODELOPS_PROBE_TOKEN": token},
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr


def test_every_project_image_on_the_node_is_the_one_last_built() -> None:
    cluster_up()
    have = node_images()
    archives = sorted(p for p in IMAGES.glob("*.oci.tar") if not p.name.startswith("probe"))
    assert {p.name.removesuffix(".oci.tar") for p in archives} >= {
        "pause", "operator", "fetcher", "model-server", "trainer"}
    for tar in archives:
        name = tar.name.removesuffix(".oci.tar")
        manifest, _ = archive_digests(tar)
        assert have.get(f"localhost/modelops/{name}:dev") == manifest, name


def test_a_rebuilt_image_is_the_one_a_pod_runs(kube: Kube, namespace: str) -> None:
    kube.kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted")
    try:
        seen = []
        for i in range(2):
            build_probe(f"{namespace}-{uuid.uuid4().hex}")  # a rebuild: new content
            cluster_up()  # the cluster is running: this only loads what changed
            _, config = archive_digests(IMAGES / "probe.oci.tar")
            name = f"probe-{i}"
            kube.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps({
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                "spec": {**node.on_real_node(),
                         "securityContext": {"runAsNonRoot": True,
                                             "seccompProfile": {"type": "RuntimeDefault"}},
                         "containers": [{
                             "name": "probe", "image": "localhost/modelops/probe:dev",
                             "imagePullPolicy": "Never",
                             "securityContext": {"allowPrivilegeEscalation": False,
                                                 "capabilities": {"drop": ["ALL"]}}}]}}))

            def running(pod: str = name) -> str | None:
                st = kube.core.read_namespaced_pod(pod, namespace).status
                cs = (st.container_statuses or [None])[0]
                return cs.image_id if cs is not None and cs.state.running else None
            image_id = wait_for(running, timeout=90, what=f"{name} running")
            assert config.split(":")[1] in image_id, (image_id, config)
            seen.append(image_id)
        assert seen[0] != seen[1]
    finally:
        for suffix in (".oci.tar", ".key"):
            (IMAGES / f"probe{suffix}").unlink(missing_ok=True)
