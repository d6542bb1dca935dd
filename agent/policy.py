"""The decision of the timing loop: one compiled call from the position to the next move.

Given the reward model's NumPy twin (:class:`~aego.agent.reward_model.Twin`) and the curiosity's visit
counts (:class:`~aego.agent.curiosity.NoveltyCounter`), :func:`decide` masks the moves past a bound,
and either draws an allowed move (ε-greedy exploration) or takes the allowed move with the largest

    N(where it leads) + β · novelty bonus of the way it leads + persistence (if it repeats the last move)

with ties broken by one uniform draw. No torch, no locks, nothing that waits for the learner
(:mod:`aego.agent.kernels`).
"""

from __future__ import annotations

import numpy as np
from aego.agent import kernels
from aego.agent.curiosity import CountTable
from aego.agent.reward_model import Twin


def decide(twin: Twin, position: np.ndarray, step: float, space_slot: int, counts: CountTable,
           novelty: np.ndarray, beta: float, persistence: float, last: int, explore: bool, u: float,
           look: float | None = None, tie: float = 1e-9) -> int:
    """The index of the move to take from ``position`` ``(dims,)`` (normalised coordinates, step in the same).

    counts, novelty: the context's visit counts, and the counter's ``params`` followed by (lookahead, cap);
    beta: the bonus scale (0: no bonus, the counts are not read); last: the previous move (-1: none);
    explore: draw uniformly among the allowed moves; u: a uniform draw in [0, 1) for that draw or the ties;
    look: how far along each move N is evaluated (default ``step``; a gesture looks its whole length).
    """
    return kernels.decide(position, step, step if look is None else look, space_slot, twin.flat, twin.layout,
                          twin.enc, counts.keys, counts.counts, novelty, beta, persistence, last, explore, u, tie)
