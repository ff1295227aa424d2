"""Raw ModelVersion/UpdatePolicy objects -> plain dicts about models. Pure.

The dicts are what `-o json|yaml` prints and what the rich views draw, so a script and a
human see the same facts. Time comes in as an argument so ages and durations are testable.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..api.analysis import Analysis
from ..api.phases import Outcome, PolicyPhase, VersionPhase
from ..api.updatepolicy import UpdatePolicySpec

FAILED_OUTCOMES = (Outcome.ROLLED_BACK, Outcome.ABORTED)
# The operator's manual-action annotation (rollout.reconcile.ACTION_ANNOTATION; a unit test keeps
# them equal). Not imported from there: that module pulls in kopf, which a CLI need not load.
ACTION_ANNOTATION = "modelops.io/action"
# Argo CD's resource tracking annotation (its default tracking method since 3.0).
ARGOCD_TRACKING = "argocd.argoproj.io/tracking-id"


def parse_time(ts: str | None) -> datetime | None:
    if not ts:
        return None
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None


def human_duration(seconds: float | None) -> str:
    """kubectl-style: 45s, 3m12s, 2h5m, 3d4h."""
    if seconds is None:
        return "-"
    s = max(int(seconds), 0)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60}s" if s % 60 else f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60}m" if (s % 3600) // 60 else f"{s // 3600}h"
    return f"{s // 86400}d{(s % 86400) // 3600}h" if (s % 86400) // 3600 else f"{s // 86400}d"


def age(ts: str | None, now: datetime) -> str:
    t = parse_time(ts)
    return human_duration((now - t).total_seconds()) if t else "-"


def model_of(obj: dict[str, Any]) -> str | None:
    model = (obj.get("spec") or {}).get("model")
    return model if isinstance(model, str) else None


def created_key(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return (meta.get("creationTimestamp") or "", meta.get("name") or "")


def group_models(mvs: list[dict[str, Any]], ups: list[dict[str, Any]]
                 ) -> dict[tuple[str, str], tuple[list[dict[str, Any]], dict[str, Any] | None]]:
    """(namespace, model) -> (its versions oldest first, the policy in charge or None).

    Several policies may claim one model; the operator obeys the oldest, so we show that one.
    """
    out: dict[tuple[str, str], tuple[list[dict[str, Any]], dict[str, Any] | None]] = {}
    for mv in sorted(mvs, key=created_key):
        key = (mv["metadata"].get("namespace", ""), model_of(mv) or "")
        if key[1]:
            out.setdefault(key, ([], None))[0].append(mv)
    for up in sorted(ups, key=created_key):
        key = (up["metadata"].get("namespace", ""), model_of(up) or "")
        if not key[1]:
            continue
        versions, policy = out.get(key, ([], None))
        out[key] = (versions, policy or up)
    return dict(sorted(out.items()))


def describe_step(step: dict[str, Any]) -> str:
    if "setWeight" in step:
        return f"weight {step['setWeight']}%"
    duration = (step.get("pause") or {}).get("duration")
    return f"pause {duration}" if duration else "pause until promoted"


def steps_of(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return list((((spec.get("strategy") or {}).get("canary") or {}).get("steps")) or [])


def status_current(up: dict[str, Any]) -> bool:
    """Whether the operator has seen the policy's latest spec (its status can be trusted)."""
    gen = (up.get("metadata") or {}).get("generation")
    seen = (up.get("status") or {}).get("observedGeneration")
    return gen is None or (seen is not None and seen >= gen)


def served_before(history: list[dict[str, Any]], version: str) -> bool:
    """The operator's own rule (rollout.state `in_history`): a version that was stable once."""
    return any(h.get("fromVersion") == version
               or (h.get("version") == version and h.get("outcome") == "Promoted")
               for h in history)


def _typed_spec(spec: dict[str, Any]) -> UpdatePolicySpec | None:
    """The spec with the CRD's defaults filled in (limits the user left out)."""
    try:
        return UpdatePolicySpec.model_validate(spec)
    except ValueError:
        return None


def _analysis_spec(spec: dict[str, Any]) -> Analysis | None:
    typed = _typed_spec(spec)
    return typed.analysis if typed else None


def notifications_summary(st: dict[str, Any]) -> dict[str, Any] | None:
    box = st.get("notifications") or {}
    if not box:
        return None
    pending = box.get("pending") or []
    return {"pending": len(pending), "sent": box.get("sent") or 0,
            "dropped": box.get("dropped") or 0, "oldest": pending[0] if pending else None,
            "lastSentTime": box.get("lastSentTime")}


