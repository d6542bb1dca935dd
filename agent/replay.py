"""Credited feedback samples and the bounded replay buffer that keeps them.

A sample is one labelled (state, action) pair: the encoded position the move led to (``after``) and,
for a comparison, the encoded position heard a moment before (``before``), the kind of label
(``PLACE``: how much the performer likes where the move led; ``CHANGE``: whether the sound became
better or worse than it was a moment before), the value in [-1, 1] and the credit weight. The buffer
is a ring of preallocated NumPy arrays; when full the oldest samples are overwritten. Only the
learner touches it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PLACE = 0  # the label is about where the move led: N(after) ≈ value
CHANGE = 1  # the label compares: P(better) = σ(gain · (N(after) - N(before))) ≈ (1 + value) / 2


@dataclass(frozen=True)
class Samples:
    """``after``, ``before``: ``(n, S)`` float32 encodings; ``kinds``: ``(n,)`` int8; ``values``, ``weights``:
    ``(n,)`` float32."""

    after: np.ndarray
    before: np.ndarray
    kinds: np.ndarray
    values: np.ndarray
    weights: np.ndarray

    def __len__(self) -> int:
        return len(self.values)

    @classmethod
    def make(cls, after: np.ndarray, before: np.ndarray, kinds: np.ndarray | int, values: np.ndarray,
             weights: np.ndarray) -> Samples:
        n = len(values)
        return cls(np.asarray(after, np.float32), np.asarray(before, np.float32),
                   np.broadcast_to(np.asarray(kinds, np.int8), (n,)).copy(),
                   np.asarray(values, np.float32), np.asarray(weights, np.float32))

    @classmethod
    def concat(cls, parts: list[Samples]) -> Samples:
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in _FIELDS))

    def tail(self, n: int) -> Samples:
        """The newest ``n`` samples."""
        return Samples(*(getattr(self, f)[-n:] for f in _FIELDS))


_FIELDS = ("after", "before", "kinds", "values", "weights")


class ReplayBuffer:
    """Ring of at most ``capacity`` samples; states are encoded inputs of shape ``(state_size,)``."""

    def __init__(self, capacity: int, state_size: int) -> None:
        self.capacity = int(capacity)
        self.after = np.zeros((self.capacity, state_size), dtype=np.float32)
        self.before = np.zeros((self.capacity, state_size), dtype=np.float32)
        self.kinds = np.zeros(self.capacity, dtype=np.int8)
        self.values = np.zeros(self.capacity, dtype=np.float32)
        self.weights = np.zeros(self.capacity, dtype=np.float32)
        self.added = 0  # total ever added

    def __len__(self) -> int:
        return min(self.added, self.capacity)

    def add(self, samples: Samples) -> None:
        """Append the samples (only the newest ``capacity`` of them if there are more)."""
        n = len(samples)
        if n > self.capacity:
            self.added += n - self.capacity
            samples = samples.tail(self.capacity)
            n = self.capacity
        idx = (self.added + np.arange(n)) % self.capacity
        for f in _FIELDS:
            getattr(self, f)[idx] = getattr(samples, f)
        self.added += n

    def sample(self, batch: int, rng: np.random.Generator) -> Samples:
        """``batch`` samples drawn uniformly with replacement."""
        idx = rng.integers(0, len(self), size=batch)
        return Samples(*(getattr(self, f)[idx] for f in _FIELDS))

    def arrays(self) -> dict[str, np.ndarray]:
        """The stored samples, oldest first (for saving): ``states`` (after), ``before``, ``kinds``,
        ``values``, ``weights``."""
        n = len(self)
        idx = (self.added - n + np.arange(n)) % self.capacity
        return {"states": self.after[idx], "before": self.before[idx], "kinds": self.kinds[idx],
                "values": self.values[idx], "weights": self.weights[idx]}

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        """Replace the contents with saved ``arrays`` (as from :meth:`arrays`)."""
        self.added = 0
        self.add(Samples.make(arrays["states"], arrays["before"], arrays["kinds"], arrays["values"],
                              arrays["weights"]))
