"""The outbox of one policy, in its status: what happened goes in with the decision that made
it happen (one status write), and leaves once its receiver took it. Pure.

At least once, in order: each receiver gets its oldest pending notification first and the next
only after that one was taken; a delivery whose result was lost (the operator died) is sent
again, never more than that one. Failures back off exponentially; the outbox is bounded, the
oldest going first when a receiver stays away too long.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ..api.conditions import now_iso, parse_time
from ..api.notifications import NOTIFY_EVENTS, Notification, NotificationsStatus, Subscription

MAX_PENDING = 100
MAX_BACKOFF = 300.0  # seconds


@dataclass(frozen=True)
class Result:
    id: int
    ok: bool
    error: str | None = None


def backoff(attempts: int) -> float:
    """Seconds before the next try after `attempts` failures: 2, 4, 8, ... up to 5 minutes."""
    return min(2.0 ** attempts, MAX_BACKOFF)


def fold(box: NotificationsStatus | None, results: list[Result], subscriptions: list[Subscription],
         now: datetime) -> tuple[NotificationsStatus, list[tuple[str, str, str]]]:
    """Fold delivery results into the outbox; notifications for receivers no longer
    subscribed are let go. Returns the outbox and the events to post."""
    box = box.model_copy(deep=True) if box else NotificationsStatus()
    events: list[tuple[str, str, str]] = []
    receivers = {s.receiver for s in subscriptions}
    by_id = {r.id: r for r in results}
    pending = []
    for n in box.pending or []:
        r = by_id.get(n.id)
        if n.receiver not in receivers:
            continue
        if r is not None and r.ok:
            box.sent = (box.sent or 0) + 1
            box.last_sent_time = now_iso(now)
            continue
        if r is not None:
            n.attempts += 1
            n.last_error = box.last_error = (r.error or "failed")[:1024]
            n.next_attempt = now_iso(now + timedelta(seconds=backoff(n.attempts)))
            if n.attempts == 1:  # told once per notification, not at every retry
                events.append(("Warning", "NotificationFailed", f"{n.reason} to {n.receiver}: "
                               f"{n.last_error}; retrying with back-off"))
        pending.append(n)
    box.pending = pending or None
    return box, events


def enqueue(box: NotificationsStatus, subscriptions: list[Subscription],
            happened: list[tuple[str, str, str]], now: datetime,
            details: dict[str, dict[str, float]] | None = None
            ) -> tuple[NotificationsStatus, list[tuple[str, str, str]]]:
    """Add a notification per subscribed receiver for each event that happened, in order."""
    pending = list(box.pending or [])
    next_id = box.next_id or 1
    for type_, reason, message in happened:
        for sub in subscriptions:
            if reason not in (sub.events or NOTIFY_EVENTS):
                continue
            pending.append(Notification(
                id=next_id, receiver=sub.receiver, reason=reason,
                type="Warning" if type_ == "Warning" else "Normal", message=message[:4096],
                time=now_iso(now), metrics=(details or {}).get(reason)))
            next_id += 1
    events: list[tuple[str, str, str]] = []
    if len(pending) > MAX_PENDING:
        gone = len(pending) - MAX_PENDING
        pending = pending[gone:]
        box.dropped = (box.dropped or 0) + gone
        events.append(("Warning", "NotificationsDropped", f"{gone} notification(s) given up: "
                       f"more than {MAX_PENDING} were waiting for their receivers"))
    box.pending, box.next_id = pending or None, next_id
    return box, events


def heads(box: NotificationsStatus | None, now: datetime) -> list[Notification]:
    """Each receiver's oldest pending notification, if it may be sent now."""
    first: dict[str, Notification] = {}
    for n in (box.pending if box else None) or []:
        first.setdefault(n.receiver, n)
    return [n for n in first.values()
            if n.next_attempt is None or parse_time(n.next_attempt) <= now]


def next_due(box: NotificationsStatus | None, now: datetime) -> float | None:
    """Seconds until a receiver's oldest notification may be tried again (None: none waits)."""
    first: dict[str, Notification] = {}
    for n in (box.pending if box else None) or []:
        first.setdefault(n.receiver, n)
    waits = [(parse_time(n.next_attempt) - now).total_seconds()
             for n in first.values() if n.next_attempt]
    return max(min(waits), 0.5) if waits else None
