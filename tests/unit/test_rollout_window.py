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


def test_sunday_is_0_or_7_as_in_cron() -> None:
    sunday = datetime(2026, 1, 4, 3, 0, tzinfo=UTC)
    assert in_window("0 3 * * 7", "1m", sunday)
    assert in_window("0 3 * * 0", "1m", sunday)
    assert in_window("0 3 * * 5-7", "1m", sunday)
    assert not in_window("0 3 * * 7", "1m", sunday.replace(day=5))
    assert in_window("0 3 * jan sun", "1m", sunday)
    assert in_window("0 3 * * Mon-Fri", "1m", sunday.replace(day=5))


@pytest.mark.parametrize("bad", ["* * * *", "61 * * * *", "a * * * *", "5-1 * * * *",
                                 "* * * * 8", "*/0 * * * *", "1-x * * * *", "* * * * mun"])
def test_bad_cron(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_cron(bad)
