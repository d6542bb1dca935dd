"""Human-delay credit assignment (Deep TAMER, Warnell et al. 2018, section 3.2).

A feedback given at time ``t`` is about what the performer heard a reaction delay ``δ`` earlier.
The (state, action) pair whose sound played during ``[start, end)`` gets the probability that
``t - δ`` fell in that interval: ``w = F(t - start) - F(t - end)`` with ``F`` the delay's CDF.
The overlap is exact: pairs that tile the window ``[t - δmax, t - δmin]`` get weights summing to 1.
"""

from __future__ import annotations

import numpy as np


class DelayDistribution:
    """A reaction-delay distribution given by a piecewise-linear CDF (seconds)."""

    def __init__(self, knots: np.ndarray, cdf: np.ndarray, name: str) -> None:
        self.knots = np.asarray(knots, dtype=np.float64)
        self.values = np.asarray(cdf, dtype=np.float64)
        self.name = name

    @property
    def support(self) -> tuple[float, float]:
        return float(self.knots[0]), float(self.knots[-1])

    def cdf(self, delay: np.ndarray) -> np.ndarray:
        """P(δ ≤ delay), any shape."""
        return np.interp(delay, self.knots, self.values, left=0.0, right=1.0)


def uniform_delay(low: float = 0.2, high: float = 4.0) -> DelayDistribution:
    """Deep TAMER's delay: uniform on ``[low, high]`` seconds (the paper's 0.2-4 s)."""
    return DelayDistribution(np.array([low, high]), np.array([0.0, 1.0]), f"uniform {low:g}-{high:g} s")


def co_explorer_delay(low: float = 0.2, high: float = 1.2, bins: int = 10, ratio: float = 0.9) -> DelayDistribution:
    """Co-Explorer's credit: ten bins from ``low`` to ``high`` s before the feedback, weights ``ratio**i``.

    Bin ``i = 0`` is the most recent (shortest delay); the density is constant within a bin.
    """
    mass = ratio ** np.arange(bins)
    mass /= mass.sum()
    knots = np.linspace(low, high, bins + 1)
    return DelayDistribution(knots, np.concatenate([[0.0], np.cumsum(mass)]), f"co-explorer {low:g}-{high:g} s")


def credit_weights(t: float, starts: np.ndarray, ends: np.ndarray, delay: DelayDistribution) -> np.ndarray:
    """Weights of pairs heard during ``[starts[i], ends[i])`` for a feedback at time ``t`` (seconds).

    Returns shape ``starts.shape``; each weight is in ``[0, 1]``. Pairs not yet heard at ``t`` are
    cut at ``t`` (feedback cannot be about the future).
    """
    ends = np.minimum(ends, t)
    starts = np.minimum(starts, ends)
    return np.clip(delay.cdf(t - starts) - delay.cdf(t - ends), 0.0, 1.0)


class Trajectory:
    """The recent (state, action) pairs with the times they started, in a fixed-size ring.

    States are encoded network inputs of shape ``(state_size,)``; a pair lasts until the next one starts.
    """

    def __init__(self, state_size: int, capacity: int = 1024) -> None:
        self.capacity = capacity
        self.times = np.zeros(capacity)
        self.states = np.zeros((capacity, state_size), dtype=np.float32)
        self.actions = np.zeros(capacity, dtype=np.int64)
        self.count = 0  # total ever added; ring position is count % capacity

    def add(self, t: float, state: np.ndarray, action: int) -> None:
        i = self.count % self.capacity
        self.times[i] = t
        self.states[i] = state
        self.actions[i] = action
        self.count += 1

    def clear(self) -> None:
        self.count = 0

    def recent(self, limit: int = 256) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The last ``limit`` pairs ``(starts, states, actions)``, oldest first (copied out of the ring).

        256 pairs cover the longest credit window (4 s) down to a 16 ms period.
        """
        n = min(self.count, self.capacity, limit)
        idx = (np.arange(self.count - n, self.count)) % self.capacity
        return self.times[idx], self.states[idx], self.actions[idx]

    def assign(self, t: float, delay: DelayDistribution, min_credit: float,
               end: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Credit a feedback at ``t`` (seconds): ``(states (n, S), actions (n,), weights (n,))`` with weight ≥ min.

        The last pair lasts until ``end`` (default ``t``: it is still sounding).
        """
        starts, states, actions = self.recent()
        if len(starts) == 0:
            return states, actions, np.zeros(0)
        ends = np.append(starts[1:], t if end is None else end)
        w = credit_weights(t, starts, ends, delay)
        keep = w >= min_credit
        return states[keep], actions[keep], w[keep]
