"""Retry back-off for failed reconciles, and index snapshots that survive changes."""

from __future__ import annotations

from modelops.indexes import values
from modelops.versions.reconcile import retry_delay


def test_retry_delay_doubles_up_to_a_minute() -> None:
    assert [retry_delay(n) for n in (1, 2, 3, 4, 7, 8, 50)] == [1, 2, 4, 8, 60, 60, 60]


def test_values_is_a_copy_that_survives_changes_to_the_index() -> None:
    index: dict[tuple[str, str], list[str]] = {("ns", "m"): ["a", "b"]}
    seen = []
    for v in values(index, ("ns", "m")):
        index[("ns", "other")] = ["c"]  # what a watch event does while a handler awaits
        index[("ns", "m")].append("x")
        seen.append(v)
    assert seen == ["a", "b"]
    assert values(index, ("ns", "missing")) == []
