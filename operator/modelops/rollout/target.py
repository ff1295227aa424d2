"""Which version a policy wants: `targetVersion`, or the newest Ready one under autoUpdate."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from ..api.modelversion import ModelVersionSpec
from ..api.phases import VersionPhase
from ..api.updatepolicy import UpdatePolicySpec
from ..serving.names import child_name
from ..serving.presets import resolve
from .window import in_window


@dataclass(frozen=True)
class VersionInfo:
    """What the rollout needs to know about one ModelVersion of the model."""

    version: str
    name: str
    phase: str | None
    created: str
    port: int = 8080
    service: str = ""
    runtime: str = "custom"  # its serving preset: which analysis templates apply
    trains: bool = False  # it has spec.training (a retraining template must)
    # Its latest scheduled evaluation failed its gates: when it ended, and why.
    evaluation_failed: str | None = None
    evaluation_message: str = ""

    @property
    def ready(self) -> bool:
        return self.phase == VersionPhase.READY

    @classmethod
    def from_mv(cls, mv: dict[str, Any], port: int, service: str) -> VersionInfo:
        return cls(version=mv["spec"]["version"], name=mv["metadata"]["name"],
                   phase=(mv.get("status") or {}).get("phase"),
                   created=mv["metadata"].get("creationTimestamp") or "", port=port,
                   service=service)


@dataclass(frozen=True)
class Target:
    version: str | None
    automatic: bool = False
    waiting: str | None = None  # why an automatic target is not taken now


def pick_target(spec: UpdatePolicySpec, versions: dict[str, VersionInfo], now: datetime,
                current: tuple[str | None, ...] = ()) -> Target:
    """The wanted version. Under autoUpdate: the newest version that is Ready, where the
    versions already serving (`current`) always count, so that a version going Pending while
    the policy scales it up does not flip the target back."""
    if spec.target_version:
        return Target(spec.target_version)
    auto = spec.auto_update
    if not auto or not auto.enabled:
        return Target(None)
    ready = sorted((v for v in versions.values() if v.ready or v.version in current),
                   key=lambda v: (v.created, v.name))
    if not ready:
        return Target(None, True, "no Ready version of the model yet")
    newest = ready[-1].version
    if newest in current:
        return Target(newest, True)
    if auto.window and not in_window(auto.window.schedule, auto.window.duration, now):
        return Target(newest, True, f"outside the window {auto.window.schedule!r} "
                                    f"(+{auto.window.duration})")
    return Target(newest, True)


def version_info(mv: dict[str, Any]) -> VersionInfo | None:
    try:
        spec = ModelVersionSpec.model_validate(mv.get("spec") or {})
    except ValidationError:
        return None
    port = resolve(spec.serving).port if spec.serving else 8080
    runs = ((mv.get("status") or {}).get("evaluation") or {}).get("runs") or []
    last = next((r for r in runs if r.get("endTime")), None)
    failed = last if last and last.get("passed") is False else None
    info = replace(VersionInfo.from_mv(mv, port, child_name(spec.model, spec.version)),
                   trains=spec.training is not None,
                   evaluation_failed=failed["endTime"] if failed else None,
                   evaluation_message=f"run {failed['run']}: {failed.get('message', '')}"
                   if failed else "")
    return replace(info, runtime=spec.serving.runtime) if spec.serving else info


def model_versions(mvs: Any) -> dict[str, VersionInfo]:
    """Version -> info of these ModelVersions (the operator files each info as it comes)."""
    return latest_claims(v for mv in mvs if (v := version_info(mv)) is not None)


def latest_claims(infos: Any) -> dict[str, VersionInfo]:
    """Version -> info; a duplicate claim of a version never hides the one that holds it."""
    newest_first = sorted(infos, key=lambda v: (v.created, v.name), reverse=True)
    return {v.version: v for v in newest_first}  # the oldest claim is written last and wins
