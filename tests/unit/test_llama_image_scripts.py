"""The llama-server image's own scripts: the entrypoint finds the model and sizes its threads,
and the evaluation reads a GGUF's metadata as llama.cpp's own writer (the `gguf` package)
wrote it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import gguf
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "images" / "llama-server"))
import evaluate
import serve


def test_the_metadata_reader_reads_what_llama_cpps_writer_wrote(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_context_length(64)
    w.add_embedding_length(8)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_token_list(["<|endoftext|>", "a", "Ġb"])
    w.add_token_merges(["Ġ b"])
    w.add_add_bos_token(False)
    w.add_tensor("token_embd.weight", np.zeros((3, 8), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    meta = evaluate.metadata(path)
    assert meta["general.architecture"] == "llama" and meta["llama.context_length"] == 64
    assert meta["tokenizer.ggml.tokens"] == ["<|endoftext|>", "a", "Ġb"]
    assert meta["tokenizer.ggml.add_bos_token"] is False
    assert abs(meta["llama.attention.layer_norm_rms_epsilon"] - 1e-5) < 1e-9


def test_the_entrypoint_needs_exactly_one_gguf(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="found none"):
        serve.model_file(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.gguf").write_bytes(b"GGUF")
    (tmp_path / "heldout.txt").write_text("x")
    assert serve.model_file(tmp_path) == tmp_path / "sub" / "a.gguf"
    (tmp_path / "b.gguf").write_bytes(b"GGUF")
    with pytest.raises(SystemExit, match=r"expected one \.gguf file"):
        serve.model_file(tmp_path)


def test_the_entrypoint_adds_model_and_threads_unless_given(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    monkeypatch.setenv("MODEL_DIR", str(tmp_path))
    monkeypatch.setattr(serve, "threads", lambda: 3)
    ran: list[Any] = []
    monkeypatch.setattr(serve.os, "execv", lambda path, argv: ran.append(argv))
    monkeypatch.setattr(sys, "argv", ["serve.py", "--port", "8080"])
    serve.main()
    assert ran[-1] == [serve.SERVER, "--model", str(tmp_path / "m.gguf"), "--threads", "3",
                       "--port", "8080"]
    monkeypatch.setattr(sys, "argv", ["serve.py", "-m", "/x.gguf", "-t", "1"])
    serve.main()
    assert ran[-1] == [serve.SERVER, "-m", "/x.gguf", "-t", "1"]
