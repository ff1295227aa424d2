"""Runtime presets: what `vllm`, `triton`, `torchserve` and `llamacpp` mean as a container.

Each preset gives a default image, arguments, port, readiness and metrics endpoints, and what an
LLM server needs around it: its GPUs spread by tensor parallelism, a memory-backed /dev/shm, a
startup budget sized for multi-GB loads, and a drain that lets in-flight generations finish
before the server is stopped. Anything the user sets in `spec.serving` overrides the preset's
value (`args` replaces the preset's arguments whole). `$(MODEL_DIR)` and `$(MODEL_NAME)` are
expanded by the kubelet from the container's env.

Every flag, endpoint and metric named here is checked against the runtime's own source at the
pinned version by tests/integration/test_runtime_sources.py (Triton's C++ server is not in a
registry we reach: see that test for what was done instead).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..api.modelversion import Serving
from ..settings import Settings

# The versions the presets are written and checked against.
VLLM_VERSION = "0.11.0"
TRITON_VERSION = "25.01"  # NGC release; Triton server 2.54.0
TORCHSERVE_VERSION = "0.12.0"
TORCHSERVE_CONFIG = ("inference_address=http://0.0.0.0:8080",
                     "management_address=http://127.0.0.1:8081",
                     "metrics_address=http://0.0.0.0:8082", "metrics_mode=prometheus")


@dataclass(frozen=True)
class Preset:
    image: str | None
    command: list[str] | None
    args: list[str]
    port: int
    readiness_path: str
    metrics_path: str
    metrics_port: int | None = None  # None: metrics are on the serving port
    gpu_image: str | None = None  # image to use when GPUs are requested
    # The runtimes' published images run as root or name their user (which the kubelet cannot
    # check against runAsNonRoot), and write caches into their own filesystem: a preset says
    # which numeric user to run as and whether the root filesystem can be read-only.
    run_as_user: int | None = None  # None: the image's own (numeric, non-root) user
    read_only_root: bool = True
    default_memory: str | None = None  # None: the operator's default request and limit
    # Startup probe: how long loading may take before the kubelet gives up (liveness checks
    # begin only after the server first listens). LLM weights take minutes to load.
    startup_seconds: int = 600
    # The flag that spreads one replica over its GPUs (vLLM's tensor parallelism); its value is
    # the GPUs per replica. Without it vLLM would use one GPU of the pod's several.
    gpu_flag: str | None = None
    # A memory-backed /dev/shm of this size: NCCL and multi-process workers exchange tensors
    # through it, and the container runtime's default is 64 MiB.
    shm: str | None = None
    # A gauge of requests in flight on the metrics endpoint: on scale-down the pod first leaves
    # the Service, then waits until the gauge reads 0 (or `drain_seconds` pass) before the
    # server gets SIGTERM, which vLLM and llama-server answer by dropping open generations.
    busy_metric: str | None = None
    drain_seconds: int = 0  # 0: no wait beyond the endpoint catch-up


PRESETS: dict[str, Preset] = {
    "custom": Preset(image=None, command=None, args=[], port=8080, readiness_path="/healthz",
                     metrics_path="/metrics"),
    "vllm": Preset(
        image=f"vllm/vllm-openai:v{VLLM_VERSION}", command=None,
        args=["--model", "$(MODEL_DIR)", "--served-model-name", "$(MODEL_NAME)",
              "--port", "8000"],
        port=8000, readiness_path="/health", metrics_path="/metrics", run_as_user=1000,
        read_only_root=False, default_memory="16Gi", startup_seconds=1800,
        gpu_flag="--tensor-parallel-size", shm="2Gi",
        busy_metric="vllm:num_requests_running", drain_seconds=120),
    "triton": Preset(
        image=f"nvcr.io/nvidia/tritonserver:{TRITON_VERSION}-py3", command=["tritonserver"],
        # Triton waits for in-flight inferences itself on SIGTERM, up to --exit-timeout-secs.
        args=["--model-repository=$(MODEL_DIR)", "--http-port=8000", "--grpc-port=8001",
              "--allow-metrics=true", "--metrics-port=8002", "--exit-timeout-secs=60"],
        port=8000, readiness_path="/v2/health/ready", metrics_path="/metrics", metrics_port=8002,
        run_as_user=1000, read_only_root=False, default_memory="8Gi", startup_seconds=1200,
        shm="1Gi", drain_seconds=60),
    "torchserve": Preset(
        image=f"pytorch/torchserve:{TORCHSERVE_VERSION}-cpu",
        gpu_image=f"pytorch/torchserve:{TORCHSERVE_VERSION}-gpu",
        # TorchServe binds 127.0.0.1 and logs its metrics unless a config file says otherwise
        # (environment variables count only once a config file enables them): write one.
        command=["sh", "-c", "printf '%s\\n' " + " ".join(TORCHSERVE_CONFIG)
                 + " > /tmp/ts-config.properties && exec torchserve \"$@\"", "torchserve"],
        args=["--ts-config", "/tmp/ts-config.properties", "--start", "--foreground",
              "--model-store", "$(MODEL_DIR)", "--models", "all", "--disable-token-auth",
              "--ncs"],
        port=8080, readiness_path="/ping", metrics_path="/metrics", metrics_port=8082,
        run_as_user=1000, read_only_root=False, default_memory="4Gi", startup_seconds=900,
        shm="1Gi", drain_seconds=30),
    # llama.cpp's llama-server on CPU (images/llama-server, built here from pinned source).
    # Its entrypoint finds the one GGUF file under MODEL_DIR and sets --threads from the
    # container's CPU limit; `image` comes from the operator's settings (llamacpp_image).
    "llamacpp": Preset(
        image=None, command=None,
        args=["--host", "0.0.0.0", "--port", "8080", "--metrics", "--alias", "$(MODEL_NAME)"],
        port=8080, readiness_path="/health", metrics_path="/metrics", default_memory="1Gi",
        busy_metric="llamacpp:requests_processing", drain_seconds=60),
}


def resolve(serving: Serving, settings: Settings | None = None) -> Preset:
    """The effective container settings: the preset, overridden by the user's fields."""
    base = PRESETS[serving.runtime]
    if serving.runtime == "llamacpp" and not serving.image:
        base = replace(base, image=(settings or Settings()).llamacpp_image)
    gpus = serving.resources.gpu if serving.resources and serving.resources.gpu else 0
    image = serving.image or (base.gpu_image if gpus and base.gpu_image else base.image)
    args = serving.args if serving.args is not None else base.args
    if serving.args is None and gpus and base.gpu_flag:
        args = [*args, base.gpu_flag, str(gpus)]
    return replace(
        base,
        image=image,
        command=serving.command if serving.command is not None else base.command,
        args=args,
        port=serving.port or base.port,
        readiness_path=serving.readiness_path or base.readiness_path,
        metrics_path=serving.metrics_path or base.metrics_path,
    )
