"""What the operator keeps between handler calls: clients, settings, per-object locks.

Nothing here is the truth about an object (that lives in its status); it only saves work.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from .kube import Kube
from .settings import Settings


@dataclass
class State:
    settings: Settings
    kube: Kube
    locks: dict[tuple[str, str], asyncio.Lock] = field(default_factory=dict)
    # The status we last wrote, keyed by uid: newer than the watch cache until its event lands.
    written: dict[str, dict[str, Any]] = field(default_factory=dict)

    def lock(self, namespace: str, name: str) -> asyncio.Lock:
        return self.locks.setdefault((namespace, name), asyncio.Lock())
