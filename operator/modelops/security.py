"""What makes every pod the operator creates a good citizen: Pod Security `restricted` as
built (non-root, no privilege escalation, all capabilities dropped, RuntimeDefault seccomp), a
read-only root filesystem with a writable /tmp where the runtime allows, and requests and
limits from the spec or the operator's defaults. Pure.

A version loosens it where its runtime needs to (`securityContext` in serving, training or
evaluation); the defaults never depend on the namespace, so a pod that runs in a relaxed
namespace runs in a restricted one too.
"""

from __future__ import annotations

from typing import Any

from .api.security import SecurityContext
from .settings import Settings

TMP_VOLUME = "tmp"
TMP = {"name": TMP_VOLUME, "emptyDir": {}}
TMP_MOUNT = {"name": TMP_VOLUME, "mountPath": "/tmp"}


def pod_context(user: SecurityContext | None, run_as_user: int | None = None
                ) -> dict[str, Any]:
    """The pod's securityContext; `run_as_user`: the runtime's own default user (a preset's
    image that runs as root, or names its user instead of numbering it)."""
    u = user or SecurityContext()
    out: dict[str, Any] = {"runAsNonRoot": True if u.run_as_non_root is None
                           else u.run_as_non_root,
                           "seccompProfile": {"type": "RuntimeDefault"}}
    uid = u.run_as_user if u.run_as_user is not None else run_as_user
    for key, value in (("runAsUser", uid), ("runAsGroup", u.run_as_group),
                       ("fsGroup", u.fs_group)):
        if value is not None:
            out[key] = value
    return out


def container_context(user: SecurityContext | None, read_only: bool = True) -> dict[str, Any]:
    """A container's securityContext; `read_only`: the runtime's default for its root
    filesystem (the user's field wins)."""
    u = user or SecurityContext()
    caps: dict[str, Any] = {"drop": ["ALL"]}
    if u.capabilities and u.capabilities.add:
        caps["add"] = list(u.capabilities.add)
    return {"allowPrivilegeEscalation": bool(u.allow_privilege_escalation),
            "capabilities": caps,
            "readOnlyRootFilesystem": read_only if u.read_only_root_filesystem is None
            else u.read_only_root_filesystem}


def resources(cpu: Any, memory: Any, gpus: int, settings: Settings,
              default_memory: str | None = None) -> dict[str, Any]:
    """Requests and limits: what the spec gives is both request and limit (a guaranteed
    share, as before); what it leaves out gets the operator's default request, and memory a
    default limit, so no pod is unbounded. `default_memory`: the runtime's own (a preset)."""
    requests: dict[str, str] = {"cpu": str(cpu) if cpu is not None else settings.default_cpu}
    limits: dict[str, str] = {}
    if cpu is not None:
        limits["cpu"] = str(cpu)
    if memory is not None or default_memory is not None:
        requests["memory"] = limits["memory"] = str(memory if memory is not None
                                                    else default_memory)
    else:
        requests["memory"] = settings.default_memory
        limits["memory"] = settings.default_memory_limit
    if gpus:
        requests[settings.gpu_resource] = limits[settings.gpu_resource] = str(gpus)
    return {"requests": requests, "limits": limits}


def fetcher_resources(settings: Settings) -> dict[str, Any]:
    """The artifact fetcher streams to disk: little CPU, bounded memory."""
    return {"requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"memory": settings.fetcher_memory_limit}}
