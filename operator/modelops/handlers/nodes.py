"""kopf registration for Nodes: the GPUs a cluster has decide whether a version can run."""

from __future__ import annotations

from typing import Any

import kopf

from ..api.phases import VersionPhase
from ..indexes import first
from ..state import State
from ..versions.reconcile import enqueue
from .indexes import file


@kopf.on.event("", "v1", "nodes")
async def node_changed(type: str, name: str, body: kopf.Body, memo: kopf.Memo,
                       **_: Any) -> None:
    """Versions refused for want of a fitting node look again when what nodes offer changes.

    Nodes report their status often; only a change of what scheduling needs (GPUs, labels,
    taints) counts, so a heartbeat costs a comparison and nothing else.
    """
    state: State = memo.state
    before = first(state.indexes.mo_nodes, name)
    kept = file(state, "Node", type, body)
    if before == (None if type == "DELETED" else kept["info"]):
        return
    for mv in state.objects()[0]:
        if (mv.get("status") or {}).get("phase") == VersionPhase.FAILED:
            enqueue(state, mv["metadata"]["namespace"], mv["metadata"]["name"])
