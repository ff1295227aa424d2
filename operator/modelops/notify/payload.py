"""What a receiver gets: a JSON document (default) or a Slack-compatible message. Pure."""

from __future__ import annotations

from typing import Any

from ..api.notifications import Notification

FORMATS = ("json", "slack")
MARKS = {"Warning": ":red_circle:", "Normal": ":large_green_circle:"}


def context(up: dict[str, Any]) -> dict[str, Any]:
    """The policy facts every message carries, taken when it is sent."""
    meta, spec, st = up["metadata"], up.get("spec") or {}, up.get("status") or {}
    return {"namespace": meta.get("namespace"), "policy": meta.get("name"),
            "model": spec.get("model"), "stableVersion": st.get("stableVersion"),
            "canaryVersion": st.get("canaryVersion")}


def payload(note: Notification, ctx: dict[str, Any], fmt: str) -> dict[str, Any]:
    if fmt == "slack":
        where = f"{ctx['namespace']}/{ctx['model']}"
        text = f"{MARKS.get(note.type, '')} *{where}* {note.reason}: {note.message}"
        if note.metrics:
            text += "\n" + ", ".join(f"{k}={v:g}" for k, v in sorted(note.metrics.items()))
        return {"username": "modelops", "text": text}
    return {"apiVersion": "modelops.io/v1alpha1", "kind": "Notification", "id": note.id,
            "reason": note.reason, "type": note.type, "message": note.message,
            "time": note.time, "metrics": note.metrics or {}, **ctx}
