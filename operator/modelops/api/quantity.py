"""Kubernetes resource quantities (the subset users write: 500m, 2, 1.5, 8Gi, 1e3)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_SUFFIX: dict[str, Decimal | int] = {
    "": 1, "m": Decimal("0.001"), "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15,
    "E": 10**18, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}
_RE = re.compile(r"^(?P<num>[+]?(\d+(\.\d*)?|\.\d+))(?P<suf>Ki|Mi|Gi|Ti|Pi|Ei|[mkMGTPE]|"
                 r"[eE][+-]?\d+)?$")


def parse_quantity(value: str | int) -> Decimal:
    """The quantity's value; ValueError with a readable message when it is not one."""
    text = str(value).strip()
    m = _RE.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a Kubernetes quantity (examples: 500m, 2, 8Gi)")
    suffix = m.group("suf") or ""
    try:
        num = Decimal(m.group("num"))
        if suffix[:1] in ("e", "E"):
            return num * (Decimal(10) ** int(suffix[1:]))
        return num * _SUFFIX[suffix]
    except (InvalidOperation, KeyError) as e:
        raise ValueError(f"{text!r} is not a Kubernetes quantity") from e
