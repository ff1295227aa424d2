"""Two ModelVersions side by side: evaluation results and settings, differences marked. Pure."""

from __future__ import annotations

import json
from typing import Any

from .lineage import facts

# Sections in the order a reader wants them: results first, then how each version is built.
SECTIONS = ("evaluation results", "scheduled evaluation", "status", "lineage", "artifact",
            "serving", "training", "evaluation")


def latest_runs(status: dict[str, Any]) -> dict[str, Any]:
    """A version's scheduled evaluation (status.evaluation.runs): the latest finished run's
    metrics, how many ran and failed, and each metric's trend, oldest first."""
    runs = [r for r in (status.get("evaluation") or {}).get("runs") or [] if r.get("endTime")]
    if not runs:
        return {}
    out: dict[str, Any] = {"runs": len(runs), "failed": sum(r.get("passed") is False
                                                              for r in runs)}
    out.update({f"latest.{k}": v for k, v in (runs[0].get("metrics") or {}).items()})
    for name in sorted({k for r in runs for k in r.get("metrics") or {}}):
        out[f"trend.{name}"] = " > ".join(show((r.get("metrics") or {}).get(name))
                                           for r in reversed(runs))
    return out


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts -> {"a.b.c": leaf}; lists stay whole (their order is their meaning)."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value} if prefix else {}


def diff_paths(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    fa, fb = flatten(a), flatten(b)
    return sorted(k for k in fa.keys() | fb.keys() if fa.get(k) != fb.get(k))


def show(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(", ", ": "))
    return str(value)


def _delta(a: Any, b: Any) -> str | None:
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool) \
            and not isinstance(b, bool):
        return f"{b - a:+g}"
    return None


def compare_rows(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of {section, field, a, b, differs, delta} for ModelVersions `a` and `b`."""
    sa, sb = a.get("status") or {}, b.get("status") or {}
    pa, pb = a.get("spec") or {}, b.get("spec") or {}
    sources: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
        "evaluation results": ((sa.get("evaluation") or {}).get("metrics") or {},
                               (sb.get("evaluation") or {}).get("metrics") or {}),
        "scheduled evaluation": (latest_runs(sa), latest_runs(sb)),
        "status": ({"phase": sa.get("phase"),
                    "evaluationPassed": (sa.get("evaluation") or {}).get("passed"),
                    "artifactURI": sa.get("artifactURI")},
                   {"phase": sb.get("phase"),
                    "evaluationPassed": (sb.get("evaluation") or {}).get("passed"),
                    "artifactURI": sb.get("artifactURI")}),
        "lineage": (facts(a), facts(b)),
        "artifact": ({"description": pa.get("description"), **(pa.get("artifact") or {})},
                     {"description": pb.get("description"), **(pb.get("artifact") or {})}),
        "serving": (pa.get("serving") or {}, pb.get("serving") or {}),
        "training": (pa.get("training") or {}, pb.get("training") or {}),
        "evaluation": (pa.get("evaluation") or {}, pb.get("evaluation") or {}),
    }
    rows = []
    for section in SECTIONS:
        left, right = (flatten(x) for x in sources[section])
        for key in sorted(left.keys() | right.keys()):
            va, vb = left.get(key), right.get(key)
            if va is None and vb is None:
                continue
            rows.append({"section": section, "field": key, "a": va, "b": vb,
                         "differs": va != vb,
                         "delta": _delta(va, vb) if section in ("evaluation results",
                                                                "scheduled evaluation")
                         else None})
    return rows
