"""What the LLM presets add around the server: tensor parallelism from the GPUs, a memory-backed
/dev/shm, a startup budget for big weights, a drain of in-flight generations; and the drain
hook itself, run against a metrics endpoint that goes from busy to idle."""

from __future__ import annotations

import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from modelops.serving.drain import CATCH_UP_SECONDS, POLL, grace_seconds, pre_stop
from modelops.serving.presets import PRESETS
from modelops.settings import Settings
from tests.unit.test_serving_builders import build, container


def pod(dep: dict[str, Any]) -> dict[str, Any]:
    return dict(dep["spec"]["template"]["spec"])


def test_vllm_spreads_a_replica_over_its_gpus() -> None:
    c = container(build(runtime="vllm", resources={"gpu": 2}))
    i = c["args"].index("--tensor-parallel-size")
    assert c["args"][i + 1] == "2"
    assert "--tensor-parallel-size" not in container(build(runtime="vllm"))["args"]


def test_a_users_args_replace_the_presets_whole() -> None:
    c = container(build(runtime="vllm", resources={"gpu": 4}, args=["--model", "/m"]))
    assert c["args"] == ["--model", "/m"]


@pytest.mark.parametrize("runtime", ["vllm", "triton", "torchserve"])
def test_gpu_runtimes_get_a_memory_backed_dev_shm(runtime: str) -> None:
    dep = build(runtime=runtime, resources={"gpu": 1})
    shm = next(v for v in pod(dep)["volumes"] if v["name"] == "shm")
    assert shm["emptyDir"]["medium"] == "Memory" and shm["emptyDir"]["sizeLimit"]
    assert {"name": "shm", "mountPath": "/dev/shm"} in container(dep)["volumeMounts"]


def test_custom_and_llamacpp_have_no_shm() -> None:
    for dep in (build(image="acme/s:1"), build(runtime="llamacpp")):
        assert all(v["name"] != "shm" for v in pod(dep)["volumes"])


def test_big_weights_get_a_long_startup_budget() -> None:
    probe = container(build(runtime="vllm"))["startupProbe"]
    assert probe["periodSeconds"] * probe["failureThreshold"] >= 1800


@pytest.mark.parametrize(("runtime", "metric"), [
    ("vllm", "vllm:num_requests_running"), ("llamacpp", "llamacpp:requests_processing")])
def test_llm_servers_drain_their_generations_before_sigterm(runtime: str, metric: str) -> None:
    dep = build(runtime=runtime)
    hook = container(dep)["lifecycle"]["preStop"]["exec"]["command"]
    assert hook[:2] == ["sh", "-c"] and metric in hook and POLL in hook
    grace = pod(dep)["terminationGracePeriodSeconds"]
    assert grace > CATCH_UP_SECONDS + PRESETS[runtime].drain_seconds


def test_a_plain_server_only_waits_for_the_proxies() -> None:
    dep = build(image="acme/s:1")
    assert container(dep)["lifecycle"]["preStop"] == {"sleep": {"seconds": CATCH_UP_SECONDS}}
    assert pod(dep)["terminationGracePeriodSeconds"] == grace_seconds(PRESETS["custom"])


def test_llamacpp_runs_the_image_the_operator_is_configured_with() -> None:
    c = container(build(runtime="llamacpp"))
    assert c["image"] == Settings().llamacpp_image
    assert c["readinessProbe"]["httpGet"]["path"] == "/health"
    assert "--metrics" in c["args"] and "$(MODEL_NAME)" in c["args"]
    assert container(build(runtime="llamacpp", image="acme/llama:2"))["image"] == "acme/llama:2"


class Metrics(BaseHTTPRequestHandler):
    busy = 2.0

    def do_GET(self) -> None:
        body = ("# HELP llamacpp:requests_processing Number of requests processing.\n"
                "# TYPE llamacpp:requests_processing gauge\n"
                f"llamacpp:requests_processing {Metrics.busy}\n"
                "llamacpp:requests_processing_other 9\n").encode()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def run_poll(url: str, budget: float) -> float:
    began = time.monotonic()
    subprocess.run(["python3", "-c", POLL, url, "llamacpp:requests_processing", str(budget)],
                   check=True, timeout=budget + 10)
    return time.monotonic() - began


def test_the_drain_waits_until_the_gauge_reads_zero_and_no_longer() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Metrics)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
    try:
        Metrics.busy = 2.0
        timer = threading.Timer(2.5, lambda: setattr(Metrics, "busy", 0.0))
        timer.start()
        waited = run_poll(url, 30)
        assert 2.5 <= waited < 10, waited  # not before the generations ended, nor the budget
        Metrics.busy = 1.0
        assert 3 <= run_poll(url, 3) < 8  # a stuck request: the budget ends the wait
    finally:
        server.shutdown()
    assert run_poll(url, 30) < 5  # the server is gone: nothing left to drain


def test_the_hook_hands_the_poller_its_url_and_budget() -> None:
    cmd = pre_stop(PRESETS["vllm"])["exec"]["command"]
    assert cmd[3:] == [POLL, "http://127.0.0.1:8000/metrics", "vllm:num_requests_running", "120"]


def test_torchserve_starts_with_a_config_that_listens_beyond_loopback(tmp_path: Any) -> None:
    """The preset's command, run by a real shell with a stand-in `torchserve` that reports
    what it was given: the config file it is pointed at exists and says where to listen."""
    fake = tmp_path / "torchserve"
    fake.write_text('#!/bin/sh\necho "ARGS $*"\ncat "$2"\n')
    fake.chmod(0o755)
    c = container(build(runtime="torchserve"))
    here = [a.replace("$(MODEL_DIR)", "/mnt/models").replace("/tmp/", f"{tmp_path}/")
            for a in [*c["command"], *c["args"]]]  # the pod's /tmp is its own emptyDir
    out = subprocess.run(here, capture_output=True, text=True, check=True,
                         env={"PATH": f"{tmp_path}:/usr/bin:/bin"}).stdout
    assert out.startswith(f"ARGS --ts-config {tmp_path}/ts-config.properties --start")
    config = out.splitlines()[1:]
    assert "inference_address=http://0.0.0.0:8080" in config
    assert "metrics_address=http://0.0.0.0:8082" in config and "metrics_mode=prometheus" in config
