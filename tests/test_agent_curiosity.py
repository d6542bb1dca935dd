"""Pseudo-counts: one visit counts once (no double counting, no extra density factor); the bonus; β."""

from __future__ import annotations

import math

import numpy as np
import pytest
from aego.agent.curiosity import CuriosityLevel, NoveltyCounter, novelty_bonus


def test_one_visit_counts_exactly_once() -> None:
    counter = NoveltyCounter(cell=0.02, tilings=4)
    p = np.array([0.503, 0.271])
    assert counter.count("a/2", p) == 0.0
    counter.visit("a/2", p)
    assert counter.count("a/2", p) == 1.0  # Co-Explorer counted the tiles twice: 2.0
    for _ in range(6):
        counter.visit("a/2", p)
    assert counter.count("a/2", p) == 7.0
    assert counter.visits["a/2"] == 7
    assert sum(sum(g.values()) for g in counter.tile_counts("a/2")) == 7 * 4  # one increment per tiling per visit


def test_pseudo_count_equals_the_density_model_formula_for_one_tiling() -> None:
    # For a counting density rho = N/n, rho' = (N+1)/(n+1): N_hat = rho (1 - rho') / (rho' - rho) = N.
    counter = NoveltyCounter(cell=0.1, tilings=1)
    rng = np.random.default_rng(0)
    points = rng.random((200, 2))
    for p in points:
        counter.visit("c", p)
    x = points[17]
    n, big_n = 200, counter.count("c", x)
    rho, rho2 = big_n / n, (big_n + 1) / (n + 1)
    assert rho * (1 - rho2) / (rho2 - rho) == pytest.approx(big_n)


def test_neighbours_share_some_tilings_and_far_points_none() -> None:
    counter = NoveltyCounter(cell=0.02, tilings=4)
    counter.visit("c", np.array([0.5, 0.5]))
    near = counter.count("c", np.array([0.51, 0.5]))
    assert 0.0 < near < 1.0
    assert counter.count("c", np.array([0.9, 0.1])) == 0.0
    many = counter.count_many("c", np.array([[0.5, 0.5], [0.51, 0.5], [0.9, 0.1]]))
    np.testing.assert_allclose(many, [1.0, near, 0.0])


def test_contexts_are_separate() -> None:
    counter = NoveltyCounter(cell=0.02, tilings=2)
    counter.visit("a/1", np.array([0.3]))
    assert counter.count("b/1", np.array([0.3])) == 0.0
    assert counter.cells_visited("a/1") == 1


def test_bonus_formula_and_cap() -> None:
    assert novelty_bonus(0.0, cap=2.0) == 2.0
    assert novelty_bonus(1.0, cap=2.0) == pytest.approx(1 / math.sqrt(1.01))
    assert novelty_bonus(100.0, cap=2.0) == pytest.approx(1 / math.sqrt(100.01))


def test_curiosity_fades_with_feedback_comes_back_and_retriggers() -> None:
    level = CuriosityLevel(full=1.0, decay=0.5, recovery=10.0)
    assert level.at(0.0) == 1.0
    level.on_feedback(1.0)
    level.on_feedback(1.0)
    assert level.at(1.0) == pytest.approx(0.25)
    assert level.at(11.0) == pytest.approx(1.0 - 0.75 * math.exp(-1.0))
    level.retrigger(2.0)
    assert level.at(2.0) == 1.0


def test_counts_survive_growth_and_a_save_round_trip() -> None:
    counter = NoveltyCounter(cell=0.02, tilings=4, max_dims=8)
    rng = np.random.default_rng(2)
    points = rng.random((3000, 8))  # 12 000 tiles: the table grows several times
    for p in points:
        counter.visit("s/8", p)
    counter.visit("s/8", points[0])
    probe = np.vstack([points[:50], rng.random((50, 8))])
    before = counter.count_many("s/8", probe)
    assert before[0] == 2.0 and np.all(before[:50] >= 1.0)
    again = NoveltyCounter(cell=0.02, tilings=4, max_dims=8)
    again.restore(counter.state(), counter.visits)
    np.testing.assert_array_equal(again.count_many("s/8", probe), before)
    assert again.cells_visited("s/8") == counter.cells_visited("s/8") and again.visits == {"s/8": 3001}


@pytest.mark.parametrize("rows", [[[[1, 2]], [], [], []], [[[-1, 5, 1]], [], [], []], [[[3, 4, 0]], [], [], []],
                                  [[[3, 4, 1], [3, 1]], [], [], []], [[[3, 4, 1]]]])
def test_restore_refuses_rows_out_of_range(rows) -> None:
    counter = NoveltyCounter(cell=0.02, tilings=4)
    if rows == [[[1, 2]], [], [], []]:  # a valid one-axis row, as a control
        counter.restore({"c/1": rows}, {"c/1": 2})
        assert counter.count("c/1", np.array([0.03])) == 0.5
        return
    with pytest.raises(ValueError):
        counter.restore({"c/2": rows}, {"c/2": 1})
