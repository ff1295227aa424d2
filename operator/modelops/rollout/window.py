"""Maintenance windows: a 5-field cron schedule (UTC) and a duration. Pure.

Cron as crontab(5) has it: numbers, `*`, ranges, lists, steps, month and weekday names, and
weekday 7 for Sunday."""

from __future__ import annotations

from datetime import datetime, timedelta

_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]  # minute hour dom month dow (7 = 0)


def parse_duration(text: str) -> timedelta:
    """`30s`, `5m`, `1h30m`, `250ms` -> timedelta (the CRD's pattern already checked it)."""
    total, num = 0.0, ""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isdigit() or ch == ".":
            num += ch
            i += 1
            continue
        unit = "ms" if text[i:i + 2] == "ms" else ch
        total += float(num) * units[unit]
        num = ""
        i += len(unit)
    return timedelta(seconds=total)


_NAMES = [{}, {}, {}, {m: i + 1 for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])},
    {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}]


def _field(spec: str, lo: int, hi: int, names: dict[str, int]) -> set[int]:
    out: set[int] = set()
    for part in spec.split(","):
        step = 1
        if "/" in part:
            part, s = part.split("/", 1)
            step = _int(s, spec, {})
        if part == "*":
            a, b = lo, hi
        elif "-" in part:
            a, b = (_int(x, spec, names) for x in part.split("-", 1))
        else:
            a = b = _int(part, spec, names)
        if a < lo or b > hi or a > b or step < 1:
            raise ValueError(f"{spec!r} is out of range {lo}-{hi}")
        out.update(range(a, b + 1, step))
    return out


def _int(text: str, spec: str, names: dict[str, int]) -> int:
    if text.lower() in names:
        return names[text.lower()]
    if not text.isdigit():
        raise ValueError(f"{spec!r}: {text!r} is not a number, `*`, a range or a step")
    return int(text)


def parse_cron(expr: str) -> list[set[int]]:
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"{expr!r} is not a 5-field cron expression (minute hour day month "
                         "weekday)")
    parsed = [_field(f, lo, hi, names)
              for f, (lo, hi), names in zip(fields, _RANGES, _NAMES, strict=True)]
    if 7 in parsed[4]:
        parsed[4].add(0)
    return parsed


def _matches(cron: list[set[int]], t: datetime) -> bool:
    return (t.minute in cron[0] and t.hour in cron[1] and t.day in cron[2]
            and t.month in cron[3] and (t.weekday() + 1) % 7 in cron[4])


def in_window(schedule: str, duration: str, now: datetime) -> bool:
    """Whether a window that opened at a schedule time is still open at `now`."""
    cron = parse_cron(schedule)
    length = parse_duration(duration)
    t = now.replace(second=0, microsecond=0)
    earliest = now - length
    while t > earliest:
        if _matches(cron, t):
            return True
        t -= timedelta(minutes=1)
    return False


EVERY = "@every "


def check_schedule(expr: str) -> None:
    """A cron expression, or `@every DURATION` (as robfig/cron has it); ValueError if not."""
    if expr.startswith(EVERY):
        try:
            seconds = parse_duration(expr[len(EVERY):].strip()).total_seconds()
        except (KeyError, ValueError):
            seconds = 0
        if seconds < 1:
            raise ValueError(f"{expr!r}: @every needs a duration of at least 1s, e.g. @every 6h")
        return
    parse_cron(expr)


def next_firing(schedule: str, after: datetime, limit_days: int = 400) -> datetime | None:
    """The first time strictly after `after` that `schedule` names (None: none within
    `limit_days`): `@every D` is `after + D`; for cron, whole months, days and hours that
    cannot match are skipped at once."""
    if schedule.startswith(EVERY):
        return after + parse_duration(schedule[len(EVERY):].strip())
    cron = parse_cron(schedule)
    t = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    end = after + timedelta(days=limit_days)
    while t <= end:
        if t.month not in cron[3]:
            t = (t.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
        elif t.day not in cron[2] or (t.weekday() + 1) % 7 not in cron[4]:
            t = t.replace(hour=0, minute=0) + timedelta(days=1)
        elif t.hour not in cron[1]:
            t = t.replace(minute=0) + timedelta(hours=1)
        elif t.minute not in cron[0]:
            t += timedelta(minutes=1)
        else:
            return t
    return None
