"""A bounded feedback replay buffer: credited (state, action, value, weight) samples in a ring.

Preallocated NumPy arrays; when full the oldest samples are overwritten. Only the learner touches it.
"""

from __future__ import annotations

import numpy as np


class ReplayBuffer:
    """Ring of at most ``capacity`` samples; states are encoded inputs of shape ``(state_size,)``."""

    def __init__(self, capacity: int, state_size: int) -> None:
        self.capacity = int(capacity)
        self.states = np.zeros((self.capacity, state_size), dtype=np.float32)
        self.actions = np.zeros(self.capacity, dtype=np.int64)
        self.values = np.zeros(self.capacity, dtype=np.float32)
        self.weights = np.zeros(self.capacity, dtype=np.float32)
        self.added = 0  # total ever added

    def __len__(self) -> int:
        return min(self.added, self.capacity)

    def add(self, states: np.ndarray, actions: np.ndarray, values: np.ndarray, weights: np.ndarray) -> None:
        """Append ``n`` samples: states ``(n, S)``, actions ``(n,)``, values ``(n,)`` in [-1, 1], weights ``(n,)``."""
        n = len(actions)
        if n > self.capacity:  # only the newest fit
            states, actions, values, weights = states[-self.capacity:], actions[-self.capacity:], \
                values[-self.capacity:], weights[-self.capacity:]
            self.added += n - self.capacity
            n = self.capacity
        idx = (self.added + np.arange(n)) % self.capacity
        self.states[idx] = states
        self.actions[idx] = actions
        self.values[idx] = values
        self.weights[idx] = weights
        self.added += n

    def sample(self, batch: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        """``batch`` samples drawn uniformly with replacement: ``(states, actions, values, weights)``."""
        idx = rng.integers(0, len(self), size=batch)
        return self.states[idx], self.actions[idx], self.values[idx], self.weights[idx]

    def arrays(self) -> dict[str, np.ndarray]:
        """The stored samples, oldest first (for saving)."""
        n = len(self)
        idx = (self.added - n + np.arange(n)) % self.capacity
        return {"states": self.states[idx], "actions": self.actions[idx],
                "values": self.values[idx], "weights": self.weights[idx]}

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.added = 0
        self.add(arrays["states"].astype(np.float32), arrays["actions"].astype(np.int64),
                 arrays["values"].astype(np.float32), arrays["weights"].astype(np.float32))
