"""The action space: one step up or down along one active axis, masked at the bounds [0, 1].

Action ``index = 2 * dim + (1 if direction > 0 else 0)``; ``2 * max_dims`` indices in all, so the
reward model keeps one output per (axis, direction) whatever the number of active axes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_EDGE = 1e-9


@dataclass(frozen=True)
class Action:
    """One move of the explorer.

    dim: the axis moved (0-based, among the active ones); direction: +1 or -1;
    position: the new normalised position, shape ``(dims,)``, in ``[0, 1]``.
    """

    dim: int
    direction: int
    position: np.ndarray


def action_index(dim: int, direction: int) -> int:
    return 2 * dim + (1 if direction > 0 else 0)


def index_action(index: int) -> tuple[int, int]:
    """``index -> (dim, direction)``."""
    return index // 2, (1 if index % 2 else -1)


def valid_mask(position: np.ndarray, max_dims: int) -> np.ndarray:
    """Which of the ``2 * max_dims`` actions may be taken from ``position`` (shape ``(dims,)``).

    Axes beyond ``dims`` are inactive; a move away from a bound the position already sits on is masked.
    Plain Python over at most ``max_dims`` coordinates: on the timing thread, each NumPy call costs
    several microseconds when its code has dropped out of the caches since the last action.
    """
    flags = [False] * (2 * max_dims)
    for d, u in enumerate(position.tolist()):
        flags[2 * d] = u > _EDGE
        flags[2 * d + 1] = u < 1.0 - _EDGE
    return np.array(flags)


def apply(position: np.ndarray, index: int, step: float) -> np.ndarray:
    """The position after action ``index``, clipped to ``[0, 1]`` (a new array)."""
    dim, direction = index_action(index)
    out = position.copy()
    out[dim] = min(1.0, max(0.0, out[dim] + direction * step))
    return out
