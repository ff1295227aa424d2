from __future__ import annotations

from datetime import UTC, datetime, timedelta

from modelops.api.conditions import get_condition, is_true, set_condition

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_transition_time_kept_while_status_unchanged() -> None:
    c = set_condition(None, "Ready", False, "Progressing", "0/1", 1, T0)
    c = set_condition(c, "Ready", False, "Progressing", "0/2", 2, T0 + timedelta(minutes=1))
    ready = get_condition(c, "Ready")
    assert ready is not None
    assert ready["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert ready["message"] == "0/2" and ready["observedGeneration"] == 2


def test_transition_time_moves_when_status_flips() -> None:
    c = set_condition(None, "Ready", False, "Progressing", "", 1, T0)
    c = set_condition(c, "Ready", True, "Ready", "", 1, T0 + timedelta(minutes=1))
    assert get_condition(c, "Ready")["lastTransitionTime"] == "2026-01-01T00:01:00Z"  # type: ignore[index]
    assert is_true(c, "Ready")


def test_other_conditions_keep_their_order() -> None:
    c = set_condition(None, "Valid", True, "Validated", "", 1, T0)
    c = set_condition(c, "Ready", True, "Ready", "", 1, T0)
    c = set_condition(c, "Valid", False, "InvalidSpec", "x", 1, T0)
    assert [x["type"] for x in c] == ["Valid", "Ready"]
    assert not is_true(c, "Valid")
