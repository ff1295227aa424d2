"""The package's sub-packages import each other in one direction only: no cycles."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "operator" / "modelops"


def edges() -> dict[str, set[str]]:
    """sub-package (or top-level module) -> those it imports, from every module's source."""
    out: dict[str, set[str]] = {}
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG).parts
        unit = rel[0].removesuffix(".py")
        depth = len(rel) - 1  # how many levels below modelops the module sits
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                parts = list(rel[:-1])[: max(0, depth - node.level + 1)]
                target = (parts + (node.module or "").split("."))[0] if parts or node.module \
                    else None
                if node.level > depth and node.module:
                    target = node.module.split(".")[0]
                if target and target != unit:
                    out.setdefault(unit, set()).add(target.removesuffix(".py"))
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("modelops."):
                target = node.module.split(".")[1]  # type: ignore[union-attr]
                if target != unit:
                    out.setdefault(unit, set()).add(target)
    return out


def test_no_import_cycles_between_subpackages() -> None:
    graph = edges()
    assert graph.get("rollout") and "kube" in graph["rollout"]  # the scan sees imports

    def cycle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start:
                    return [*path, nxt]
                if nxt not in path:
                    stack.append((nxt, [*path, nxt]))
        return None

    cycles = [c for unit in graph if (c := cycle_from(unit))]
    assert cycles == [], cycles
