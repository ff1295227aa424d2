"""The operator's code stays readable in pieces: no module over 400 lines, no function over 60
(docs/development.md). A function that grows past it is split where its steps are."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "operator" / "modelops"
MAX_MODULE, MAX_FUNCTION = 400, 60


def test_no_module_over_400_lines() -> None:
    long = {str(p.relative_to(PKG)): n for p in PKG.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_MODULE}
    assert long == {}


def test_no_function_over_60_lines() -> None:
    long = {}
    for path in PKG.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > MAX_FUNCTION:
                    long[f"{path.relative_to(PKG)}:{node.name}"] = n
    assert long == {}
