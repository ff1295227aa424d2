from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from modelops.rollout.window import in_window, parse_cron, parse_duration


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("5m", 300), ("1h30m", 5400),
                                               ("250ms", 0.25), ("1.5h", 5400)])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(("now", "open_"), [
    (datetime(2026, 1, 5, 2, 0, tzinfo=UTC), True),
    (datetime(2026, 1, 5, 5, 59, tzinfo=UTC), True),
    (datetime(2026, 1, 5, 6, 0, tzinfo=UTC), False),
    (datetime(2026, 1, 5, 1, 59, tzinfo=UTC), False),
])
def test_daily_window(now: datetime, open_: bool) -> None:
    assert in_window("0 2 * * *", "4h", now) is open_


def test_weekday_and_steps() -> None:
    monday = datetime(2026, 1, 5, 10, 15, tzinfo=UTC)  # a Monday
    assert in_window("*/15 9-17 * * 1-5", "10m", monday)
    assert not in_window("*/15 9-17 * * 0,6", "10m", monday)


@pytest.mark.parametrize("bad", ["* * * *", "61 * * * *", "a * * * *", "5-1 * * * *"])
def test_bad_cron(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_cron(bad)
