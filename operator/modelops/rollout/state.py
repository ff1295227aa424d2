"""The rollout state machine: (policy, status, observed, measurement, now) -> new status. Pure.

Everything the rollout knows lives in the status it returns: the revision, the step index and
when the step began, analysis counts, a pending manual action, the history. A restarted
operator calls `decide` with the stored status and continues the step at the right moment.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..analysis.judge import overall
from ..api.conditions import now_iso
from ..api.phases import PolicyPhase, VersionPhase
from ..api.updatepolicy import UpdatePolicySpec
from ..traffic.base import Backend, Split
from ..traffic.registry import provider_for
from . import hold
from .outcomes import ABORTED, PROMOTED, ROLLED_BACK
from .target import Target, VersionInfo, pick_target
from .window import parse_duration


@dataclass
class Observed:
    versions: dict[str, VersionInfo]
    ready: dict[str, int] = field(default_factory=dict)  # ready serving replicas per version
    route: dict[str, Any] | None = None  # the traffic provider's route, as last seen
    measurement: list[dict[str, Any]] | None = None  # one analysis round taken just now


@dataclass
class Decision:
    status: dict[str, Any]
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (type, reason, message)
    requeue_after: float | None = None


def steps(spec: UpdatePolicySpec) -> list[Any]:
    c = spec.strategy.canary if spec.strategy else None
    return list(c.steps) if c else []


def measurement_due(spec: UpdatePolicySpec, status: dict[str, Any], now: datetime) -> bool:
    if not spec.analysis or not status.get("canaryVersion") or spec.paused:
        return False
    last = (status.get("analysis") or {}).get("lastMeasurementTime")
    return last is None or (now - _parse(last)) >= parse_duration(spec.analysis.interval)


class _Machine:
    def __init__(self, spec: UpdatePolicySpec, status: dict[str, Any], obs: Observed,
                 now: datetime) -> None:
        self.spec, self.obs, self.now = spec, obs, now
        self.provider = provider_for(spec)
        self.st = copy.deepcopy(status)
        self.events: list[tuple[str, str, str]] = []
        self.requeue: float | None = None
        self.stamp = now_iso(now)
        self.retrying = False  # a hold just ended by `retry`

    # -- helpers ---------------------------------------------------------------------------
    def event(self, type_: str, reason: str, message: str) -> None:
        self.events.append((type_, reason, message))

    def split(self) -> Split:
        """The traffic as the provider sees it, for the versions the status names now."""
        stable, canary = self.st.get("stableVersion"), self.st.get("canaryVersion")
        return Split(self.backend(stable), self.backend(canary),
                     self.obs.ready.get(stable or "", 0), self.obs.ready.get(canary or "", 0),
                     self.obs.route)

    def backend(self, version: str | None) -> Backend | None:
        v = self.obs.versions.get(version or "")
        return Backend(v.version, v.service, v.port) if v else None

    def wake_in(self, seconds: float) -> None:
        seconds = max(seconds, 0.5)
        self.requeue = seconds if self.requeue is None else min(self.requeue, seconds)

    def end_rollout(self, outcome: str, reason: str, message: str,
                    phase: PolicyPhase) -> None:
        st = self.st
        entry = {"revision": st.get("revision", 0), "version": st["canaryVersion"],
                 "fromVersion": st.get("stableVersion"), "startTime": st.get("rolloutStartTime"),
                 "endTime": self.stamp, "outcome": outcome, "reason": reason,
                 "message": message[:4096]}
        if outcome == PROMOTED:
            st["stableVersion"] = st["canaryVersion"]
        self._history(entry)
        for k in ("canaryVersion", "currentStepIndex", "stepStartTime", "pausedTime",
                  "pauseReason"):
            st.pop(k, None)
        st.update(canaryWeight=0, actualCanaryWeight=0, phase=phase, message=message)

    def _history(self, entry: dict[str, Any]) -> None:
        hist = [entry, *(self.st.get("history") or [])]
        self.st["history"] = hist[: self.spec.history_limit]

    def take_action(self, *names: str) -> bool:
        if self.st.get("pendingAction") in names:
            self.st.pop("pendingAction")
            return True
        return False

    # -- the machine -----------------------------------------------------------------------
    def run(self) -> None:
        target = pick_target(self.spec, self.obs.versions, self.now,
                             (self.st.get("stableVersion"), self.st.get("canaryVersion")))
        st = self.st
        rollback_to = hold.take_rollback(st)
        if rollback_to is not None:
            hold.manual_rollback(self, rollback_to, target)
        elif st.get("hold") and hold.held(self, target):
            pass
        elif not st.get("stableVersion"):
            self.first_version(target)
        elif st.get("canaryVersion"):
            if target.version and target.version != st["canaryVersion"] and not target.waiting:
                self.end_rollout(ABORTED, "TargetChanged",
                                 f"the target moved to {target.version} during the rollout of "
                                 f"{st['canaryVersion']}", PolicyPhase.PROGRESSING)
                self.steady(target)
            elif self.take_action("abort"):
                self.end_rollout(ABORTED, "UserAbort", "aborted by the user; all traffic back on "
                                 f"{st.get('stableVersion')}", PolicyPhase.DEGRADED)
                self.event("Warning", "Aborted", st["message"])
            else:
                self.progress()
        else:
            self.steady(target)
        leftover = st.pop("pendingAction", None)
        if leftover:  # an action that fits nothing now is dropped, not kept for later
            self.event("Normal", "ActionIgnored", f"{leftover}: nothing to {leftover} now")
        st["canaryWeight"] = st.get("canaryWeight") or 0
        if self.spec.paused and st.get("canaryVersion"):
            self.wake_in(30)

    def first_version(self, target: Target) -> None:
        st = self.st
        v = self.obs.versions.get(target.version or "")
        if v is None or not v.ready:
            st.update(phase=PolicyPhase.IDLE,
                      message=f"waiting for version {target.version} to be Ready"
                      if target.version else (target.waiting or "no targetVersion set"))
            return
        # Nothing to compare against: the first version takes all traffic at once.
        st.update(stableVersion=v.version, canaryWeight=0, actualCanaryWeight=0,
                  revision=int(st.get("revision") or 0) + 1, phase=PolicyPhase.PROMOTED,
                  message=f"{v.version} is the first version: 100% of traffic")
        self._history({"revision": st["revision"], "version": v.version, "fromVersion": None,
                       "startTime": self.stamp, "endTime": self.stamp, "outcome": PROMOTED,
                       "reason": "FirstVersion", "message": st["message"]})
        self.event("Normal", "Promoted", st["message"])

    def steady(self, target: Target) -> None:
        st = self.st
        stable = st["stableVersion"]
        want = target.version
        if want is None or want == stable:
            # Reaching the target ends a Degraded state (e.g. target set back after an abort).
            if st.get("phase") in (None, PolicyPhase.IDLE, PolicyPhase.PROGRESSING,
                                   PolicyPhase.PAUSED, PolicyPhase.DEGRADED):
                st.update(phase=PolicyPhase.PROMOTED, message=f"{stable} serves all traffic")
            st.setdefault("message", f"{stable} serves all traffic")
            return
        if target.waiting:
            st["message"] = f"{want} waits: {target.waiting}"
            return
        last = (st.get("history") or [{}])[0]
        if self.retrying:  # a hold ended by `retry`: roll the target out afresh, steps and all
            pass
        elif last.get("version") == want and last.get("outcome") in (ROLLED_BACK, ABORTED) \
                and last.get("fromVersion") == stable:
            if self.take_action("retry"):
                self.event("Normal", "Retry", f"retrying the rollout of {want}")
            else:
                st["message"] = (f"the rollout of {want} ended {last['outcome']} "
                                 f"({last.get('reason')}); `retry` rolls it out again")
                return
        v = self.obs.versions.get(want)
        if self.in_history(want) and not self.retrying:
            self.fast_rollback(want, "TargetRollback", f"targetVersion set back to {want}")
            return
        if v is None or not v.ready:
            state = "missing" if v is None else (v.phase or "not reconciled yet")
            st["message"] = f"waiting for version {want} to be Ready ({state})"
            if v is not None and v.phase == VersionPhase.FAILED:
                st["message"] = (f"version {want} failed (its Valid, Trained or Evaluated "
                                 "condition says why) and will not be rolled out")
            return
        self.start(want)

    def in_history(self, version: str) -> bool:
        """A version that served as stable before: going back to it is a rollback."""
        return any(h.get("fromVersion") == version or (h.get("version") == version and h.get(
            "outcome") == PROMOTED) for h in self.st.get("history") or [])

    def fast_rollback(self, version: str, reason: str, why: str) -> None:
        st = self.st
        old = st["stableVersion"]
        st.update(revision=int(st.get("revision") or 0) + 1, stableVersion=version,
                  canaryWeight=0, actualCanaryWeight=0, phase=PolicyPhase.ROLLED_BACK,
                  message=f"rolled back to {version}: 100% of traffic at once, steps and "
                          "analysis skipped")
        self._history({"revision": st["revision"], "version": version, "fromVersion": old,
                       "startTime": self.stamp, "endTime": self.stamp, "outcome": ROLLED_BACK,
                       "reason": reason, "message": st["message"]})
        self.event("Normal", "RolledBack", f"{why} (was {old}); all traffic moved at once")

    def start(self, version: str) -> None:
        st = self.st
        st.update(revision=int(st.get("revision") or 0) + 1, canaryVersion=version,
                  currentStepIndex=0, stepStartTime=self.stamp, rolloutStartTime=self.stamp,
                  canaryWeight=0, actualCanaryWeight=0, phase=PolicyPhase.PROGRESSING,
                  analysis={"phase": "Running", "failures": 0, "inconclusive": 0})
        st.pop("pauseReason", None)
        self.event("Normal", "RolloutStarted",
                   f"revision {st['revision']}: rolling out {version} over "
                   f"{st['stableVersion']} in {len(steps(self.spec))} step(s)")
        self.progress()

    def progress(self) -> None:
        st, spec = self.st, self.spec
        self.observe_weight()
        if self.analyse():
            return
        if self.take_action("resume") and st.get("pauseReason"):
            st.pop("pauseReason")
            st.setdefault("analysis", {})["inconclusive"] = 0
            self.event("Normal", "Resumed", "resumed by the user")
        if spec.paused:
            st.setdefault("pausedTime", self.stamp)
            st.update(phase=PolicyPhase.PAUSED, message="paused: spec.paused is true")
            return
        if st.get("pausedTime"):  # time spent under spec.paused does not count
            held = self.now - _parse(st.pop("pausedTime"))
            st["stepStartTime"] = now_iso(_parse(st["stepStartTime"]) + held)
        if st.get("pauseReason"):
            st.update(phase=PolicyPhase.PAUSED, message=st["pauseReason"])
            return
        self.walk_steps()

    def observe_weight(self) -> None:
        self.st["actualCanaryWeight"] = self.provider.achieved(self.split())

    def analyse(self) -> bool:
        """Fold in a new measurement; True when it ended the rollout."""
        st, a = self.st, self.spec.analysis
        m = self.obs.measurement
        if a is None:
            return False
        an = st.setdefault("analysis", {"phase": "Running", "failures": 0, "inconclusive": 0})
        if m is not None:
            phases = [r["phase"] for r in m]
            verdict = overall(phases)
            an.update(lastMeasurementTime=self.stamp, metrics=m)
            if verdict == "Failed":
                an["failures"] = int(an.get("failures") or 0) + 1
            if verdict == "Inconclusive":
                # No data before the canary has a ready pod is the canary starting (fetching,
                # loading), not a gap in the metrics: it does not count toward the limit.
                if self.obs.ready.get(st.get("canaryVersion") or "", 0) > 0:
                    an["inconclusive"] = int(an.get("inconclusive") or 0) + 1
            else:
                an["inconclusive"] = 0  # consecutive gaps matter, not old ones
                if st.get("pauseReason", "").startswith("analysis inconclusive"):
                    st.pop("pauseReason")
                    self.event("Normal", "Resumed", "analysis has data again; resuming")
            an["phase"] = "Running" if verdict == "Successful" else verdict
            if verdict == "Failed":
                self.event("Warning", "AnalysisFailed", _values(m) + f" (failure "
                           f"{an['failures']} of {a.failure_limit} tolerated)")
        if int(an.get("failures") or 0) > a.failure_limit:
            msg = f"analysis failed {an['failures']} time(s) (> failureLimit " \
                  f"{a.failure_limit}): {_values(an.get('metrics') or [])}"
            an["phase"] = "Failed"
            if self.spec.rollback is None or self.spec.rollback.automatic:
                self.end_rollout(ROLLED_BACK, "AnalysisFailed", msg, PolicyPhase.ROLLED_BACK)
                self.event("Warning", "RolledBack", f"{msg}; all traffic back on "
                                                    f"{st['stableVersion']}")
                return True
            st.update(phase=PolicyPhase.DEGRADED, message=msg + "; automatic rollback is off")
            return True
        if int(an.get("inconclusive") or 0) > a.inconclusive_limit and not st.get("pauseReason"):
            st["pauseReason"] = (f"analysis inconclusive {an['inconclusive']} time(s) in a row "
                                 f"(> inconclusiveLimit {a.inconclusive_limit}): "
                                 f"{_values(an.get('metrics') or [])}; resumes when data returns")
            self.event("Warning", "Paused", st["pauseReason"])
        self.wake_in(parse_duration(a.interval).total_seconds())
        return False

    def walk_steps(self) -> None:
        st, spec = self.st, self.spec
        plan = steps(spec)
        st["phase"] = PolicyPhase.PROGRESSING
        if self.take_action("promote-full"):
            st["currentStepIndex"] = len(plan)
            self.event("Normal", "PromotedFull", "promote-full: skipping the remaining steps")
        while True:
            i = int(st.get("currentStepIndex") or 0)
            if i >= len(plan):
                self.finish()
                return
            step = plan[i]
            started = _parse(st["stepStartTime"])
            if step.set_weight is not None:
                if st.get("canaryWeight") != step.set_weight:
                    st["canaryWeight"] = step.set_weight
                    self.event("Normal", "WeightSet",
                               f"step {i + 1}/{len(plan)}: canary {st['canaryVersion']} at "
                               f"{step.set_weight}%")
                    self.observe_weight()
                done = self.weight_reached(step.set_weight) or self.take_action("promote")
                if not done:
                    waited = (self.now - started).total_seconds()
                    if waited > spec.progress_deadline_seconds:
                        msg = (f"step {i + 1} could not reach {step.set_weight}% in "
                               f"{spec.progress_deadline_seconds}s (actual "
                               f"{st.get('actualCanaryWeight')}%)")
                        self.end_rollout(ROLLED_BACK, "ProgressDeadlineExceeded", msg,
                                         PolicyPhase.DEGRADED)
                        self.event("Warning", "ProgressDeadlineExceeded", msg)
                        return
                    st["message"] = (f"step {i + 1}/{len(plan)}: waiting for {step.set_weight}% "
                                     f"(actual {st.get('actualCanaryWeight')}%)")
                    self.wake_in(spec.progress_deadline_seconds - waited + 0.5)
                    return
            else:
                duration = step.pause.duration if step.pause else None
                if self.take_action("promote"):
                    self.event("Normal", "StepPromoted", f"step {i + 1}/{len(plan)}: pause ended "
                                                     "by promote")
                elif duration is None:
                    st.update(phase=PolicyPhase.PAUSED,
                              message=f"step {i + 1}/{len(plan)}: paused until promoted")
                    return
                else:
                    left = (started + parse_duration(duration) - self.now).total_seconds()
                    if left > 0:
                        st["message"] = f"step {i + 1}/{len(plan)}: pause, {left:.0f}s left"
                        self.wake_in(left)
                        return
            st.update(currentStepIndex=i + 1, stepStartTime=self.stamp)

    def full_size(self) -> bool:
        """The last step before promotion, implied after the user's steps: the canary at full
        size and ready (kwok's pods were ready at once; real ones fetch, load, or never start).
        False while it is not, ended by progressDeadlineSeconds with a rollback."""
        st, spec = self.st, self.spec
        canary = st["canaryVersion"]
        if st.get("canaryWeight") != 100:
            st["canaryWeight"] = 100
            self.observe_weight()
        ready = self.obs.ready.get(canary, 0)
        if ready >= spec.replicas and self.provider.promotable(self.split()):
            return True
        waited = (self.now - _parse(st["stepStartTime"])).total_seconds()
        if waited > spec.progress_deadline_seconds:
            msg = (f"{canary} was not ready at full size ({ready}/{spec.replicas}) within "
                   f"{spec.progress_deadline_seconds}s; its ModelVersion's conditions say why")
            self.end_rollout(ROLLED_BACK, "ProgressDeadlineExceeded", msg, PolicyPhase.DEGRADED)
            self.event("Warning", "ProgressDeadlineExceeded", msg)
            return False
        st.update(phase=PolicyPhase.PROGRESSING,
                  message=f"all steps done; waiting for {canary} to be ready at full size "
                  f"({ready}/{spec.replicas}) before promoting")
        self.wake_in(spec.progress_deadline_seconds - waited + 0.5)
        return False

    def weight_reached(self, weight: int) -> bool:
        return self.provider.reached(self.split(), weight, self.spec.replicas)

    def finish(self) -> None:
        st = self.st
        an = st.get("analysis") or {}
        clean = an.get("lastMeasurementTime") and an.get("phase") == "Running"
        if self.spec.analysis and not clean:
            # Never promote on missing data, nor grow the canary past its last step: wait
            # for a clean measurement first.
            st["message"] = "all steps done; waiting for a successful analysis to promote"
            self.wake_in(1)
            return
        if not self.full_size():
            return
        canary = st["canaryVersion"]
        msg = f"{canary} promoted: 100% of traffic"
        self.end_rollout(PROMOTED, "StepsCompleted", msg, PolicyPhase.PROMOTED)
        if an:
            st["analysis"] = {**an, "phase": "Successful"}
        self.event("Normal", "Promoted", msg)


def _values(metrics: list[dict[str, Any]]) -> str:
    parts = []
    for r in metrics:
        v = r.get("value")
        shown = "no data" if v is None else f"{v:g}"
        parts.append(f"{r['name']}={shown} ({r['phase']})")
    return ", ".join(parts) or "no metrics"


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def decide(spec: UpdatePolicySpec, status: dict[str, Any], observed: Observed,
           now: datetime) -> Decision:
    m = _Machine(spec, status, observed, now)
    m.run()
    return Decision(m.st, m.events, m.requeue)
