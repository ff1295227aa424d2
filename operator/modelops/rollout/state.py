"""The rollout state machine: (policy, status, observed, measurement, now) -> new status. Pure.

Everything the rollout knows lives in the status it returns: the revision, the step index and
when the step began, analysis counts, a pending manual action, the history. A restarted
operator calls `decide` with the stored status and continues the step at the right moment.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..api.conditions import now_iso, parse_time
from ..api.phases import AnalysisPhase, Outcome, PolicyPhase, VersionPhase
from ..api.updatepolicy import AnalysisStatus, HistoryEntry, UpdatePolicySpec, UpdatePolicyStatus
from ..traffic.base import Backend, Split, Want, want_for
from ..traffic.registry import provider_for
from . import handover, hold, monitor, retrain, routing, verdict
from .observed import Decision, Observed
from .target import Target, pick_target
from .verdict import typed
from .window import parse_duration


def steps(spec: UpdatePolicySpec) -> list[Any]:
    c = spec.strategy.canary if spec.strategy else None
    return list(c.steps) if c else []


class _Machine:
    def __init__(self, spec: UpdatePolicySpec, status: UpdatePolicyStatus, obs: Observed,
                 now: datetime) -> None:
        self.spec, self.obs, self.now = spec, obs, now
        self.provider = provider_for(spec)
        self.st = status.model_copy(deep=True)
        self.events: list[tuple[str, str, str]] = []
        self.requeue: float | None = None
        self.stamp = now_iso(now)
        self.retrying = False  # a hold just ended by `retry`
        self.keep_action = False  # a pending action that waits for its moment
        self.phase_before = status.phase
        self.regression: str | None = None  # set by monitoring this round

    # -- helpers ---------------------------------------------------------------------------
    def split(self) -> Split:
        """The traffic as the provider sees it, for the versions the status names now."""
        stable, canary = self.st.stable_version, self.st.canary_version
        return Split(self.backend(stable), self.backend(canary),
                     self.obs.ready.get(stable or "", 0), self.obs.ready.get(canary or "", 0),
                     self.obs.route, self.obs.shadow_ready, self.obs.sticky, self.now)

    def want(self) -> Want:
        return want_for(self.spec, self.st, self.obs.shadow, self.obs.mirror_written)

    def backend(self, version: str | None) -> Backend | None:
        v = self.obs.versions.get(version or "")
        return Backend(v.version, v.service, v.port) if v else None

    def ready(self, version: str | None) -> int:
        return self.obs.ready.get(version or "", 0)

    @property
    def canary(self) -> str:
        """The version being rolled out; only asked while there is one."""
        assert self.st.canary_version is not None
        return self.st.canary_version

    def event(self, type_: str, reason: str, message: str) -> None:
        self.events.append((type_, reason, message))

    def wake_in(self, seconds: float) -> None:
        seconds = max(seconds, 0.5)
        self.requeue = seconds if self.requeue is None else min(self.requeue, seconds)

    def overdue(self, since: str | None) -> bool:
        """The one progress-deadline rule: whether progressDeadlineSeconds has passed since
        `since` (a step, a hand-over began); while it has not, look again when it will have."""
        waited = (self.now - parse_time(since or self.stamp)).total_seconds()
        left = self.spec.progress_deadline_seconds - waited
        if left >= 0:
            self.wake_in(left + 0.5)
        return left < 0

    def say(self, phase: PolicyPhase | None, message: str) -> None:
        if phase is not None:
            self.st.phase = phase
        self.st.message = message

    def end_rollout(self, outcome: str, reason: str, message: str,
                    phase: PolicyPhase) -> None:
        st = self.st
        canary, previous = self.canary, st.stable_version
        entry = HistoryEntry(revision=st.revision or 0, version=canary,
                             from_version=previous, start_time=st.rollout_start_time,
                             end_time=self.stamp, outcome=outcome,
                             reason=reason, message=message[:4096])
        if outcome == Outcome.PROMOTED:
            st.stable_version = canary
            handover.keep_warm(self, previous)
        else:
            handover.drain_canary(self, canary, self.provider.replicas(
                self.spec.replicas, self.want().load)[1])
        self.history(entry)
        st.canary_version = st.current_step_index = st.step_start_time = None
        st.header_route = st.mirror_percent = None
        st.paused_time = st.pause_reason = None
        st.canary_weight = st.actual_canary_weight = 0
        self.say(phase, message)

    def history(self, entry: HistoryEntry) -> None:
        self.st.history = [entry, *(self.st.history or [])][: self.spec.history_limit]

    def take_action(self, *names: str) -> bool:
        if self.st.pending_action in names:
            self.st.pending_action = None
            return True
        return False

    def next_revision(self) -> int:
        self.st.revision = (self.st.revision or 0) + 1
        return self.st.revision

    # -- the machine -----------------------------------------------------------------------
    def run(self) -> None:
        st = self.st
        handover.settle_outgoing(self)
        handover.settle_incoming(self)
        routing.settle_shadow(self)
        target = pick_target(self.spec, self.obs.versions, self.now,
                             (st.stable_version, st.canary_version))
        rollback_to = hold.take_rollback(st)
        if rollback_to is not None:
            hold.manual_rollback(self, rollback_to, target)
        elif st.hold and hold.held(self, target):
            pass
        elif not st.stable_version:
            self.first_version(target)
        elif st.canary_version:
            if target.version and target.version != st.canary_version and not target.waiting:
                self.end_rollout(Outcome.ABORTED, "TargetChanged",
                                 f"the target moved to {target.version} during the rollout of "
                                 f"{st.canary_version}", PolicyPhase.PROGRESSING)
                self.steady(target)
            elif self.take_action("abort"):
                self.end_rollout(Outcome.ABORTED, "UserAbort", "aborted by the user; all "
                                 f"traffic back on {st.stable_version}", PolicyPhase.DEGRADED)
                self.event("Warning", "Aborted", st.message or "")
            else:
                self.progress()
        else:
            self.steady(target)
        monitor.watch(self, target)
        retrain.step(self, self.regression)
        leftover = None if self.keep_action else st.pending_action
        st.pending_action = st.pending_action if self.keep_action else None
        if leftover:  # an action that fits nothing now is dropped, not kept for later
            self.event("Normal", "ActionIgnored", f"{leftover}: nothing to {leftover} now")
        st.canary_weight = st.canary_weight or 0
        if self.spec.paused and st.canary_version:
            self.wake_in(30)

    def first_version(self, target: Target) -> None:
        st = self.st
        v = self.obs.versions.get(target.version or "")
        if v is None or not v.ready:
            self.say(PolicyPhase.IDLE, f"waiting for version {target.version} to be Ready"
                     if target.version else (target.waiting or "no targetVersion set"))
            return
        # Nothing to compare against: the first version takes all traffic at once.
        st.stable_version, st.canary_weight, st.actual_canary_weight = v.version, 0, 0
        self.say(PolicyPhase.PROMOTED, f"{v.version} is the first version: 100% of traffic")
        self.history(HistoryEntry(
            revision=self.next_revision(), version=v.version, from_version=None,
            start_time=self.stamp, end_time=self.stamp, outcome=Outcome.PROMOTED,
            reason="FirstVersion", message=st.message))
        self.event("Normal", "Promoted", st.message or "")

    def steady(self, target: Target) -> None:
        st = self.st
        stable = st.stable_version
        want = target.version
        if want is None or want == stable:
            # Reaching the target ends a Degraded state (e.g. target set back after an abort).
            if st.phase in (None, PolicyPhase.IDLE, PolicyPhase.PROGRESSING, PolicyPhase.PAUSED,
                            PolicyPhase.DEGRADED):
                self.say(PolicyPhase.PROMOTED, f"{stable} serves all traffic")
            if st.message is None:
                st.message = f"{stable} serves all traffic"
            return
        if target.waiting:
            st.message = f"{want} waits: {target.waiting}"
            return
        v = self.obs.versions.get(want)
        if v is not None and v.phase == VersionPhase.FAILED and not self.in_history(want):
            st.message = (f"version {want} failed (its conditions say why) and will not be "
                          "rolled out until its spec changes")
            if self.take_action("retry"):
                self.event("Normal", "ActionIgnored", f"retry: {st.message}")
            return
        last = st.history[0] if st.history else None
        retry = False  # a `retry` is taken when the rollout really starts, not before
        if self.retrying:  # a hold ended by `retry`: roll the target out afresh, steps and all
            pass
        elif last is not None and last.version == want and last.outcome in (
                Outcome.ROLLED_BACK, Outcome.ABORTED) and last.from_version == stable:
            if st.pending_action != "retry":
                st.message = (f"the rollout of {want} ended {last.outcome} ({last.reason}); "
                              "`retry` rolls it out again")
                return
            retry = True
        if self.in_history(want) and not self.retrying:
            self.take_retry(retry, want)
            self.fast_rollback(want, "TargetRollback", f"targetVersion set back to {want}")
            return
        if v is None or not v.ready:
            state = "missing" if v is None else (v.phase or "not reconciled yet")
            st.message = f"waiting for version {want} to be Ready ({state})"
            self.keep_action = retry  # e.g. Pending for a moment while it scales: keep it
            return
        if not handover.clear_for_canary(self, want):
            self.keep_action = retry
            return
        self.take_retry(retry, want)
        self.start(want)

    def take_retry(self, retry: bool, version: str) -> None:
        if retry and self.take_action("retry"):
            self.event("Normal", "Retry", f"retrying the rollout of {version}")

    def in_history(self, version: str) -> bool:
        """A version that served as stable before: going back to it is a rollback."""
        return any(h.from_version == version
                   or (h.version == version and h.outcome == Outcome.PROMOTED)
                   for h in self.st.history or [])

    def fast_rollback(self, version: str, reason: str, why: str) -> None:
        if self.st.incoming is not None and self.st.incoming.version == version:
            return  # already on its way (handover.settle_incoming)
        handover.rollback_to(self, version, reason, why)

    def start(self, version: str) -> None:
        st = self.st
        revision = self.next_revision()
        st.canary_version, st.current_step_index = version, 0
        st.step_start_time = st.rollout_start_time = self.stamp
        st.canary_weight = st.actual_canary_weight = 0
        st.phase, st.pause_reason = PolicyPhase.PROGRESSING, None
        st.analysis = AnalysisStatus(phase=AnalysisPhase.RUNNING, failures=0, inconclusive=0)
        self.event("Normal", "RolloutStarted",
                   f"revision {revision}: rolling out {version} over "
                   f"{st.stable_version} in {len(steps(self.spec))} step(s)")
        self.progress()

    def progress(self) -> None:
        st, spec = self.st, self.spec
        self.observe_weight()
        if verdict.analyse(self):
            return
        if self.take_action("resume") and st.pause_reason:
            st.pause_reason = None
            verdict.analysis(self).inconclusive = 0
            self.event("Normal", "Resumed", "resumed by the user")
        if spec.paused:
            st.paused_time = st.paused_time or self.stamp
            self.pause("paused: spec.paused is true")
            return
        if st.paused_time:  # time spent under spec.paused does not count
            held = self.now - parse_time(st.paused_time)
            st.paused_time = None
            st.step_start_time = now_iso(parse_time(st.step_start_time or self.stamp) + held)
        if st.pause_reason:
            self.say(PolicyPhase.PAUSED, st.pause_reason)
            return
        self.walk_steps()

    def pause(self, why: str) -> None:
        if self.phase_before != PolicyPhase.PAUSED:  # told once, when the pause begins
            self.event("Normal", "Paused", why)
        self.say(PolicyPhase.PAUSED, why)

    def observe_weight(self) -> None:
        achieved = self.provider.achieved(self.split())
        if achieved is not None:
            self.st.actual_canary_weight = achieved

    def walk_steps(self) -> None:
        st, spec = self.st, self.spec
        plan = steps(spec)
        st.phase = PolicyPhase.PROGRESSING
        if self.take_action("promote-full"):
            st.current_step_index = len(plan)
            self.event("Normal", "PromotedFull", "promote-full: skipping the remaining steps")
        while True:
            i = st.current_step_index or 0
            if i >= len(plan):
                self.finish()
                return
            step = plan[i]
            started = parse_time(st.step_start_time or self.stamp)
            if step.pause is None:
                what = routing.set_route(self, step, f"step {i + 1}/{len(plan)}")
                self.observe_weight()
                reached = self.weight_reached()
                done = reached or self.take_action("promote")
                if reached:
                    self.event("Normal", "StepReached", f"step {i + 1}/{len(plan)}: {what} in "
                               f"effect; canary {self.canary} at {st.actual_canary_weight}% of "
                               "traffic")
                if not done:
                    if self.overdue(st.step_start_time):
                        msg = (f"step {i + 1} could not reach {what} in "
                               f"{spec.progress_deadline_seconds}s (actual "
                               f"{st.actual_canary_weight}%){self.waiting_for()}")
                        self.end_rollout(Outcome.ROLLED_BACK, "ProgressDeadlineExceeded", msg,
                                         PolicyPhase.DEGRADED)
                        self.event("Warning", "ProgressDeadlineExceeded", msg)
                        return
                    st.message = (f"step {i + 1}/{len(plan)}: waiting for {what} "
                                  f"(actual {st.actual_canary_weight}%){self.waiting_for()}")
                    return
            else:
                duration = step.pause.duration if step.pause else None
                if self.take_action("promote"):
                    self.event("Normal", "StepPromoted", f"step {i + 1}/{len(plan)}: pause ended "
                                                     "by promote")
                elif duration is None:
                    self.pause(f"step {i + 1}/{len(plan)}: paused until promoted")
                    return
                else:
                    left = (started + parse_duration(duration) - self.now).total_seconds()
                    if left > 0:
                        st.message = f"step {i + 1}/{len(plan)}: pause, {left:.0f}s left"
                        self.wake_in(left)
                        return
            st.current_step_index, st.step_start_time = i + 1, self.stamp

    def full_size(self) -> bool:
        """The last step before promotion, implied after the user's steps: the canary at full
        size and ready (kwok's pods were ready at once; real ones fetch, load, or never start).
        False while it is not, ended by progressDeadlineSeconds with a rollback."""
        st, spec = self.st, self.spec
        canary = self.canary
        if st.canary_weight != 100:
            st.canary_weight = 100
            self.observe_weight()
        ready = self.ready(canary)
        if ready >= spec.replicas and self.provider.promotable(self.split()):
            return True
        if self.overdue(st.step_start_time):
            msg = (f"{canary} was not ready at full size ({ready}/{spec.replicas}) within "
                   f"{spec.progress_deadline_seconds}s; its ModelVersion's conditions say why")
            self.end_rollout(Outcome.ROLLED_BACK, "ProgressDeadlineExceeded", msg,
                             PolicyPhase.DEGRADED)
            self.event("Warning", "ProgressDeadlineExceeded", msg)
            return False
        self.say(PolicyPhase.PROGRESSING, f"all steps done; waiting for {canary} to be ready at "
                 f"full size ({ready}/{spec.replicas}) before promoting")
        return False

    def weight_reached(self) -> bool:
        return self.provider.reached(self.split(), self.want(), self.spec.replicas)

    def waiting_for(self) -> str:
        why = self.provider.waiting_for(self.split())
        return f"; waiting for {why}" if why else ""

    def finish(self) -> None:
        st = self.st
        an = st.analysis
        clean = an is not None and an.last_measurement_time and an.phase == AnalysisPhase.RUNNING
        if self.spec.analysis and not clean:
            # Never promote on missing data, nor grow the canary past its last step: wait
            # for a clean measurement first.
            st.message = "all steps done; waiting for a successful analysis to promote"
            self.wake_in(1)
            return
        if not self.full_size():
            return
        msg = f"{self.canary} promoted: 100% of traffic"
        self.end_rollout(Outcome.PROMOTED, "StepsCompleted", msg, PolicyPhase.PROMOTED)
        if an is not None:
            an.phase = AnalysisPhase.SUCCESSFUL
        self.event("Normal", "Promoted", msg)


def decide(spec: UpdatePolicySpec, status: UpdatePolicyStatus | dict[str, Any],
           observed: Observed, now: datetime) -> Decision:
    m = _Machine(spec, typed(status), observed, now)
    m.run()
    return Decision(m.st, m.events, m.requeue)
