"""docs/architecture.md's layer table, enforced: every import of every module of the package
goes to its own layer or one its row allows, and sub-packages import each other one way."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "operator" / "modelops"
DOC = ROOT / "docs" / "architecture.md"


def modules() -> dict[str, Path]:
    """Dotted name -> file, for every module of the package (a package by its __init__)."""
    out = {}
    for path in PKG.rglob("*.py"):
        parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(mods: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the package's modules it imports: relative or absolute, `from .. import x`
    (x a module) and imports inside functions included."""
    out: dict[str, set[str]] = {}
    for name, path in mods.items():
        here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        found = out.setdefault(name, set())
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.split(".")[0] == "modelops"}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here[: len(here) - node.level + 1]
                    prefix = ".".join(base + ([node.module] if node.module else []))
                elif (node.module or "").split(".")[0] == "modelops":
                    prefix = str(node.module)
                else:
                    continue
                for alias in node.names:  # a name may be a module of the package, or in one
                    sub = f"{prefix}.{alias.name}"
                    found.add(sub if sub in mods else prefix)
        found.discard(name)
    return out


def layers() -> tuple[dict[str, list[str]], dict[str, set[str]]]:
    """From the table in docs/architecture.md: layer -> module patterns, layer -> the
    layers it may import."""
    text = DOC.read_text()
    table = text[text.index("<!-- layers:start -->"):text.index("<!-- layers:end -->")]
    patterns: dict[str, list[str]] = {}
    allowed: dict[str, set[str]] = {}
    for line in table.splitlines()[3:]:
        layer, mods, may = (c.strip() for c in line.strip("|").split("|"))
        patterns[layer] = re.findall(r"`([^`]+)`", mods)
        allowed[layer] = set() if may == "nothing of ours" else {
            x.strip() for x in may.split(",")}
    return patterns, allowed


def layer_of(module: str, patterns: dict[str, list[str]]) -> str | None:
    """The layer of the most specific pattern that names the module."""
    rel = module.removeprefix("modelops").lstrip(".").replace(".", "/")
    best: tuple[int, str] | None = None
    for layer, pats in patterns.items():
        for pat in pats:
            if pat.endswith("/"):  # a package, and all below it
                hit = rel == pat.removesuffix("/") or rel.startswith(pat)
            else:  # one module; `__init__.py` is the package's own
                hit = rel == ("" if pat == "__init__.py" else pat.removesuffix(".py"))
            if hit and (best is None or len(pat) > best[0]):
                best = (len(pat), layer)
    return best[1] if best else None


def test_every_import_follows_the_documented_layers() -> None:
    mods = modules()
    graph = imports(mods)
    patterns, allowed = layers()
    assert set(allowed) >= {"API", "pure logic", "I/O", "reconcilers", "kopf"}
    assert {n for n in allowed.values() for n in n} <= set(allowed), "unknown layer named"
    # The scan sees what is there: a relative import of a module, and one inside a function.
    assert "modelops.metrics" in graph["modelops.versions.reconcile"]
    assert "modelops.kube" in graph["modelops.rollout.reconcile"]
    homeless = sorted(m for m in mods if layer_of(m, patterns) is None)
    assert homeless == [], f"modules in no layer of docs/architecture.md: {homeless}"
    wrong = []
    for src, targets in sorted(graph.items()):
        a = layer_of(src, patterns)
        for dst in sorted(targets):
            b = layer_of(dst, patterns)
            if a is not None and b is not None and b != a and b not in allowed[a]:
                wrong.append(f"{src} ({a}) imports {dst} ({b})")
    assert wrong == [], "\n".join(wrong)


def test_no_import_cycles_between_subpackages() -> None:
    graph: dict[str, set[str]] = {}
    for src, targets in imports(modules()).items():
        unit = (src.split(".") + [""])[1]
        graph.setdefault(unit, set()).update(
            t.split(".")[1] for t in targets if "." in t and t.split(".")[1] != unit)
    assert "kube" in graph["rollout"]  # the scan sees imports

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
