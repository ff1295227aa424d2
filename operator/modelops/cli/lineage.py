"""A model's lineage: each version's parent (spec.parentVersion), what it was trained on and
with (status.training.data and .image, by digest) and the evaluation it passed, drawn as a
tree. Pure."""

from __future__ import annotations

from typing import Any


def short(digest: str | None) -> str:
    """`sha256:0123456789ab…` -> `0123456789ab`, as image tools show ids."""
    return (digest or "").removeprefix("sha256:")[:12] or "-"


def facts(mv: dict[str, Any]) -> dict[str, Any]:
    """What a version records of where it came from (the lineage section of `compare`)."""
    spec, st = mv.get("spec") or {}, mv.get("status") or {}
    tr, ev = st.get("training") or {}, st.get("evaluation") or {}
    image = tr.get("image") or {}
    out: dict[str, Any] = {
        "parentVersion": spec.get("parentVersion"),
        "retrainedBy": ((mv.get("metadata") or {}).get("labels") or {}).get(
            "modelops.io/retrained-by"),
        "trainingData": (tr.get("data") or {}).get("uri"),
        "trainingDataDigest": (tr.get("data") or {}).get("digest"),
        "trainerImage": image.get("image"),
        "trainerImageID": image.get("imageID"),
        "artifactURI": st.get("artifactURI"),
        "artifactDigest": (spec.get("artifact") or {}).get("digest"),
        "evaluationData": (ev.get("data") or {}).get("uri"),
        "evaluationDataDigest": (ev.get("data") or {}).get("digest"),
        "evaluationPassed": ev.get("passed"),
    }
    return {k: v for k, v in out.items() if v is not None}


def _line(mv: dict[str, Any]) -> str:
    spec, st = mv.get("spec") or {}, mv.get("status") or {}
    f = facts(mv)
    parts = [str(spec.get("version")), str(st.get("phase") or "-")]
    if "trainingDataDigest" in f or "trainingData" in f:
        parts.append(f"trained on {f.get('trainingData', '?')} "
                     f"@{short(f.get('trainingDataDigest'))}")
    elif "artifactURI" in f:
        parts.append(f"weights {f['artifactURI']}")
    if "trainerImageID" in f:
        parts.append(f"image @{short(f['trainerImageID'].rpartition('sha256:')[2])}")
    metrics = (st.get("evaluation") or {}).get("metrics") or {}
    if metrics:
        passed = f.get("evaluationPassed")
        gate = "passed" if passed is True else "failed" if passed is False else "-"
        shown = ", ".join(f"{k}={v:g}" for k, v in sorted(metrics.items()))
        parts.append(f"eval {gate} {shown} on @{short(f.get('evaluationDataDigest'))}")
    if "retrainedBy" in f:
        parts.append(f"retrained by {f['retrainedBy']}")
    return "  ".join(parts)


def tree(mvs: list[dict[str, Any]]) -> list[str]:
    """One line per version, children under their parent, oldest first; a parent that is no
    longer there is shown by name so its children still hang together."""
    by_version = {str((mv.get("spec") or {}).get("version")): mv for mv in mvs}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for mv in sorted(mvs, key=lambda m: ((m.get("metadata") or {}).get(
            "creationTimestamp") or "", str((m.get("spec") or {}).get("version")))):
        parent = (mv.get("spec") or {}).get("parentVersion")
        children.setdefault(parent if parent in by_version else None, []).append(mv)
    lines: list[str] = []

    def walk(mv: dict[str, Any], prefix: str, last: bool, root: bool) -> None:
        missing = (mv.get("spec") or {}).get("parentVersion")
        gone = f"  (parent {missing}: deleted)" if root and missing and \
            missing not in by_version else ""
        branch = "" if root else ("└─ " if last else "├─ ")
        lines.append(prefix + branch + _line(mv) + gone)
        kids = children.get(str((mv.get("spec") or {}).get("version")), [])
        deeper = prefix + ("" if root else ("   " if last else "│  "))
        for i, kid in enumerate(kids):
            walk(kid, deeper, i == len(kids) - 1, False)

    for mv in children.get(None, []):
        walk(mv, "", True, True)
    return lines
