"""The notification outbox in status, payloads and the URL rule: at least once, in order per
receiver, backing off, bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from modelops.api.notifications import NOTIFY_EVENTS, Subscription
from modelops.egress import url_allowed
from modelops.notify import outbox
from modelops.notify.outbox import Result
from modelops.notify.payload import payload

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ALL = [Subscription(receiver="team")]
EVENTS = [("Normal", "RolloutStarted", "rolling out 2"), ("Normal", "WeightSet", "25%"),
          ("Warning", "RolledBack", "error-rate=0.4")]


def test_each_subscribed_event_is_queued_in_order_with_increasing_ids() -> None:
    subs = [*ALL, Subscription(receiver="pager", events=["RolledBack"])]
    box, events = outbox.enqueue(outbox.fold(None, [], subs, T0)[0], subs, EVENTS, T0,
                                 {"RolledBack": {"error-rate": 0.4}})
    assert events == []
    got = [(n.id, n.receiver, n.reason) for n in box.pending or []]
    assert got == [(1, "team", "RolloutStarted"), (2, "team", "RolledBack"),
                   (3, "pager", "RolledBack")]  # WeightSet is not a notification
    assert box.next_id == 4 and (box.pending or [])[1].metrics == {"error-rate": 0.4}
    # Only the oldest of each receiver goes out, one at a time.
    assert [(n.id, n.receiver) for n in outbox.heads(box, T0)] == [(1, "team"), (3, "pager")]


def test_a_delivered_one_leaves_a_failed_one_backs_off_and_is_told_once() -> None:
    box, _ = outbox.enqueue(outbox.fold(None, [], ALL, T0)[0], ALL, EVENTS, T0)
    box, events = outbox.fold(box, [Result(1, False, "connection refused")], ALL, T0)
    assert [e[1] for e in events] == ["NotificationFailed"]
    head = (box.pending or [])[0]
    assert (head.id, head.attempts, head.last_error) == (1, 1, "connection refused")
    assert outbox.heads(box, T0) == []  # backing off
    assert outbox.next_due(box, T0) == 2.0
    box, events = outbox.fold(box, [Result(1, False, "refused again")], ALL, T0)
    assert events == [] and (box.pending or [])[0].attempts == 2
    assert outbox.next_due(box, T0) == 4.0
    later = T0 + timedelta(seconds=4)
    assert [n.id for n in outbox.heads(box, later)] == [1]  # still the first: order holds
    box, _ = outbox.fold(box, [Result(1, True)], ALL, later)
    assert [n.id for n in box.pending or []] == [2] and box.sent == 1
    assert box.last_sent_time == "2026-12-01T12:00:04Z"


def test_backoff_is_capped() -> None:
    assert [outbox.backoff(a) for a in (1, 2, 3)] == [2, 4, 8]
    assert outbox.backoff(30) == outbox.MAX_BACKOFF


def test_the_outbox_is_bounded_oldest_first() -> None:
    many = [("Normal", "StepReached", f"step {i}") for i in range(outbox.MAX_PENDING + 5)]
    box, events = outbox.enqueue(outbox.fold(None, [], ALL, T0)[0], ALL, many, T0)
    assert len(box.pending or []) == outbox.MAX_PENDING and box.dropped == 5
    assert (box.pending or [])[0].message == "step 5"
    assert [e[1] for e in events] == ["NotificationsDropped"]


def test_an_unsubscribed_receiver_s_notifications_are_let_go() -> None:
    box, _ = outbox.enqueue(outbox.fold(None, [], ALL, T0)[0], ALL, EVENTS, T0)
    box, _ = outbox.fold(box, [], [], T0)
    assert box.pending is None


def test_payloads() -> None:
    box, _ = outbox.enqueue(outbox.fold(None, [], ALL, T0)[0], ALL, EVENTS[2:], T0,
                            {"RolledBack": {"error-rate": 0.4}})
    note = (box.pending or [])[0]
    ctx = {"namespace": "ns", "policy": "iris", "model": "iris", "stableVersion": "1",
           "canaryVersion": None}
    doc = payload(note, ctx, "json")
    assert doc["reason"] == "RolledBack" and doc["metrics"] == {"error-rate": 0.4}
    assert doc["model"] == "iris" and doc["id"] == 1 and doc["time"] == "2026-12-01T12:00:00Z"
    slack = payload(note, ctx, "slack")
    assert slack["text"].startswith(":red_circle: *ns/iris* RolledBack: error-rate=0.4")
    assert "error-rate=0.4" in slack["text"].split("\n")[1]


def test_every_notify_event_is_one_the_operator_posts() -> None:
    import pathlib
    import re
    src = "".join(p.read_text() for p in pathlib.Path("operator/modelops/rollout").glob("*.py"))
    posted = set(re.findall(r'event\("(?:Normal|Warning)", "([A-Za-z]+)"', src))
    assert set(NOTIFY_EVENTS) <= posted, set(NOTIFY_EVENTS) - posted


def test_webhook_urls() -> None:
    assert url_allowed("https://hooks.slack.com/services/x", [])
    assert url_allowed("http://127.0.0.1:9000/hook", [])
    assert not url_allowed("http://169.254.169.254/latest", [])
    assert not url_allowed("file:///etc/passwd", [])
    assert url_allowed("https://hooks.example.com/a", ["https://hooks.example.com/"])
    assert not url_allowed("https://evil.example.com/a", ["https://hooks.example.com/"])
