"""The explorer: a Deep TAMER agent with curiosity that walks a sound space and learns from the performer.

``make_explorer(kind, config, seed)`` builds one (``"deep-tamer"`` or ``"random"``); see docs/agent.md.
Torch is imported only when a Deep TAMER explorer is made.
"""

from __future__ import annotations

from aego.agent.actions import Action
from aego.agent.config import AgentConfig
from aego.agent.explorer import Explorer
from aego.agent.pacer import Pacer
from aego.agent.simulated_performer import PerformerConfig, SimulatedPerformer

KINDS = ("deep-tamer", "random")


def make_explorer(kind: str = "deep-tamer", config: AgentConfig | None = None, seed: int = 0) -> Explorer:
    """A new explorer of ``kind`` (``"deep-tamer"`` | ``"random"``) with ``config`` (defaults if None)."""
    if kind == "deep-tamer":
        from aego.agent.tamer import DeepTamer

        return DeepTamer(config, seed)
    if kind == "random":
        from aego.agent.random_walk import RandomWalk

        return RandomWalk(config, seed)
    raise ValueError(f"unknown explorer '{kind}' (use one of: {', '.join(KINDS)})")


__all__ = ["KINDS", "Action", "AgentConfig", "Explorer", "Pacer", "PerformerConfig", "SimulatedPerformer",
           "make_explorer"]
