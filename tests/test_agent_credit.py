"""Human-delay credit assignment: exact interval overlap, weights summing to one over the window."""

from __future__ import annotations

import numpy as np
import pytest
from aego.agent.credit import Trajectory, co_explorer_delay, credit_weights, uniform_delay


def test_uniform_overlap_is_exact() -> None:
    delay = uniform_delay(0.2, 4.0)
    t = 10.0
    # Pairs heard during [5, 6), [6, 7.9), [7.9, 9.9), [9.9, 10.5): overlaps with [t-4, t-0.2] = [6, 9.8]
    starts = np.array([5.0, 6.0, 7.9, 9.9])
    ends = np.array([6.0, 7.9, 9.9, 10.5])
    w = credit_weights(t, starts, ends, delay)
    expected = np.array([0.0, 1.9, 1.9, 0.0]) / 3.8
    np.testing.assert_allclose(w, expected, atol=1e-12)


def test_partial_overlap_at_both_edges() -> None:
    delay = uniform_delay(0.2, 1.2)
    w = credit_weights(5.0, np.array([3.5, 4.5]), np.array([4.0, 4.9]), delay)
    # [3.5, 4.0) overlaps [3.8, 4.8] by 0.2; [4.5, 4.9) overlaps by 0.3
    np.testing.assert_allclose(w, [0.2, 0.3], atol=1e-12)


@pytest.mark.parametrize("delay", [uniform_delay(0.2, 4.0), uniform_delay(0.2, 1.5), co_explorer_delay()])
def test_weights_sum_to_one_over_a_covering_trajectory(delay) -> None:
    period = 0.037
    starts = np.arange(0.0, 20.0, period)
    ends = starts + period
    w = credit_weights(15.0, starts, ends, delay)
    assert w.sum() == pytest.approx(1.0, abs=1e-9)
    lo, hi = delay.support
    heard = (ends > 15.0 - hi) & (starts < 15.0 - lo)
    assert np.all(w[~heard] == 0.0)
    assert np.all(w[heard] > 0.0)


def test_window_excludes_recent_and_old_pairs() -> None:
    delay = uniform_delay(0.2, 4.0)
    w = credit_weights(10.0, np.array([5.0, 9.85]), np.array([5.9, 10.0]), delay)
    assert w.tolist() == [0.0, 0.0]


def test_feedback_cannot_credit_the_future() -> None:
    delay = uniform_delay(0.0, 1.0)
    # A pair that started before t and would end after it counts only up to t.
    w = credit_weights(1.0, np.array([0.5]), np.array([3.0]), delay)
    assert w[0] == pytest.approx(0.5)


def test_co_explorer_bins_weigh_point_nine_to_the_i() -> None:
    delay = co_explorer_delay(0.2, 1.2, bins=10, ratio=0.9)
    t = 2.0
    starts = t - 0.2 - 0.1 * np.arange(1, 11)  # bin i covers delays [0.2 + 0.1 i, 0.3 + 0.1 i]
    w = credit_weights(t, starts, starts + 0.1, delay)
    expected = 0.9 ** np.arange(10)
    np.testing.assert_allclose(w, expected / expected.sum(), rtol=1e-9)


def test_trajectory_assign_keeps_credited_pairs_only() -> None:
    traj = Trajectory(max_dims=3, capacity=8)
    for k in range(20):  # more than the ring holds
        traj.add(k * 0.1, np.full(2, k - 1.0), np.full(2, float(k)), slot=k % 4)
    pairs = traj.recent()
    assert len(pairs) == 8 and pairs.starts[0] == pytest.approx(1.2) and pairs.after[-1][0] == 19
    assert pairs.dims.tolist() == [2] * 8 and np.all(pairs.after[:, 2] == 0)  # padded to max_dims
    credited, w = traj.assign(2.0, uniform_delay(0.2, 0.5), min_credit=1e-3)
    # delays 0.2-0.5 s before t = 2.0: pairs starting at 1.5, 1.6, 1.7 (full) and 1.4 (0.0 overlap at 1.5 edge)
    assert w.sum() == pytest.approx(1.0)
    assert set(credited.after[:, 0].tolist()) == {15.0, 16.0, 17.0}
    np.testing.assert_array_equal(credited.before[:, 0], credited.after[:, 0] - 1)
    np.testing.assert_array_equal(credited.slots, [15 % 4, 16 % 4, 17 % 4])


def test_trajectory_keeps_each_pairs_own_dims() -> None:
    traj = Trajectory(max_dims=4, capacity=16)
    traj.add(0.0, np.array([0.5]), np.array([0.51]), slot=0)
    traj.add(0.1, np.array([0.5, 0.5, 0.5]), np.array([0.5, 0.49, 0.5]), slot=1)
    pairs = traj.recent()
    assert pairs.dims.tolist() == [1, 3] and pairs.slots.tolist() == [0, 1]
    np.testing.assert_array_equal(pairs.after, [[0.51, 0, 0, 0], [0.5, 0.49, 0.5, 0]])
