"""Why a version's serving pods are not ready, from the pods themselves: pure.

kwok's pods were Ready at once; real ones fail to fetch, lack an image, crash while loading.
The Deployment's status only says "0/1 ready", so the version's conditions take the pods'
own words: the fetcher's termination message, the kubelet's image error, the server's last
log lines (both containers use terminationMessagePolicy FallbackToLogsOnError).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FETCH_CONTAINER = "fetch-model"
IMAGE_REASONS = {"ErrImageNeverPull", "ErrImagePull", "ImagePullBackOff", "InvalidImageName"}
CONFIG_REASONS = {"CreateContainerConfigError", "CreateContainerError", "RunContainerError"}
MAX_MESSAGE = 600


@dataclass(frozen=True)
class Problem:
    reason: str  # a condition reason: FetchFailed, ImageUnavailable, ...
    message: str


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else "..." + text[-MAX_MESSAGE:]


def _terminated(cs: dict[str, Any]) -> dict[str, Any] | None:
    """The container's failed run, current or last: {exitCode, reason, message}."""
    for key in ("state", "lastState"):
        t = (cs.get(key) or {}).get("terminated")
        if t and int(t.get("exitCode") or 0) != 0:
            return dict(t)
    return None


def _container(cs: dict[str, Any], init: bool) -> Problem | None:
    name = cs.get("name", "")
    waiting = (cs.get("state") or {}).get("waiting") or {}
    reason = waiting.get("reason") or ""
    if reason in IMAGE_REASONS:
        return Problem("ImageUnavailable", _clip(
            f"container {name}: image {cs.get('image', '')!r} cannot be had ({reason}): "
            f"{waiting.get('message') or 'not on the node and not pullable'}"))
    if reason in CONFIG_REASONS:
        return Problem("ContainerConfigError", _clip(
            f"container {name}: {reason}: {waiting.get('message') or ''}"))
    failed = _terminated(cs)
    if failed is None:
        return None
    said = (failed.get("message") or failed.get("reason") or "").strip()
    if init and name == FETCH_CONTAINER:
        return Problem("FetchFailed", _clip(f"fetching the artifact failed: {said}"))
    what = "init container" if init else "the server"
    return Problem("ServerCrashing" if not init else "InitContainerFailed", _clip(
        f"{what} {name} exited with code {failed.get('exitCode')}"
        f"{' (' + reason + ')' if reason else ''}: {said}"))


def diagnose(pods: list[dict[str, Any]]) -> Problem | None:
    """The first problem found among the pods (newest pod first), or None."""
    live = [p for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")]
    live.sort(key=lambda p: (p.get("metadata") or {}).get("creationTimestamp") or "",
              reverse=True)
    for pod in live:
        status = pod.get("status") or {}
        for cs in status.get("initContainerStatuses") or []:
            if problem := _container(cs, init=True):
                return problem
        for cs in status.get("containerStatuses") or []:
            if problem := _container(cs, init=False):
                return problem
        for cond in status.get("conditions") or []:
            if cond.get("type") == "PodScheduled" and cond.get("status") == "False" and \
                    cond.get("reason") == "Unschedulable":
                return Problem("Unschedulable", _clip(f"no node can run the pods: "
                                                      f"{cond.get('message', '')}"))
    return None
