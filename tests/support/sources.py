"""The serving runtimes' own source code at the versions the presets pin, fetched from PyPI
(pinned by sha256) into $MODELOPS_CACHE/sources and unpacked once, so a test can check a preset's
flags, endpoints and metric names against what the runtime really accepts and exports."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tarfile
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("MODELOPS_CACHE", Path.home() / ".cache" / "modelops")) / "sources"
FILES = "https://files.pythonhosted.org/packages"

# name: (url, sha256). llama.cpp's pin is the llama-server image's own (one place to bump).
PINNED: dict[str, tuple[str, str]] = {
    "vllm-0.11.0": (
        f"{FILES}/82/5a/36d2351206f4d8d871b10780f874d03957985e08298d430cc837723e07af/"
        "vllm-0.11.0.tar.gz",
        "f435a64c24e9c4178d657a76f8edd8548ddc444012f7d06a9f79ac3a6392bfae"),
    "torchserve-0.12.0": (
        f"{FILES}/07/57/3e9d9579f6300c475c13e5cbaa38be93c8e44aecfb85dfd16825adb6e9c6/"
        "torchserve-0.12.0-py3-none-any.whl",
        "db127160102d29f390964f758b7ecc5039d3d278fafc85bf9994c273b3ef6954"),
}


def llama_pin() -> tuple[str, str, str]:
    """(version, url, sha256) of llama-cpp-python's sdist, from images/llama-server/Dockerfile."""
    text = (ROOT / "images" / "llama-server" / "Dockerfile").read_text()
    args = dict(re.findall(r"^ARG (LLAMA_CPP_PYTHON_\w+)=(\S+)$", text, re.M))
    return (args["LLAMA_CPP_PYTHON_VERSION"], args["LLAMA_CPP_PYTHON_URL"],
            args["LLAMA_CPP_PYTHON_SHA256"])


def pinned(name: str) -> tuple[str, str]:
    if name.startswith("llama-cpp-python-"):
        _, url, sha = llama_pin()
        return url, sha
    return PINNED[name]


def source(name: str) -> Path:
    """The unpacked archive of a pinned release (downloaded and checked on first use)."""
    url, sha = pinned(name)
    out = CACHE / name
    if (out / ".done").exists():
        return out
    CACHE.mkdir(parents=True, exist_ok=True)
    archive = CACHE / url.rsplit("/", 1)[1]
    if not archive.exists() or hashlib.sha256(archive.read_bytes()).hexdigest() != sha:
        tmp = archive.with_suffix(".part")
        with urllib.request.urlopen(url, timeout=300) as r, tmp.open("wb") as f:
            shutil.copyfileobj(r, f)
        got = hashlib.sha256(tmp.read_bytes()).hexdigest()
        if got != sha:
            raise RuntimeError(f"{url}: sha256 {got}, pinned {sha}")
        tmp.replace(archive)
    shutil.rmtree(out, ignore_errors=True)
    if archive.name.endswith(".whl"):
        with zipfile.ZipFile(archive) as z:
            z.extractall(out)
    else:
        with tarfile.open(archive) as t:
            t.extractall(out, filter="data")
        (inner,) = list(out.iterdir())  # an sdist unpacks into NAME-VERSION/
        for p in inner.iterdir():
            p.rename(out / p.name)
        inner.rmdir()
    (out / ".done").write_text(sha)
    return out
