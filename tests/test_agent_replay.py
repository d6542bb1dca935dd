"""The feedback replay buffer stays within its bounds and keeps the newest samples."""

from __future__ import annotations

import numpy as np
from aego.agent.replay import CHANGE, PLACE, ReplayBuffer, Samples


def _samples(start: int, n: int, size: int = 4) -> Samples:
    k = np.arange(start, start + n)
    after = np.repeat(k[:, None], size, axis=1)
    return Samples.make(after, after - 1, np.where(k % 3 == 0, CHANGE, PLACE), (k % 2) * 2.0 - 1, np.full(n, 0.5))


def test_bounded_and_newest_kept() -> None:
    buf = ReplayBuffer(capacity=10, state_size=4)
    assert len(buf) == 0
    buf.add(_samples(0, 7))
    assert len(buf) == 7
    buf.add(_samples(7, 7))
    assert len(buf) == 10
    kept = buf.arrays()
    np.testing.assert_array_equal(kept["states"][:, 0], np.arange(4, 14))
    np.testing.assert_array_equal(kept["before"][:, 0], np.arange(3, 13))
    np.testing.assert_array_equal(kept["kinds"], np.where(np.arange(4, 14) % 3 == 0, CHANGE, PLACE))


def test_a_batch_larger_than_capacity_keeps_its_tail() -> None:
    buf = ReplayBuffer(capacity=5, state_size=4)
    buf.add(_samples(0, 3))
    buf.add(_samples(3, 12))
    assert len(buf) == 5
    np.testing.assert_array_equal(buf.arrays()["states"][:, 0], np.arange(10, 15))


def test_sample_shapes_and_restore_round_trip() -> None:
    buf = ReplayBuffer(capacity=50, state_size=4)
    buf.add(_samples(0, 30))
    s = buf.sample(16, np.random.default_rng(0))
    assert s.after.shape == s.before.shape == (16, 4) and s.kinds.shape == s.values.shape == s.weights.shape == (16,)
    assert set(s.after[:, 0].astype(int)) <= set(range(30))
    np.testing.assert_array_equal(s.before[:, 0], s.after[:, 0] - 1)  # a sample's fields stay together
    other = ReplayBuffer(capacity=50, state_size=4)
    other.restore(buf.arrays())
    for key, value in buf.arrays().items():
        np.testing.assert_array_equal(other.arrays()[key], value)
