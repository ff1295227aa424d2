"""Every flag, endpoint and metric a runtime preset or analysis template names, checked against
the runtime's own source at the pinned version (tests/support/sources.py fetches it from PyPI):
a flag the runtime does not parse, a path it does not route, a series it does not export, or a
preset image whose tag drifted from the checked source, fails here.

- vLLM 0.11.0 (sdist): flags from EngineArgs' add_argument calls and FrontendArgs' fields,
  routes from the OpenAI server, metric names from v1/metrics/loggers.py, the image's entrypoint
  from docker/Dockerfile.
- TorchServe 0.12.0 (wheel): flags from ts/arg_parser.py; config keys, default ports and metric
  names from the Java frontend in the wheel (its class files' constant pools) and
  ts/configs/metrics.yaml.
- llama.cpp as llama-cpp-python 0.3.36 vendors it (the llama-server image's own pin): flags from
  common/arg.cpp, routes from tools/server/server.cpp, metrics from server-task.cpp.
- Triton: its C++ server is in no registry this project reaches (PyPI's `tritonserver` wheels
  hold only the in-process Python bindings, from 2.70 on). Its flags (--model-repository,
  --http-port, --grpc-port, --allow-metrics, --metrics-port, --exit-timeout-secs) were checked by
  hand against src/command_line_parser.cc of triton-inference-server/server; nothing here can
  re-check them.
"""

from __future__ import annotations

import ast
import re
import zipfile
from pathlib import Path

import pytest

from modelops.analysis.templates import OWN as TEMPLATES
from modelops.autoscale.templates import QUERIES
from modelops.serving.presets import PRESETS, TORCHSERVE_CONFIG, TORCHSERVE_VERSION, VLLM_VERSION
from tests.support.sources import llama_pin, source

pytestmark = pytest.mark.runtime_sources


def flags(args: list[str]) -> set[str]:
    """The options in an argument list (`--x=1` counts as `--x`; `$(VARS)` and values not)."""
    return {a.split("=", 1)[0] for a in args if a.startswith("-")}


def metric_names(queries: dict[str, str], prefix: str, client_suffixes: bool) -> set[str]:
    """The series a runtime's templates read, as the runtime names them. `client_suffixes`:
    the runtime declares metrics through Prometheus' client library, which adds `_bucket` to a
    histogram's series and `_total` to a counter's (llama-server writes its text by hand)."""
    found = set()
    for q in queries.values():
        for m in re.findall(rf"({re.escape(prefix)}[A-Za-z_:]+)\{{", q):
            found.add(re.sub(r"_(bucket|total)$", "", m) if client_suffixes else m)
    return found


# vLLM ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vllm() -> Path:
    return source(f"vllm-{VLLM_VERSION}")


def vllm_flags(root: Path) -> set[str]:
    found: set[str] = set()
    for rel in ("vllm/engine/arg_utils.py", "vllm/entrypoints/openai/cli_args.py"):
        found |= set(re.findall(r'add_argument\(\s*"(--[a-z0-9-]+)"', (root / rel).read_text()))
    tree = ast.parse((root / "vllm/entrypoints/openai/cli_args.py").read_text())
    front = next(n for n in ast.walk(tree)
                 if isinstance(n, ast.ClassDef) and n.name == "FrontendArgs")
    for node in front.body:  # each field becomes --field-name (cli_args.py: add_cli_args)
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            found.add("--" + node.target.id.replace("_", "-"))
    return found


def test_vllm_preset_flags_are_vllms(vllm: Path) -> None:
    known = vllm_flags(vllm)
    assert {"--model", "--port", "--tensor-parallel-size"} <= known  # the parse itself works
    preset = PRESETS["vllm"]
    used = flags(preset.args) | {preset.gpu_flag or ""}
    assert used <= known, used - known


def test_vllm_image_runs_the_openai_server_on_the_preset_port(vllm: Path) -> None:
    dockerfile = (vllm / "docker" / "Dockerfile").read_text()
    target = dockerfile.split("AS vllm-openai\n", 1)[1]
    assert 'ENTRYPOINT ["python3", "-m", "vllm.entrypoints.openai.api_server"]' in target
    assert PRESETS["vllm"].image == f"vllm/vllm-openai:v{VLLM_VERSION}"
    cli = (vllm / "vllm/entrypoints/openai/cli_args.py").read_text()
    assert f"port: int = {PRESETS['vllm'].port}" in cli


def test_vllm_routes_the_presets_paths(vllm: Path) -> None:
    server = (vllm / "vllm/entrypoints/openai/api_server.py").read_text()
    routes = set(re.findall(r'@router\.(?:get|post)\("([^"]+)"', server))
    routes |= set(re.findall(r'Mount\("([^"]+)"', server))
    preset = PRESETS["vllm"]
    assert {preset.readiness_path, preset.metrics_path, "/v1/completions",
            "/v1/chat/completions"} <= routes, routes