def monitoring_summary(spec: dict[str, Any], st: dict[str, Any],
                       now: datetime) -> dict[str, Any] | None:
    typed = _typed_spec(spec)
    mon = typed.monitoring if typed else None
    ms = st.get("monitoring") or {}
    if mon is None and not ms:
        return None
    thresholds = {m.name: {k: v for k, v in (("min", m.min), ("max", m.max)) if v is not None}
                  for m in (mon.metrics if mon else [])}
    last = (ms.get("measurements") or [None])[0] or {}
    return {
        "version": ms.get("version"), "phase": ms.get("phase"),
        "action": mon.action if mon else None, "interval": mon.interval if mon else None,
        "consecutiveFailures": ms.get("consecutiveFailures") or 0,
        "failureThreshold": mon.failure_threshold if mon else None,
        "lastMeasurementAge": age(ms.get("lastMeasurementTime"), now)
        if ms.get("lastMeasurementTime") else None,
        "metrics": [{**m, **thresholds.get(m.get("name", ""), {})}
                    for m in last.get("metrics") or []],
        "measuredVersion": last.get("version"),
        "trend": [x.get("phase") for x in ms.get("measurements") or []],
        "lastRegression": ms.get("lastRegression"),
    }


def version_summary(mv: dict[str, Any], roles: dict[str, str], now: datetime) -> dict[str, Any]:
    spec, st = mv.get("spec") or {}, mv.get("status") or {}
    serving, evaluation = st.get("serving") or {}, st.get("evaluation") or {}
    # The first condition that is not True is why a version is not Ready yet, or Failed; a
    # refusal its pods learned comes first (it outlives them). Not verified yet is no trouble.
    conds = sorted(st.get("conditions") or [], key=lambda c: c.get("type") != "Verified")
    trouble = next((c for c in conds if c.get("status") == "False" or (
        c.get("status") == "Unknown" and c.get("type") != "Verified")), None)
    return {
        "name": mv["metadata"]["name"], "version": spec.get("version"),
        "phase": st.get("phase"), "role": roles.get(spec.get("version") or "", ""),
        "replicas": serving.get("replicas"), "readyReplicas": serving.get("readyReplicas"),
        "metrics": evaluation.get("metrics") or {}, "evaluationPassed": evaluation.get("passed"),
        # Scheduled runs while serving, oldest first: True passed, False failed its gates.
        "evaluationRuns": [r.get("passed") for r in reversed(evaluation.get("runs") or [])
                           if r.get("endTime")],
        "latestMetrics": next((r.get("metrics") or {} for r in evaluation.get("runs") or []
                               if r.get("endTime")), None),
        "description": spec.get("description"),
        "created": mv["metadata"].get("creationTimestamp"),
        "age": age(mv["metadata"].get("creationTimestamp"), now),
        "problem": (f"{trouble['type']}: {trouble.get('reason', '')} "
                    f"{trouble.get('message', '')}".strip() if trouble else None),
    }


def policy_summary(up: dict[str, Any], now: datetime) -> dict[str, Any]:
    spec, st = up.get("spec") or {}, up.get("status") or {}
    plan = steps_of(spec)
    canary = st.get("canaryVersion")
    index = st.get("currentStepIndex")
    step = None
    if canary and index is not None:
        step = {"index": index, "count": len(plan),
                "description": describe_step(plan[index]) if index < len(plan)
                else "all steps done"}
    an = st.get("analysis") or {}
    settings = _analysis_spec(spec)
    analysis = None
    if an or settings:
        thresholds = {m.name: {k: v for k, v in (("min", m.min), ("max", m.max)) if v is not None}
                      for m in (settings.metrics if settings else [])}
        analysis = {
            "phase": an.get("phase"), "failures": an.get("failures"),
            "failureLimit": settings.failure_limit if settings else None,
            "inconclusive": an.get("inconclusive"),
            "inconclusiveLimit": settings.inconclusive_limit if settings else None,
            "lastMeasurementTime": an.get("lastMeasurementTime"),
            "lastMeasurementAge": age(an.get("lastMeasurementTime"), now),
            "metrics": [{**m, **thresholds.get(m.get("name", ""), {})}
                        for m in an.get("metrics") or []],
        }
    return {
        "name": up["metadata"]["name"], "phase": st.get("phase"),
        "targetVersion": spec.get("targetVersion"),
        "autoUpdate": bool((spec.get("autoUpdate") or {}).get("enabled")),
        "paused": bool(spec.get("paused")), "replicas": spec.get("replicas"),
        "stableVersion": st.get("stableVersion"), "canaryVersion": canary,
        "canaryWeight": st.get("canaryWeight") or 0,
        "actualCanaryWeight": st.get("actualCanaryWeight") or 0,
        "revision": st.get("revision"), "step": step,
        "steps": [describe_step(s) for s in plan],
        "rolloutStartTime": st.get("rolloutStartTime") if canary else None,
        "message": st.get("message"), "pauseReason": st.get("pauseReason"),
        "outgoing": st.get("outgoing"), "incoming": st.get("incoming"),
        "pendingAction": ((up["metadata"].get("annotations") or {}).get(ACTION_ANNOTATION)
                          or st.get("pendingAction")),
        "analysis": analysis,
        "monitoring": monitoring_summary(spec, st, now),
        "notifications": notifications_summary(st),
        "retraining": ((st.get("retraining") or {}).get("runs") or [None])[0],
        "conditions": [{k: c.get(k) for k in ("type", "status", "reason", "message")}
                       | {"age": age(c.get("lastTransitionTime"), now)}
                       for c in st.get("conditions") or []],
        "upToDate": status_current(up),
        "lastRollout": (st.get("history") or [None])[0],
    }


