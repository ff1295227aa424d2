"""kopf registration for Nodes: the GPUs a cluster has decide whether a version can run."""

from __future__ import annotations

from typing import Any

import kopf

from ..watch import node_event


@kopf.on.event("", "v1", "nodes")
async def node_changed(type: str, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    node_event(memo.state, type, body)
