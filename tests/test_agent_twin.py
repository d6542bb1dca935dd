"""The timing loop decides with a NumPy twin of the reward model: same values as the torch model, frozen,
replaced whole after each update; the compiled decision masks the bounds and takes the best move."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from aego.agent import AgentConfig, make_explorer
from aego.agent.actions import apply, valid_mask
from aego.agent.curiosity import NoveltyCounter, novelty_bonus
from aego.agent.kernels import move_bonus
from aego.agent.policy import decide
from aego.agent.replay import PLACE, Samples


@pytest.fixture(scope="module")
def trained():
    """An explorer whose network has learnt something (non-zero, non-trivial weights), at 2 dims and 5."""
    explorer = make_explorer("deep-tamer", AgentConfig(learner="sync"), seed=3)
    explorer.set_space("a")
    explorer.configure(2, [0.3, 0.7], 0.01)
    for k in range(200):
        explorer.act(k * 0.05)
        if k % 4 == 3:
            explorer.feedback(1.0 if k % 8 == 3 else -1.0, k * 0.05)
    explorer.set_space("b")
    explorer.configure(5, np.full(5, 0.5), 0.01)
    for k in range(200, 300):
        explorer.act(k * 0.05)
        if k % 5 == 4:
            explorer.stream(0.8, k * 0.05)
    yield explorer
    explorer.close()


def _torch_values(explorer, position: np.ndarray, slot: int) -> np.ndarray:
    """N of every neighbour of ``position`` (one step down / up per axis), from the torch model."""
    points = np.array([apply(position, i, explorer.step) for i in range(2 * len(position))])
    with torch.no_grad():
        return explorer.model(torch.from_numpy(explorer.encoder.encode_many(points, slot)))[:, 0].numpy()


@pytest.mark.parametrize("dims", [1, 2, 5, 8])
def test_twin_gives_the_torch_models_values(trained, dims) -> None:
    twin = trained.learner.twin
    rng = np.random.default_rng(dims)
    positions = [rng.random(dims) for _ in range(10)] + [np.zeros(dims), np.ones(dims), np.full(dims, 0.995)]
    for slot in (0, 1, 5):
        for position in positions:
            expected = _torch_values(trained, position, slot)
            assert np.abs(expected).max() > 1e-3  # the network has learnt something: the check is not 0 == 0
            np.testing.assert_allclose(twin.move_values(position, trained.step, slot), expected, rtol=1e-5, atol=1e-5)
        x = trained.encoder.encode_many(np.array(positions), slot)
        with torch.no_grad():
            np.testing.assert_allclose(twin(x), trained.model(torch.from_numpy(x)).numpy(), rtol=1e-5, atol=1e-5)


def test_twin_is_frozen_and_replaced_whole_by_an_update(trained) -> None:
    twin = trained.learner.twin
    position = trained.position.copy()
    before = twin.move_values(position, trained.step, 1)
    for array in (twin.flat, twin.layout, twin.enc, *(a for layer in twin.layers for a in layer)):
        with pytest.raises(ValueError):
            array[...] = 0
    trained.feedback(1.0, 1000.0)
    trained.act(1000.05)
    assert trained.learner.twin is not twin
    np.testing.assert_array_equal(twin.move_values(position, trained.step, 1), before)  # the old one is unchanged


def test_decide_takes_the_best_allowed_move_and_never_a_masked_one(trained) -> None:
    twin = trained.learner.twin
    counts = NoveltyCounter(0.02, 4)
    params = np.append(counts.params, (3, 2.0))
    rng = np.random.default_rng(0)
    for _ in range(50):
        position = rng.random(5)
        position[rng.integers(0, 5)] = rng.choice([0.0, 1.0])  # one axis on a bound
        mask = valid_mask(position, 8)[:10]
        values = np.where(mask, twin.move_values(position, 0.01, 1), -np.inf)
        u = rng.random()
        index = decide(twin, position, 0.01, 1, counts.table("x"), params, 0.0, 0.0, -1, False, u)
        assert mask[index] and values[index] == values.max()
        drawn = decide(twin, position, 0.01, 1, counts.table("x"), params, 0.0, 0.0, -1, True, u)
        allowed = np.flatnonzero(mask)
        assert drawn == allowed[int(u * len(allowed))]  # exploration: u picks uniformly among the allowed


def test_decide_breaks_ties_with_the_draw_and_follows_the_bonus() -> None:
    explorer = make_explorer("deep-tamer", AgentConfig(learner="sync"), seed=0)  # untrained: N = 0 everywhere
    twin, counts = explorer.learner.twin, NoveltyCounter(0.02, 4)
    params = np.append(counts.params, (3, 2.0))
    position = np.array([0.5, 0.5])
    chosen = {decide(twin, position, 0.01, 0, counts.table("c"), params, 0.0, 0.0, -1, False, u)
              for u in np.linspace(0, 0.999, 20)}
    assert chosen == {0, 1, 2, 3}  # four equal moves: the draw picks each
    for _ in range(5):  # the way down axis 0 and both ways on axis 1 are visited; up axis 0 is new
        for p in ([0.49, 0.5], [0.48, 0.5], [0.5, 0.51], [0.5, 0.49], [0.5, 0.52], [0.5, 0.48]):
            counts.visit("c", np.array(p))
    assert decide(twin, position, 0.01, 0, counts.table("c"), params, 0.05, 0.0, -1, False, 0.3) == 1
    explorer.close()


def _nearly_flat_explorer(tie: float):
    """An explorer whose network learnt one level (0.6) at a few places: its estimates around them differ by
    a few thousandths, the network's own noise, as after the first stream windows."""
    explorer = make_explorer("deep-tamer", AgentConfig(learner="sync", epsilon=0.0, epsilon_min=0.0, tie=tie), seed=0)
    places = np.array([[0.5, 0.5], [0.51, 0.5], [0.49, 0.5], [0.5, 0.51], [0.5, 0.49]])
    x = explorer.encoder.encode_many(places, 0)
    for _ in range(100):
        explorer.learner._update(Samples.make(x, x, PLACE, np.full(len(places), 0.6), np.ones(len(places))))
    explorer.configure(2, np.array([0.5, 0.5]), 0.01)
    return explorer


