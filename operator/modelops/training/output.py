"""What a finished training or evaluation pod left behind, read from its status: the
evaluation's metrics (its termination message), what the data fetcher fetched (its own
termination message, JSON) and the image the kubelet ran, by digest. Pure."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..serving.artifact import DATA_FETCHER


@dataclass(frozen=True)
class JobOutput:
    messages: list[str]  # termination messages of the pods' own containers
    data: dict[str, Any] | None = None  # {uri, digest, files} as the data fetcher reported
    image_id: str | None = None  # the image the kubelet ran for the first container


def _terminated(cs: dict[str, Any]) -> dict[str, Any] | None:
    return (cs.get("state") or {}).get("terminated")


def fetched(message: str) -> dict[str, Any] | None:
    try:
        report = json.loads(message)
    except ValueError:
        return None
    if not isinstance(report, dict) or not isinstance(report.get("uri"), str):
        return None
    return {k: report[k] for k in ("uri", "digest", "files") if report.get(k) is not None}


def job_output(pods: list[dict[str, Any]]) -> JobOutput:
    """From the Job's pods; the pod of index 0 (first by name) speaks for a gang."""
    pods = sorted(pods, key=lambda p: p["metadata"]["name"])
    messages, data, image_id = [], None, None
    for p in pods:
        st = p.get("status") or {}
        for cs in st.get("containerStatuses") or []:
            if (t := _terminated(cs)) is not None:
                messages.append(t.get("message") or "")
            if image_id is None and cs.get("imageID"):
                image_id = str(cs["imageID"])
        for cs in st.get("initContainerStatuses") or []:
            t = _terminated(cs)
            if data is None and cs.get("name") == DATA_FETCHER and t is not None:
                data = fetched(t.get("message") or "")
    return JobOutput(messages, data, image_id)
