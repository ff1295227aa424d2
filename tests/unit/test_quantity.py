from __future__ import annotations

from decimal import Decimal

import pytest

from modelops.api.quantity import parse_quantity


@pytest.mark.parametrize(("text", "value"), [
    ("2", Decimal(2)), ("500m", Decimal("0.5")), ("0.5", Decimal("0.5")), ("8Gi", 8 * 2**30),
    ("1k", 1000), ("1e3", 1000), (4, 4), ("1.5G", Decimal("1.5e9")),
])
def test_parses(text: str, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "abc", "8GB", "-1", "1..2", "Gi"])
def test_rejects_with_a_readable_message(text: str) -> None:
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        parse_quantity(text)