def test_vllm_exports_what_the_templates_and_drain_read(vllm: Path) -> None:
    loggers = (vllm / "vllm/v1/metrics/loggers.py").read_text()
    exported = set(re.findall(r'name="(vllm:[a-z_]+)"', loggers))
    wanted = metric_names(TEMPLATES["vllm"], "vllm:", True) | {PRESETS["vllm"].busy_metric or ""}
    wanted |= metric_names(QUERIES["vllm"], "vllm:", True)  # what autoscaling follows
    assert len(wanted) >= 6 and wanted <= exported, wanted - exported


# TorchServe ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def torchserve() -> Path:
    return source(f"torchserve-{TORCHSERVE_VERSION}")


def class_strings(jar: Path) -> str:
    """Every class file of the frontend jar, as text (their constant pools hold the names)."""
    with zipfile.ZipFile(jar) as z:
        return "\n".join(z.read(n).decode("latin-1") for n in z.namelist()
                         if n.endswith(".class"))


def test_torchserve_preset_flags_are_torchserves(torchserve: Path) -> None:
    parser = (torchserve / "ts" / "arg_parser.py").read_text()
    known = set(re.findall(r'"(--[a-z-]+)"', parser))
    assert "--model-store" in known
    used = flags(PRESETS["torchserve"].args)
    assert used <= known, used - known


def test_torchserve_reads_the_config_the_preset_writes(torchserve: Path) -> None:
    java = class_strings(torchserve / "ts" / "frontend" / "model-server.jar")
    for line in TORCHSERVE_CONFIG:
        assert line.split("=", 1)[0] in java, line
    # Without the file it would listen on loopback only: what the preset's config corrects.
    assert "http://127.0.0.1:8080" in java
    preset = PRESETS["torchserve"]
    assert f"http://0.0.0.0:{preset.port}" in " ".join(TORCHSERVE_CONFIG)
    assert f"http://0.0.0.0:{preset.metrics_port}" in " ".join(TORCHSERVE_CONFIG)
    assert "/tmp/ts-config.properties" in preset.args and "/tmp/" in preset.command[2]


def test_torchserve_exports_what_the_templates_read(torchserve: Path) -> None:
    text = class_strings(torchserve / "ts" / "frontend" / "model-server.jar")
    text += (torchserve / "ts" / "configs" / "metrics.yaml").read_text()
    names = {n for q in TEMPLATES["torchserve"].values()
             for n in re.findall(r"([A-Za-z_0-9]+)\{", q)}
    assert names and all(n in text for n in names), names
    assert '"/ping"' in text or "ping" in text


# llama.cpp -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def llama() -> Path:
    version, _, _ = llama_pin()
    return source(f"llama-cpp-python-{version}") / "vendor" / "llama.cpp"


def test_llamacpp_preset_flags_are_llama_servers(llama: Path) -> None:
    arg = (llama / "common" / "arg.cpp").read_text()
    known = set(re.findall(r'"(--?[a-z0-9-]+)"', arg))
    assert {"--metrics", "--ctx-size"} <= known
    serve = (Path(__file__).resolve().parents[2] / "images" / "llama-server" / "serve.py")
    wrapper = set(re.findall(r'"(--[a-z-]+)"', serve.read_text()))  # what the entrypoint adds
    used = flags(PRESETS["llamacpp"].args) | wrapper
    assert {"--model", "--threads"} <= wrapper and used <= known, used - known


def test_llama_server_routes_the_presets_paths(llama: Path) -> None:
    server = (llama / "tools" / "server" / "server.cpp").read_text()
    routes = set(re.findall(r'ctx_http\.(?:get|post)\s*\("([^"]+)"', server))
    preset = PRESETS["llamacpp"]
    assert {preset.readiness_path, preset.metrics_path, "/v1/completions",
            "/v1/chat/completions"} <= routes, routes


def test_llama_server_exports_what_the_templates_and_drain_read(llama: Path) -> None:
    task = (llama / "tools" / "server" / "server-task.cpp").read_text()
    assert '"llamacpp:"' in task  # the prefix every series gets
    exported = {"llamacpp:" + n for n in re.findall(r'^\s*"([a-z_]+)",\s*$', task, re.M)}
    wanted = metric_names(TEMPLATES["llamacpp"], "llamacpp:", False)
    wanted |= metric_names(QUERIES["llamacpp"], "llamacpp:", False)  # what autoscaling follows
    wanted.add(PRESETS["llamacpp"].busy_metric or "")
    assert len(wanted) >= 4 and wanted <= exported, (wanted - exported, sorted(exported))
