"""The explorer's interface: dims changes without reset, bad rewards, pause, history, explore, zone."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from aego.agent import Action, AgentConfig, make_explorer


@pytest.fixture
def tamer():
    explorer = make_explorer("deep-tamer", AgentConfig(learner="sync"), seed=1)
    yield explorer
    explorer.close()


def _teach(explorer, seconds: float = 6.0, t0: float = 0.0, value: float = 1.0) -> float:
    """Act for a while with a reward every 0.25 s; the clock afterwards."""
    t = t0
    for k in range(int(seconds / 0.05)):
        t = t0 + k * 0.05
        explorer.act(t)
        if k % 5 == 4:
            explorer.feedback(value, t)
    return t


def test_dims_grow_and_shrink_without_reset(tamer) -> None:
    model, replay = tamer.model, tamer.replay
    tamer.configure(1, [0.3], 0.01)
    t = _teach(tamer, 3.0)
    learnt = tamer.learner.updates
    assert learnt > 0 and len(replay) > 0
    probe = tamer.model(__import__("torch").from_numpy(tamer._encode(np.array([0.3]))[None, :])).item()
    position = tamer.position.copy()
    for dims in (2, 4, 8, 4, 1):
        tamer.configure(dims)  # no position: the axes that stay keep their coordinates
        kept = min(len(position), dims)
        np.testing.assert_allclose(tamer.position[:kept], position[:kept])
        assert np.all(tamer.position[kept:] == 0.5)
        action = tamer.act(t := t + 0.05)
        assert isinstance(action, Action) and action.position.shape == (dims,) and 0 <= action.dim < dims
        assert abs(np.abs(action.position - tamer.position).sum()) < 1e-12
        position = tamer.position.copy()
    assert tamer.model is model and tamer.replay is replay  # nothing was rebuilt
    assert tamer.learner.updates >= learnt and len(replay) > 0
    # What was learnt at 1 dim is still there when the piece comes back to 1 dim (modulo later updates).
    again = tamer.model(__import__("torch").from_numpy(tamer._encode(np.array([0.3]))[None, :])).item()
    assert math.isfinite(again) and abs(again) > 0 and abs(probe) > 0


def test_configure_refuses_bad_dims_and_positions(tamer) -> None:
    with pytest.raises(ValueError, match="dims"):
        tamer.configure(0)
    with pytest.raises(ValueError, match="dims"):
        tamer.configure(9)
    with pytest.raises(ValueError, match="position"):
        tamer.configure(2, [0.5])
    with pytest.raises(ValueError, match="position"):
        tamer.configure(1, [float("nan")])
    tamer.configure(2, [1.5, -0.2])  # out of the box: clipped
    assert tamer.position.tolist() == [1.0, 0.0]


@pytest.mark.parametrize("kind", ["deep-tamer", "random"])
def test_nonfinite_rewards_dropped_and_counted_out_of_range_clipped(kind) -> None:
    explorer = make_explorer(kind, AgentConfig(learner="sync"), seed=0)
    explorer.configure(2, [0.5, 0.5])
    for k in range(30):
        explorer.act(k * 0.05)
    assert explorer.feedback(float("nan"), 1.5) is False
    assert explorer.feedback(float("inf"), 1.5) is False
    assert explorer.stream(float("-inf"), 1.5) is False
    assert explorer.zone(float("nan"), 1.5) is False
    assert explorer.feedback("not a number", 1.5) is False  # type: ignore[arg-type]
    assert explorer.feedback(7.0, 1.5) is True
    assert explorer.stream(-3.0, 1.51) is True
    s = explorer.summary()
    assert s["nonfinite_dropped"] == 5 and s["clipped"] == 2 and s["feedback"] == 1 and s["stream_samples"] == 1
    if kind == "deep-tamer":
        assert explorer.replay.values.max() <= 1.0 and np.isfinite(explorer.replay.values).all()
    explorer.close()


def test_pause_back_forward(tamer) -> None:
    tamer.configure(1, [0.5], 0.01)
    tamer.pause(True)
    assert tamer.act(0.0) is None and tamer.counts["actions"] == 0
    tamer.pause(False)
    trail = [tamer.act(k * 0.05).position.copy() for k in range(60)]
    here = tamer.position.copy()
    back = tamer.back()  # history_stride = 20 actions
    np.testing.assert_allclose(back, trail[59 - 20])
    np.testing.assert_allclose(tamer.back(), trail[59 - 40])
    np.testing.assert_allclose(tamer.forward(), trail[59 - 20])
    np.testing.assert_allclose(tamer.forward(), here)
    tamer.back()
    tamer.act(10.0)  # acting after going back drops the forward history
    np.testing.assert_allclose(tamer.forward(), tamer.position)


def test_explore_jumps_to_an_unvisited_place_and_retriggers_curiosity(tamer) -> None:
    tamer.configure(2, [0.5, 0.5], 0.01)
    t = _teach(tamer, 3.0)
    assert tamer.curiosity.at(t) < tamer.config.novelty_weight
    before = tamer.position.copy()
    after = tamer.explore(t)
    assert tamer.novelty.count(tamer._context, after) == 0.0
    assert np.linalg.norm(after - before) > 0.05
    assert tamer.curiosity.at(t) == tamer.config.novelty_weight


def test_zone_like_pulls_the_explorer_back(tamer) -> None:
    tamer.configure(1, [0.5], 0.01)
    for k in range(5):
        tamer.act(k * 0.05)
    anchor = tamer.position.copy()
    for _ in range(30):
        tamer.zone(1.0, 0.3)
    assert tamer.counts["zones"] == 30
    inside = tamer.model(__import__("torch").from_numpy(tamer._encode(anchor)[None, :])).item()
    outside = tamer.model(__import__("torch").from_numpy(tamer._encode(anchor + 0.06)[None, :])).item()
    assert inside > 0.3 and outside < inside
    positions = [tamer.act(1.0 + k * 0.05).position[0] for k in range(100)]
    assert max(abs(p - anchor[0]) for p in positions) < 0.1


def test_space_switch_keeps_the_model_and_separates_counts(tamer) -> None:
    tamer.set_space("synthetic")
    tamer.configure(2, [0.5, 0.5])
    _teach(tamer, 2.0)
    updates = tamer.learner.updates
    tamer.set_space("orchestral")
    tamer.configure(8, np.full(8, 0.5))
    assert tamer.novelty.count("orchestral/8", np.full(8, 0.5)) == 0.0
    assert tamer.novelty.visits["synthetic/2"] > 0
    _teach(tamer, 1.0, t0=10.0)
    assert tamer.learner.updates > updates
    assert tamer.space_slots["orchestral"] != tamer.space_slots["synthetic"]


def test_overlay_and_summary_are_plain_json(tamer) -> None:
    tamer.configure(4, np.full(4, 0.5))
    _teach(tamer, 1.0)
    overlay = tamer.overlay()
    assert len(overlay["h"]) == 4 and all(len(p) == 2 for p in overlay["h"])
    for key in ("novelty", "curiosity", "epsilon", "updates", "loss", "replay", "visits"):
        assert key in overlay
    json.dumps(overlay)
    json.dumps(tamer.summary())


def test_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unknown explorer"):
        make_explorer("q-learning")


def test_taught_by_clicks_it_moves_in_gestures_and_listens(tamer) -> None:
    tamer.configure(3, np.full(3, 0.5), 0.01)
    moves = [tamer.act(k * 0.05) for k in range(20)]
    assert len({(a.dim, a.direction) for a in moves}) > 2  # before any click: step by step, not gestures
    tamer.feedback(1.0, 1.0)
    trail = []
    for k in range(20, 60):  # 2 s with no further click
        action = tamer.act(k * 0.05)
        trail.append((action.dim, action.direction))
    steps = tamer.config.gesture_steps
    # A gesture (steps moves one way), then listening: back and forth on that axis for `listen` seconds.
    assert trail[:steps] == [trail[0]] * steps
    listen = trail[steps : steps + round(tamer.config.listen / 0.05) - 1]
    assert {d for d, _ in listen} == {trail[0][0]} and all(a[1] != b[1] for a, b in itertools.pairwise(listen))
    # A click answering the gesture ends the listening: the next gesture starts.
    tamer2 = make_explorer("deep-tamer", AgentConfig(learner="sync"), seed=2)
    tamer2.configure(3, np.full(3, 0.5), 0.01)
    tamer2.feedback(1.0, 0.0)
    for k in range(steps + 2):
        tamer2.act(k * 0.05)
    assert tamer2.gesture.end >= 0
    tamer2.feedback(1.0, tamer2.gesture.end + 0.3)
    tamer2.act(tamer2.gesture.end + 0.35)
    assert tamer2.gesture.end < 0 or tamer2.gesture.left > 0 or steps == 1  # a new gesture under way
    tamer2.close()


def test_back_at_the_best_place_heard_it_stays_a_while_whatever_the_answers() -> None:
    config = AgentConfig(learner="sync", gesture_explore=0.0, epsilon=0.0, epsilon_min=0.0, linger=2.0)
    tamer = make_explorer("deep-tamer", config, seed=0)
    tamer.configure(2, np.full(2, 0.5), 0.01)
    tamer.feedback(1.0, 0.0)  # taught by clicks from now on
    best = np.array([0.53, 0.5])
    tamer._best = (0, 2, best, 1e6)  # the network likes a place three steps up axis 0 far best
    t = 0.05
    for _ in range(config.gesture_steps):  # the gesture heads there, all the way
        action = tamer.act(t)
        assert (action.dim, action.direction) == (0, 1)
        t += 0.05
    np.testing.assert_allclose(tamer.position, best)
    arrived = tamer.gesture.end
    tamer.feedback(-1.0, arrived + 0.3)  # answers do not send it off again while it lingers
    tamer.feedback(1.0, arrived + 0.9)
    while t < arrived + config.linger - 1e-9:
        tamer.act(t)
        assert np.abs(tamer.position - best).max() <= 0.01 + 1e-9 and tamer.gesture.hold
        t += 0.05
    tamer.act(t + 0.05)
    assert not tamer.gesture.hold  # then it goes on: a new gesture
    tamer.close()


def test_the_place_headed_for_is_the_mean_of_the_best_few_heard() -> None:
    tamer = make_explorer("deep-tamer", AgentConfig(learner="sync", return_top=2), seed=0)
    tamer.configure(2, np.full(2, 0.5), 0.01)
    for k in range(60):  # some clicks, so that the network tells places apart
        tamer.act(k * 0.05)
        if k % 10 == 9:
            tamer.feedback(1.0 if k % 20 == 9 else -1.0, k * 0.05)
    tamer._places.clear()  # three places of our own, far apart
    places = [np.array([0.3, 0.3]), np.array([0.7, 0.7]), np.array([0.5, 0.9])]
    values = tamer.learner.twin(tamer.encoder.encode_many(np.array(places), 0))[:, 0]
    for p in places:
        tamer._places.append((0, 2, p))
    tamer._places_added += len(places)
    tamer._find_best()
    assert len(set(values.tolist())) == 3
    top = np.argsort(-values)[:2]
    np.testing.assert_allclose(tamer._best[2], np.mean(np.array(places)[top], axis=0))
    tamer.close()
