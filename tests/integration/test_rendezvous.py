"""A real rendezvous: the command and env the operator put in a training Job, run for real.

The Job's pod template is read back from the API server; each rank runs it as a local
process, with what the kubelet would have done by hand: NODE_RANK from the completion index,
$(VAR) expansion, and pod 0's DNS name pointed at loopback. torchrun then rendezvous and a gloo
(or, on a GPU machine, NCCL) all-reduce must add up across all processes.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.kube import Kube
from tests.support.manifests import model_version
from tests.support.operator import OperatorProcess
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "rendezvous" / "allreduce.py"


TORCH_VERSION = "2.15.0"  # as hack/torch-env.sh


def torch_bin() -> Path:
    """The environment with PyTorch that `make torch-env` builds (or MODELOPS_TORCH_ENV)."""
    cache = Path(os.environ.get("MODELOPS_CACHE", Path.home() / ".cache" / "modelops"))
    env = Path(os.environ.get("MODELOPS_TORCH_ENV", cache / f"torch-{TORCH_VERSION}"))
    if not (env / "bin" / "torchrun").exists():
        pytest.fail(f"no PyTorch environment at {env}: run `make torch-env` (or set "
                    "MODELOPS_TORCH_ENV); `make test` does this itself")
    return env / "bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def expand(text: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), text)


def local_rank_process(container: Any, rank: int, port: int,
                       bindir: Path) -> subprocess.Popen[str]:
    env: dict[str, str] = {}
    for e in container.env:
        if e.value_from is not None:
            assert "job-completion-index" in e.value_from.field_ref.field_path
            env[e.name] = str(rank)
        else:
            env[e.name] = expand(e.value or "", env)
    master = env["MASTER_ADDR"]
    for k in ("MASTER_ADDR", "PET_MASTER_ADDR"):
        env[k] = "127.0.0.1"
    for k in ("MASTER_PORT", "PET_MASTER_PORT"):
        env[k] = str(port)
    argv = []
    for a in container.command:
        a = expand(a, env).replace(master, "127.0.0.1").replace("--master-port=29500",
                                                                 f"--master-port={port}")
        argv.append(a)
    assert argv[0] == "torchrun"
    argv[0] = str(bindir / "torchrun")
    # the user's command: [python, train.py] -> this environment's python and our script
    i = argv.index("--no-python")
    argv[i + 1:] = [str(bindir / "python"), str(SCRIPT)]
    return subprocess.Popen(argv, env={**os.environ, **env, "PATH": f"{bindir}:/usr/bin:/bin"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.parametrize("backend", ["gloo"])
def test_generated_job_rendezvous_and_all_reduce(kube: Kube, operator: OperatorProcess,
                                                 namespace: str, backend: str) -> None:
    bindir = torch_bin()
    kube.create(namespace, model_version(
        "m-v1", "m", "1", artifact=None,
        training={"image": "trainer", "command": ["python", "train.py"], "nodes": 2,
                  "gpusPerNode": 0, "backend": backend, "outputURI": "s3://o/",
                  "podAnnotations": {"pod-complete.stage.kwok.x-k8s.io/delay": "3600s"}}))
    job = wait_for(lambda: kube.batch.read_namespaced_job("m-1-train-1", namespace),
                   what="training Job")
    container = job.spec.template.spec.containers[0]
    port = free_port()
    procs = [local_rank_process(container, rank, port, bindir) for rank in (0, 1)]
    outputs = []
    for p in procs:
        out, _ = p.communicate(timeout=180)
        outputs.append(out)
        assert p.returncode == 0, out
    results = [line for out in outputs for line in out.splitlines() if line.startswith("RESULT")]
    assert sorted(results) == ["RESULT rank=0 world=2 node=0 sum=3",
                               "RESULT rank=1 world=2 node=1 sum=3"], outputs