def model_summary(namespace: str, model: str, mvs: list[dict[str, Any]],
                  up: dict[str, Any] | None, now: datetime) -> dict[str, Any]:
    policy = policy_summary(up, now) if up else None
    roles: dict[str, str] = {}
    if policy:
        for role, v in (("target", policy["targetVersion"]), ("stable", policy["stableVersion"]),
                        ("canary", policy["canaryVersion"])):
            if v:
                roles[v] = role  # later roles win: a canary is also the target
    versions = [version_summary(mv, roles, now) for mv in sorted(mvs, key=created_key)]
    summary: dict[str, Any] = {"namespace": namespace, "model": model, "policy": policy,
                               "versions": versions}
    summary["rolloutActive"] = rollout_active(summary)
    return summary


def rollout_active(summary: dict[str, Any]) -> bool:
    """Whether a rollout is running or about to start: what `--watch` waits out."""
    p = summary.get("policy")
    if not p:
        return False
    if not p["upToDate"] or p["pendingAction"] or p["canaryVersion"]:
        return True
    target, stable = p["targetVersion"], p["stableVersion"]
    if not target or target == stable:
        return False
    last = p.get("lastRollout") or {}
    if last.get("version") == target and last.get("outcome") in FAILED_OUTCOMES \
            and last.get("fromVersion") == stable:
        return False  # it waits for `retry`, not for time
    v = next((v for v in summary["versions"] if v["version"] == target), None)
    # A missing or Failed target does nothing by itself; any other is becoming Ready, and its
    # rollout starts then.
    return v is not None and v["phase"] != VersionPhase.FAILED


def watch_failed(summary: dict[str, Any]) -> bool:
    """Exit status of `--watch`: did the model end in trouble (not a deliberate rollback)?"""
    p = summary.get("policy") or {}
    if p.get("phase") == PolicyPhase.DEGRADED:
        return True
    last = p.get("lastRollout") or {}
    return bool(p.get("phase") == PolicyPhase.ROLLED_BACK
                and last.get("outcome") == Outcome.ROLLED_BACK
                and last.get("reason") != "TargetRollback")


def history_rows(up: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """The rollouts newest first, the one in progress (if any) on top."""
    st = up.get("status") or {}
    rows = []
    if st.get("canaryVersion"):
        start = parse_time(st.get("rolloutStartTime"))
        rows.append({"revision": st.get("revision"), "version": st["canaryVersion"],
                     "fromVersion": st.get("stableVersion"), "outcome": "InProgress",
                     "reason": st.get("phase"), "message": st.get("message"),
                     "startTime": st.get("rolloutStartTime"), "endTime": None,
                     "duration": human_duration((now - start).total_seconds()) if start else "-",
                     "durationSeconds": (now - start).total_seconds() if start else None})
    for h in st.get("history") or []:
        start, end = parse_time(h.get("startTime")), parse_time(h.get("endTime"))
        secs = (end - start).total_seconds() if start and end else None
        rows.append({"revision": h.get("revision"), "version": h.get("version"),
                     "fromVersion": h.get("fromVersion"), "outcome": h.get("outcome"),
                     "reason": h.get("reason"), "message": h.get("message"),
                     "startTime": h.get("startTime"), "endTime": h.get("endTime"),
                     "duration": human_duration(secs), "durationSeconds": secs})
    return rows
