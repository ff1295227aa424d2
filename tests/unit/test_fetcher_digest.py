"""The fetcher's digest of an artifact (images/fetcher/fetch.py), as docs/api.md defines it."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

from tests.support import modules

ROOT = Path(__file__).resolve().parents[2]


def fetcher() -> ModuleType:
    return modules.load("images/fetcher/fetch.py")


def test_one_file_is_its_sha256(tmp_path: Path) -> None:
    (tmp_path / "model.joblib").write_bytes(b"weights")
    assert fetcher().digest(tmp_path) == "sha256:" + hashlib.sha256(b"weights").hexdigest()


def test_several_files_match_the_documented_shell_pipeline(tmp_path: Path) -> None:
    for rel, data in {"config.json": b"{}", "weights/a.bin": b"a", "weights/B.bin": b"bb",
                      "tokenizer.json": b"t"}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    shell = subprocess.run(
        "find . -type f -printf '%P\\n' | LC_ALL=C sort | xargs -d '\\n' sha256sum | sha256sum",
        shell=True, cwd=tmp_path, capture_output=True, text=True, check=True).stdout.split()[0]
    assert fetcher().digest(tmp_path) == "sha256:" + shell


def test_empty_artifact_is_a_mismatch(tmp_path: Path) -> None:
    f = fetcher()
    with pytest.raises(f.Mismatch):
        f.digest(tmp_path)


def test_secret_values_never_reach_the_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t-value")
    assert fetcher().scrub("denied for key s3cr3t-value") == "denied for key ***"


def test_a_bad_pin_fails_before_any_download(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODEL_DIGEST", "md5:abc")
    monkeypatch.setenv("FETCH_TERMINATION_LOG", str(tmp_path / "term"))
    assert fetcher().main(["fetch", "http://x/m", str(tmp_path / "out")]) == 2
    assert "sha256:<64 hex>" in (tmp_path / "term").read_text()


def test_a_fetch_reports_what_it_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The report the operator records as the data a run read (training.output)."""
    monkeypatch.setenv("FETCH_TERMINATION_LOG", str(tmp_path / "term"))
    f = fetcher()
    monkeypatch.setattr(f, "fetch", lambda uri, out, attempts, pause: (
        (out / "a.csv").write_text("5.1,3.5,1.4,0.2,0\n")))
    assert f.main(["fetch", "s3://data/iris/", str(tmp_path / "out")]) == 0
    report = json.loads((tmp_path / "term").read_text())
    assert report == {"uri": "s3://data/iris/", "files": 1,
                      "digest": "sha256:" + hashlib.sha256(b"5.1,3.5,1.4,0.2,0\n").hexdigest()}
