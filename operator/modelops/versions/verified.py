"""What a served version learned about itself: the `Verified` condition. Pure.

A version learns by serving: a pod that got ready fetched its artifact (and checked its
digest), pulled its image and loaded it in the server; a pod that failed said why
(serving.diagnose). That knowledge is the version's, not its pods': it is kept, at the
generation it was learned at, when the policy scales the version to zero, so a version whose
artifact was refused never reads Ready beside healthy ones. A change to the spec (a new
generation) forgets it: the next pods learn afresh.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..api.conditions import get_condition, set_condition
from ..serving.diagnose import Problem

VERIFIED = "Verified"
# What the pods can say of the version itself (not of the cluster: Unschedulable is not).
INTRINSIC = frozenset({"FetchFailed", "ImageUnavailable", "ServerCrashing",
                       "InitContainerFailed", "ContainerConfigError"})
NOT_YET = "NotServedYet"


def learned(conditions: list[dict[str, Any]] | None, generation: int | None
            ) -> dict[str, Any] | None:
    """The Verified condition learned at this generation (None: nothing known yet)."""
    c = get_condition(conditions, VERIFIED)
    if c is None or c.get("status") == "Unknown" or c.get("observedGeneration") != generation:
        return None
    return c


def learn(conditions: list[dict[str, Any]], generation: int | None, now: datetime,
          served: bool, problem: Problem | None, digest: bool) -> list[dict[str, Any]]:
    """Conditions with Verified set from what the pods showed now (`served`: the asked-for
    replicas, at least one, are ready at this spec), else kept as learned before."""
    if served:
        what = "artifact fetched and its digest verified" if digest else "artifact in place"
        return set_condition(conditions, VERIFIED, True, "Verified",
                             f"{what}, image pulled, server ready", generation, now)
    if problem is not None and problem.reason in INTRINSIC:
        return set_condition(conditions, VERIFIED, False, problem.reason, problem.message,
                             generation, now)
    known = learned(conditions, generation)
    if known is not None:
        return conditions
    return set_condition(conditions, VERIFIED, "Unknown", NOT_YET,
                         "not served yet at this spec: its artifact is fetched and checked, "
                         "its image pulled, when its first pod starts", generation, now)


def refused(conditions: list[dict[str, Any]], generation: int | None
            ) -> dict[str, Any] | None:
    """The Verified=False condition, if the version was refused at this generation."""
    c = learned(conditions, generation)
    return c if c is not None and c.get("status") == "False" else None


def readiness(conditions: list[dict[str, Any]], generation: int | None, ready: bool,
              replicas: int, problem: Problem | None, message: str
              ) -> tuple[bool, str, str, bool]:
    """The Ready condition (status, reason, message) given what was learned, and whether the
    version stands refused: at zero replicas a refusal outlives the pods that said it."""
    refusal = refused(conditions, generation) if replicas == 0 else None
    if refusal is not None:
        return (False, refusal["reason"],
                f"scaled to zero; refused when it last ran: {refusal['message']}", True)
    if ready and replicas == 0:
        return True, "Ready", message + (
            "; verified when it last served" if learned(conditions, generation) else
            "; waits for its rollout, not verified yet (its first pods will be)"), False
    return ready, ("Ready" if ready else problem.reason if problem else "Progressing"), \
        message, False
