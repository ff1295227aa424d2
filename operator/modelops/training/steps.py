"""The effective steps of a training spec: each step's fields fall back to the defaults."""

from __future__ import annotations

from dataclasses import dataclass

from ..api.common import EnvVar
from ..api.modelversion import Training

DEFAULT_STEP = "train"


@dataclass(frozen=True)
class Step:
    name: str
    image: str
    command: list[str]
    args: list[str]
    env: list[EnvVar]
    nodes: int
    gpus_per_node: int

    @property
    def procs_per_node(self) -> int:
        """torchrun's --nproc-per-node: one process per GPU, one when there are none."""
        return max(self.gpus_per_node, 1)

    @property
    def world_size(self) -> int:
        return self.nodes * self.procs_per_node


def effective_steps(t: Training) -> list[Step]:
    if not t.steps:
        return [Step(DEFAULT_STEP, t.image, list(t.command), list(t.args or []),
                     list(t.env or []), t.nodes, t.gpus_per_node)]
    return [
        Step(
            name=s.name,
            image=s.image or t.image,
            command=list(s.command if s.command is not None else t.command),
            args=list(s.args if s.args is not None else (t.args or [])),
            # A step's env adds to (and overrides by name) the training env.
            env=_merge_env(t.env or [], s.env or []),
            nodes=s.nodes if s.nodes is not None else t.nodes,
            gpus_per_node=s.gpus_per_node if s.gpus_per_node is not None else t.gpus_per_node,
        )
        for s in t.steps
    ]


def _merge_env(base: list[EnvVar], extra: list[EnvVar]) -> list[EnvVar]:
    names = {e.name for e in extra}
    return [e for e in base if e.name not in names] + list(extra)