def test_near_equal_estimates_are_drawn_among_not_followed() -> None:
    explorer = _nearly_flat_explorer(0.01)
    twin, counts = explorer.learner.twin, NoveltyCounter(0.02, 4)
    params = np.append(counts.params, (3, 2.0))
    position = np.array([0.5, 0.5])
    values = twin.move_values(position, 0.01, 0)
    assert 1e-9 < np.ptp(values) < 0.01  # not equal, but closer than the tie
    draws = np.linspace(0, 0.999, 40)
    tied = {decide(twin, position, 0.01, 0, counts.table("c"), params, 0.0, 0.0, -1, False, u, tie=0.01)
            for u in draws}
    strict = {decide(twin, position, 0.01, 0, counts.table("c"), params, 0.0, 0.0, -1, False, u, tie=1e-9)
              for u in draws}
    assert tied == {0, 1, 2, 3} and strict == {int(np.argmax(values))}
    explorer.close()


def test_taught_by_a_stream_it_does_not_swing_between_two_places_on_the_networks_noise() -> None:
    """Greedy on estimates that differ only by the network's noise, the explorer swung between two neighbouring
    places (the live test's failure); with near-equal estimates as ties it moves on among them."""
    for tie in (1e-9, 0.01):
        explorer = _nearly_flat_explorer(tie)
        explorer.stream(0.0, 0.0)  # a neutral sample: taught by a stream, nothing learnt
        places = set()
        for k in range(40):  # 2 s: curiosity (nobody rewards) is still below the level where it is used
            explorer.act(0.05 * k)
            places.add(tuple(np.round(explorer.position, 4)))
        assert (len(places) == 2) == (tie == 1e-9), (tie, len(places))
        explorer.close()


def test_compiled_bonus_is_the_mean_bonus_along_each_move() -> None:
    counts = NoveltyCounter(0.02, 4)
    rng = np.random.default_rng(1)
    for p in 0.45 + 0.1 * rng.random((300, 3)):
        counts.visit("c", p)
    position, step, look = np.array([0.5, 0.47, 0.995]), 0.01, 3
    out = np.empty(6)
    move_bonus(counts.table("c").keys, counts.table("c").counts, position, step, counts.params, look, 2.0, out)
    for m in range(6):
        points = np.array([apply(position, m, j * step) for j in range(1, look + 1)])
        expected = novelty_bonus(counts.count_many("c", points), 2.0).mean()
        assert out[m] == pytest.approx(expected)
