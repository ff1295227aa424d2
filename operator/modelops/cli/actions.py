"""Which merge patch each steering command makes to an UpdatePolicy, and why. Pure.

Every patch is one a user could make by hand (`kubectl annotate` / `kubectl patch`). The checks
mirror the operator's state machine (rollout/state.py): an action that would fit nothing is
dropped by the operator with only an `ActionIgnored` event, so we refuse it here with the
reason instead. When the operator has not caught up with the latest spec yet
(observedGeneration < generation) its status cannot tell, so we pass the action on unchecked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import FAILED, NOT_FOUND, CliError
from .summary import (
    ACTION_ANNOTATION,
    ARGOCD_TRACKING,
    FAILED_OUTCOMES,
    describe_step,
    served_before,
    status_current,
    steps_of,
)


@dataclass(frozen=True)
class Change:
    patch: dict[str, Any]  # merge patch of the UpdatePolicy; empty: nothing to change
    changes: list[tuple[str, Any, Any]] = field(default_factory=list)  # (field, before, after)
    note: str = ""  # what the operator will do about it, for the user


def refuse(message: str, hint: str | None = None, code: int = FAILED) -> CliError:
    return CliError(message, code, hint)


def _parts(up: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    return up.get("metadata") or {}, up.get("spec") or {}, up.get("status") or {}


def _annotate(up: dict[str, Any], action: str, note: str) -> Change:
    meta = up.get("metadata") or {}
    waiting = (meta.get("annotations") or {}).get(ACTION_ANNOTATION)
    if waiting == action:
        return Change({}, note=f"{action} is already waiting for the operator to take it")
    if waiting:
        # Overwriting would silently drop the other action; the user should know first.
        raise refuse(f"action {waiting!r} has not been taken by the operator yet",
                     "is the operator running? `kubectl get events` on the UpdatePolicy says "
                     "what it did last")
    return Change({"metadata": {"annotations": {ACTION_ANNOTATION: action}}},
                  [(f"metadata.annotations[{ACTION_ANNOTATION}]", None, action)], note)


def _rollout(up: dict[str, Any], what: str) -> dict[str, Any]:
    """The status, checked to have a rollout in progress (when it can be trusted)."""
    _, spec, st = _parts(up)
    if status_current(up) and not st.get("canaryVersion"):
        stable = st.get("stableVersion")
        raise refuse(f"nothing to {what}: model {spec.get('model')!r} has no rollout in "
                     f"progress" + (f" ({stable} serves all traffic)" if stable else ""))
    return st


def promote(up: dict[str, Any], full: bool = False) -> Change:
    action = "promote-full" if full else "promote"
    st = _rollout(up, action)
    _, spec, _ = _parts(up)
    if status_current(up):
        # The operator looks at manual promotes only while it walks the steps (progress()).
        if spec.get("paused"):
            raise refuse("the rollout is paused (spec.paused is true); a promote would be "
                         "ignored", "run `resume` first")
        if st.get("pauseReason"):
            raise refuse(f"the operator paused the rollout: {st['pauseReason']}",
                         "run `resume` first, or wait for analysis data to return")
        plan = steps_of(spec)
        i = int(st.get("currentStepIndex") or 0)
        if i >= len(plan) and not full:
            raise refuse("all steps are done; the rollout waits for a successful analysis "
                         "before it promotes, and promote cannot skip that")
    if full:
        note = "the operator skips the remaining steps and gives the canary 100% of traffic"
        if spec.get("analysis"):
            note += " once an analysis measurement has passed"
    else:
        i = int(st.get("currentStepIndex") or 0)
        plan = steps_of(spec)
        current = describe_step(plan[i]) if i < len(plan) else "the current step"
        note = f"the operator ends step {i + 1}/{len(plan)} ({current}) and moves on"
    return _annotate(up, action, note)


def abort(up: dict[str, Any]) -> Change:
    st = _rollout(up, "abort")
    return _annotate(up, "abort", "the operator moves all traffic back to "
                     f"{st.get('stableVersion') or 'the stable version'} (phase Degraded); "
                     "`retry` rolls the version out again")


def retry(up: dict[str, Any]) -> Change:
    _, spec, st = _parts(up)
    if st.get("hold"):
        held = st["hold"]
        return _annotate(up, "retry", f"the hold on {held['version']} ends and the operator "
                         f"rolls {held.get('target')} out again from the first step")
    if status_current(up):
        last = (st.get("history") or [{}])[0]
        target = spec.get("targetVersion")
        retryable = (not st.get("canaryVersion") and last.get("outcome") in FAILED_OUTCOMES
                     and last.get("fromVersion") == st.get("stableVersion")
                     and target in (None, last.get("version")))
        if not retryable:
            raise refuse("nothing to retry: the last rollout did not end rolled back or "
                         "aborted" + (f" (it ended {last['outcome']}, {last.get('reason')})"
                                      if last.get("outcome") else ""))
        version = last["version"]
    else:
        version = spec.get("targetVersion") or "the target"
    return _annotate(up, "retry", f"the operator rolls {version} out again from the first step")


def pause(up: dict[str, Any]) -> Change:
    _, spec, st = _parts(up)
    if spec.get("paused"):
        return Change({}, note="already paused (spec.paused is true); nothing changed")
    note = ("the rollout holds where it is; time in a timed pause stops counting"
            if st.get("canaryVersion") else
            "no rollout is in progress; the next one holds right after it starts")
    return Change({"spec": {"paused": True}}, [("spec.paused", False, True)], note)


def resume(up: dict[str, Any]) -> Change:
    """Lift both kinds of pause: the user's (spec.paused) and the operator's (pauseReason)."""
    meta, spec, st = _parts(up)
    patch: dict[str, Any] = {}
    changes: list[tuple[str, Any, Any]] = []
    notes = []
    if spec.get("paused"):
        patch["spec"] = {"paused": False}
        changes.append(("spec.paused", True, False))
        notes.append("spec.paused is lifted")
    if st.get("pauseReason"):
        waiting = (meta.get("annotations") or {}).get(ACTION_ANNOTATION)
        if waiting not in (None, "resume"):
            raise refuse(f"action {waiting!r} has not been taken by the operator yet")
        if waiting is None:
            patch["metadata"] = {"annotations": {ACTION_ANNOTATION: "resume"}}
            changes.append((f"metadata.annotations[{ACTION_ANNOTATION}]", None, "resume"))
        notes.append(f"the operator lifts its own pause ({st['pauseReason']})")
    if not patch and notes:
        return Change({}, note="resume already waits for the operator to take it")
    if not patch:
        note = "not paused; nothing changed"
        plan, i = steps_of(spec), st.get("currentStepIndex")
        if st.get("canaryVersion") and i is not None and i < len(plan) \
                and "setWeight" not in plan[i] and not (plan[i].get("pause") or {}).get(
                    "duration"):
            note += f" (step {i + 1}/{len(plan)} waits for `promote`)"
        return Change({}, note=note)
    return Change(patch, changes, "; ".join(notes) + "; the rollout continues")


def gitops_manager(up: dict[str, Any]) -> str | None:
    """Who owns the policy's spec in Git, if anyone we can recognise: then the CLI must not
    write spec, or the GitOps tool reverts it (with self-heal) and traffic flaps."""
    meta = up.get("metadata") or {}
    annotations, labels = meta.get("annotations") or {}, meta.get("labels") or {}
    managers = {f.get("manager") for f in meta.get("managedFields") or []}
    if ARGOCD_TRACKING in annotations or "argocd-controller" in managers:
        return "Argo CD"
    if any(k.startswith(("kustomize.toolkit.fluxcd.io/", "helm.toolkit.fluxcd.io/"))
           for k in labels):
        return "Flux"
    return None


def rollback(up: dict[str, Any], versions: list[dict[str, Any]], to: str,
             mode: str = "auto", may_edit_spec: bool = True) -> Change:
    """Back to a version that served before. Where GitOps owns spec, where the user's role
    may not change spec (`may_edit_spec`), or where `mode` is "hold": the `rollback:VERSION`
    action, which holds traffic without writing spec; otherwise set targetVersion back (the
    operator's fast rollback)."""
    _, spec, st = _parts(up)
    manager = gitops_manager(up)
    why = (f"{manager} manages this UpdatePolicy, so spec stays as Git has it: " if manager
           else "your role may not change this UpdatePolicy's spec (verb edit-spec), so: "
           if not may_edit_spec else "")
    if mode == "hold" or (mode == "auto" and why):
        return _hold(up, versions, to, why)
    known = _versions(spec, versions, to)
    stable, target = st.get("stableVersion"), spec.get("targetVersion")
    if target == to and stable == to and not st.get("canaryVersion"):
        return Change({}, note=f"{to} already is the target and serves all traffic; "
                      "nothing changed")
    if to != stable and not served_before(st.get("history") or [], to):
        raise refuse(f"{to} has not served before (it is not in the rollout history), so "
                     "setting targetVersion to it starts a canary rollout, not a rollback",
                     f"to roll {to} out, set it yourself: kubectl patch updatepolicy "
                     f"{up['metadata']['name']} --type merge -p "
                     f"'{{\"spec\":{{\"targetVersion\":\"{to}\"}}}}'")
    phase = (known[to].get("status") or {}).get("phase")
    if to != stable:
        note = (f"the operator moves all traffic to {to} at once, as soon as its pods are ready "
                "(right away while it is still warm), skipping steps and analysis")
    elif st.get("canaryVersion"):
        note = f"the rollout of {st['canaryVersion']} ends and {to} keeps all traffic"
    else:
        note = f"{to} already serves all traffic; targetVersion now says so too"
    if phase != "Ready":
        note += f" (warning: version {to} is {phase or 'not reconciled yet'}, not Ready)"
    if (spec.get("autoUpdate") or {}).get("enabled"):
        note += "; autoUpdate is on, and targetVersion now pins the model until you clear it"
    return Change({"spec": {"targetVersion": to}}, [("spec.targetVersion", target, to)], note)


def _versions(spec: dict[str, Any], versions: list[dict[str, Any]], to: str
              ) -> dict[str, dict[str, Any]]:
    """Version -> ModelVersion, checked to hold `to`."""
    known = {str((mv.get("spec") or {}).get("version")): mv for mv in versions}
    if to not in known:
        listed = ", ".join(sorted(str(v) for v in known)) or "none"
        raise refuse(f"model {spec.get('model')!r} has no version {to!r} (versions: {listed})",
                     code=NOT_FOUND)
    return known


def _hold(up: dict[str, Any], versions: list[dict[str, Any]], to: str, why: str) -> Change:
    _, spec, st = _parts(up)
    _versions(spec, versions, to)
    if to != st.get("stableVersion") and not served_before(st.get("history") or [], to):
        raise refuse(f"{to} has not served before (it is not in the rollout history); a "
                     "rollback only goes back to a version that served")
    target = spec.get("targetVersion")
    if to == target == st.get("stableVersion") and not st.get("canaryVersion"):
        return Change({}, note=f"{to} already is the target and serves all traffic; "
                      "nothing changed")
    note = (f"{why}the operator moves all traffic to {to} and holds it there against the "
            f"target {target or '(autoUpdate)'}; the hold ends when the target changes in Git "
            "or with `kubectl modelops retry`")
    if to == target:
        note = f"{why}the operator moves all traffic to {to}, which already is the target"
    return _annotate(up, f"rollback:{to}", note)
