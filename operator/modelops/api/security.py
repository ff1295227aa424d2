"""Per-workload loosening of the hardened defaults every pod the operator makes starts from.

The pods pass Pod Security `restricted` as built (modelops.security); a runtime that needs to
run as a given user, write its root filesystem or keep a capability says so here, per version.
"""

from __future__ import annotations

from pydantic import Field

from .common import ApiModel


class Capabilities(ApiModel):
    add: list[str] | None = Field(
        None, description="Capabilities to keep (all others stay dropped). Pod Security "
        "`restricted` allows only NET_BIND_SERVICE.", max_length=16)


class SecurityContext(ApiModel):
    """Overrides of the restricted defaults (non-root, no privilege escalation, every
    capability dropped, RuntimeDefault seccomp, read-only root filesystem with a writable
    /tmp). Fields not given keep the default."""

    run_as_user: int | None = Field(None, ge=0, description="UID the containers run as "
                                    "(default: the image's user, which must not be root).")
    run_as_group: int | None = Field(None, ge=0, description="GID the containers run as.")
    run_as_non_root: bool | None = Field(None, description="false allows an image that runs as "
                                         "root; a namespace enforcing Pod Security `restricted` "
                                         "refuses such pods.")
    fs_group: int | None = Field(None, ge=0, description="Group that owns mounted volumes "
                                 "(e.g. a checkpoint claim the training user must write).")
    read_only_root_filesystem: bool | None = Field(
        None, description="false lets the runtime write its image's filesystem (default true "
        "for the example images and `custom`; /tmp is always writable).")
    allow_privilege_escalation: bool | None = Field(
        None, description="true allows setuid binaries to gain privileges (refused under "
        "`restricted`).")
    capabilities: Capabilities | None = Field(None, description="Capabilities to keep.")
