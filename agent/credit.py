"""Human-delay credit assignment (Deep TAMER, Warnell et al. 2018, section 3.2).

A feedback given at time ``t`` is about what the performer heard a reaction delay ``δ`` earlier.
The (state, action) pair whose sound played during ``[start, end)`` gets the probability that
``t - δ`` fell in that interval: ``w = F(t - start) - F(t - end)`` with ``F`` the delay's CDF.
The overlap is exact: pairs that tile the window ``[t - δmax, t - δmin]`` get weights summing to 1.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

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
    """The recent (state, action) pairs with the times they started, in a bounded ring.

    A pair is kept raw, as the positions where the move started (``before``) and where it led
    (``after``), both ``(dims,)``, with the space ``slot``; turning them into arrays and network inputs is
    the learner's job, off the timing thread (adding a pair is one append). Positions are never changed
    in place by the explorer, so keeping references is safe. A pair lasts until the next one starts.
    Thread-safe: the actor adds, the learner reads, under one short lock.
    """

    def __init__(self, max_dims: int, capacity: int = 1024) -> None:
        self.max_dims = max_dims
        self.capacity = capacity
        self._items: deque[tuple[float, np.ndarray, np.ndarray, int]] = deque(maxlen=capacity)
        self.count = 0  # total ever added
        self._lock = threading.Lock()

    def add(self, t: float, before: np.ndarray, after: np.ndarray, slot: int) -> None:
        """A move from ``before`` to ``after`` (both ``(dims,)``) started at ``t`` (seconds)."""
        with self._lock:
            self._items.append((t, before, after, slot))
            self.count += 1

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.count = 0

    def recent(self, limit: int = 256) -> Pairs:
        """The last ``limit`` pairs, oldest first, as arrays (positions zero-padded to ``max_dims``).

        256 pairs cover the longest credit window (4 s) down to a 16 ms period.
        """
        with self._lock:
            items = list(self._items)[-limit:]
        n = len(items)
        starts = np.array([it[0] for it in items], dtype=np.float64)
        before = np.zeros((n, self.max_dims))
        after = np.zeros((n, self.max_dims))
        dims = np.zeros(n, dtype=np.int64)
        slots = np.array([it[3] for it in items], dtype=np.int64)
        for i, (_, b, a, _) in enumerate(items):
            dims[i] = len(a)
            before[i, : len(b)] = b
            after[i, : len(a)] = a
        return Pairs(starts, before, after, dims, slots)

    def assign(self, t: float, delay: DelayDistribution, min_credit: float,
               end: float | None = None) -> tuple[Pairs, np.ndarray]:
        """Credit a feedback at ``t`` (seconds): the pairs with weight ≥ ``min_credit`` and their weights.

        The last pair lasts until ``end`` (default ``t``: it is still sounding).
        """
        pairs = self.recent()
        if len(pairs) == 0:
            return pairs, np.zeros(0)
        ends = np.append(pairs.starts[1:], t if end is None else end)
        w = credit_weights(t, pairs.starts, ends, delay)
        keep = w >= min_credit
        return pairs.take(keep), w[keep]


@dataclass(frozen=True)
class Pairs:
    """Raw (state, action) pairs: start times ``(n,)``, positions before and after ``(n, max_dims)``,
    active axes ``(n,)`` and space slots ``(n,)``."""

    starts: np.ndarray
    before: np.ndarray
    after: np.ndarray
    dims: np.ndarray
    slots: np.ndarray

    def __len__(self) -> int:
        return len(self.starts)

    def take(self, index: np.ndarray) -> Pairs:
        return Pairs(self.starts[index], self.before[index], self.after[index], self.dims[index], self.slots[index])

    def at(self, times: np.ndarray) -> Pairs:
        """For each time ``(m,)``, the pair sounding then (the last one started by then); for a time before
        the first pair, that pair with its ``after`` replaced by where it started (what sounded then).
        ``after`` of the result is the position heard at each time."""
        i = np.searchsorted(self.starts, times, side="right") - 1
        out = self.take(np.maximum(i, 0))
        early = i < 0
        if early.any():
            after = out.after.copy()
            after[early] = out.before[early]
            out = Pairs(out.starts, out.before, after, out.dims, out.slots)
        return out
