"""The Dockerfile's own rules: it parses, pins its default base, runs as non-root, and the
entry point it names starts the operator. (`make images` builds it for real with buildah, and
test_operator_pod.py runs the image on the real node.)"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.identity import ChartIdentity
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_parses_into_known_instructions() -> None:
    known = {"FROM", "RUN", "COPY", "WORKDIR", "ENV", "USER", "EXPOSE", "ENTRYPOINT", "CMD",
             "ARG", "LABEL"}
    ins = instructions()
    assert ins and all(word in known for word, _ in ins), ins
    assert sum(1 for w, _ in ins if w == "FROM") == 2, "multi-stage: build, then runtime"


def test_base_images_are_pinned() -> None:
    args = dict(rest.split("=", 1) for word, rest in instructions()
                if word == "ARG" and "=" in rest)
    for word, rest in instructions():
        if word == "FROM":
            image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], rest.split()[0])
            assert re.search(r":\d+\.\d+\.\d+", image) or "@sha256:" in image, image


def test_installs_the_wheel_and_runs_as_non_root() -> None:
    ins = instructions()
    runs = " ".join(r for w, r in ins if w == "RUN")
    assert "build --wheel" in runs and "pip install --no-cache-dir /tmp/*.whl" in runs
    assert not any(w == "COPY" and rest.startswith(". ") for w, rest in ins)
    user = [r for w, r in ins if w == "USER"][-1]
    assert user.split(":")[0] not in ("0", "root") and int(user.split(":")[0]) >= 1000


def test_the_entrypoint_starts_the_operator(chart_identity: ChartIdentity, tmp_path: Path
                                           ) -> None:
    entry = json.loads([r for w, r in instructions() if w == "ENTRYPOINT"][-1])
    assert entry[:4] == ["kopf", "run", "-m", "modelops.handlers"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Same arguments; only the liveness address moves to a free loopback port, and --standalone
    # keeps this short run from touching the test suite's operator.
    argv = [a.replace("0.0.0.0:8080", f"127.0.0.1:{port}") for a in entry[1:]]
    env = {**os.environ, "KUBECONFIG": chart_identity.kubeconfig(tmp_path / "kubeconfig"),
           "PYTHONPATH": str(ROOT / "operator"),
           "MODELOPS_METRICS_PORT": "0"}
    log = tmp_path / "entrypoint.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "kopf", *argv, "--standalone"], env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        import urllib.request

        def healthy() -> bool:
            assert proc.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    return bool(r.status == 200)
            except OSError:
                return False
        wait_for(healthy, timeout=60, what=f"{shlex.join(entry)} healthy")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
