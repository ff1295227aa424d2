"""Runtime presets: what `vllm`, `triton` and `torchserve` mean as a container.

Each preset gives a default image, arguments, port, readiness and metrics endpoints; anything the
user sets in `spec.serving` overrides the preset's value. `$(MODEL_DIR)` and `$(MODEL_NAME)`
are expanded by the kubelet from the container's env.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..api.modelversion import Serving


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
    # begin only after the server first listens).
    startup_seconds: int = 600


PRESETS: dict[str, Preset] = {
    "custom": Preset(image=None, command=None, args=[], port=8080, readiness_path="/healthz",
                     metrics_path="/metrics"),
    "vllm": Preset(
        image="vllm/vllm-openai:v0.11.0", command=None,
        args=["--model", "$(MODEL_DIR)", "--served-model-name", "$(MODEL_NAME)",
              "--port", "8000"],
        port=8000, readiness_path="/health", metrics_path="/metrics", run_as_user=1000,
        read_only_root=False, default_memory="16Gi"),
    "triton": Preset(
        image="nvcr.io/nvidia/tritonserver:25.01-py3", command=["tritonserver"],
        args=["--model-repository=$(MODEL_DIR)", "--http-port=8000", "--grpc-port=8001",
              "--allow-metrics=true", "--metrics-port=8002"],
        port=8000, readiness_path="/v2/health/ready", metrics_path="/metrics", metrics_port=8002,
        run_as_user=1000, read_only_root=False, default_memory="8Gi"),
    "torchserve": Preset(
        image="pytorch/torchserve:0.12.0-cpu", gpu_image="pytorch/torchserve:0.12.0-gpu",
        command=["torchserve"],
        args=["--start", "--foreground", "--model-store", "$(MODEL_DIR)", "--models", "all",
              "--disable-token-auth", "--ncs"],
        port=8080, readiness_path="/ping", metrics_path="/metrics", metrics_port=8082,
        run_as_user=1000, read_only_root=False, default_memory="4Gi"),
}


def resolve(serving: Serving) -> Preset:
    """The effective container settings: the preset, overridden by the user's fields."""
    base = PRESETS[serving.runtime]
    gpus = serving.resources.gpu if serving.resources and serving.resources.gpu else 0
    image = serving.image or (base.gpu_image if gpus and base.gpu_image else base.image)
    return replace(
        base,
        image=image,
        command=serving.command if serving.command is not None else base.command,
        args=serving.args if serving.args is not None else base.args,
        port=serving.port or base.port,
        readiness_path=serving.readiness_path or base.readiness_path,
        metrics_path=serving.metrics_path or base.metrics_path,
    )
