"""Every headline figure in README.md and docs/benchmarks.md is the one its results file
holds (bench/figures.py writes them; a figure typed by hand, or a result re-measured without
the docs following, fails here), and every results file says what measured it."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def figures() -> ModuleType:
    spec = importlib.util.spec_from_file_location("figures", ROOT / "bench" / "figures.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["figures"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_the_docs_show_what_the_results_hold() -> None:
    f = figures()
    for path in f.blocks():
        assert path.read_text() == f.rendered(path), (
            f"{path.relative_to(ROOT)} differs from bench/results: run python bench/figures.py")


def test_every_figure_names_its_results_file() -> None:
    f = figures()
    rows = f.table().splitlines()[2:]
    assert len(rows) == len(f.ROWS)
    for row in rows:
        _, value, source = (cell.strip() for cell in row.rsplit("|", 3)[:3][-3:])
        name = re.search(r"bench/results/([\w-]+)\.json", source)
        if value == "not measured yet":
            assert source == "-", row
            continue
        assert name, f"a figure without a results file: {row}"
        data = json.loads((ROOT / "bench" / "results" / f"{name[1]}.json").read_text())
        # What measured it, or plainly that nobody knows (a file from before stamps).
        assert f._stamp(data) in source, row


def test_a_figure_of_a_missing_file_says_so(tmp_path: Path) -> None:
    f = figures()
    f.RESULTS = tmp_path  # type: ignore[attr-defined]
    assert all("not measured yet" in row for row in f.table().splitlines()[2:])
    assert "NOT met" not in f.targets()
