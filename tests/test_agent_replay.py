"""The feedback replay buffer stays within its bounds and keeps the newest samples."""

from __future__ import annotations

import numpy as np
from aego.agent.replay import ReplayBuffer


def _samples(start: int, n: int, size: int = 4):
    k = np.arange(start, start + n)
    return (np.repeat(k[:, None], size, axis=1).astype(np.float32), k % 3, (k % 2) * 2.0 - 1, np.full(n, 0.5))


def test_bounded_and_newest_kept() -> None:
    buf = ReplayBuffer(capacity=10, state_size=4)
    assert len(buf) == 0
    buf.add(*_samples(0, 7))
    assert len(buf) == 7
    buf.add(*_samples(7, 7))
    assert len(buf) == 10
    kept = buf.arrays()["states"][:, 0]
    np.testing.assert_array_equal(kept, np.arange(4, 14))


def test_a_batch_larger_than_capacity_keeps_its_tail() -> None:
    buf = ReplayBuffer(capacity=5, state_size=4)
    buf.add(*_samples(0, 3))
    buf.add(*_samples(3, 12))
    assert len(buf) == 5
    np.testing.assert_array_equal(buf.arrays()["states"][:, 0], np.arange(10, 15))


def test_sample_shapes_and_restore_round_trip() -> None:
    buf = ReplayBuffer(capacity=50, state_size=4)
    buf.add(*_samples(0, 30))
    s, a, v, w = buf.sample(16, np.random.default_rng(0))
    assert s.shape == (16, 4) and a.shape == v.shape == w.shape == (16,)
    assert set(s[:, 0].astype(int)) <= set(range(30))
    other = ReplayBuffer(capacity=50, state_size=4)
    other.restore(buf.arrays())
    for key, value in buf.arrays().items():
        np.testing.assert_array_equal(other.arrays()[key], value)
