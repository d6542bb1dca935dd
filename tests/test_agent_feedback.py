"""From rewards to samples, off the timing thread: a click compares what it credits with a second before,
a click about a still sound is about the place, a stream window is place labels, and the learner's
comparison loss moves the reward model the way the clicks say."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from aego.agent import AgentConfig, make_explorer
from aego.agent.config import AgentConfig as Config
from aego.agent.credit import Trajectory, uniform_delay
from aego.agent.feedback import FeedbackDigest
from aego.agent.learner import Learner
from aego.agent.replay import CHANGE, PLACE, ReplayBuffer
from aego.agent.reward_model import RewardModel, StateEncoder


def _digest(trajectory: Trajectory, config: Config | None = None) -> tuple[FeedbackDigest, list[float]]:
    config = config or Config()
    encoder = StateEncoder(config.max_dims, config.max_spaces, config.position_scale, config.position_bumps)
    windows: list[float] = []
    digest = FeedbackDigest(config, encoder, trajectory, uniform_delay(0.2, 1.5), windows.append, lambda: 0.01)
    return digest, windows


def _walk(trajectory: Trajectory, path, seconds: float, period: float = 0.05) -> None:
    for k in range(round(seconds / period)):
        t = k * period
        trajectory.add(t, np.array([path(t)]), np.array([path(t + period)]), slot=0)


def test_a_click_compares_each_credited_pair_with_a_second_before() -> None:
    trajectory = Trajectory(max_dims=8)
    _walk(trajectory, lambda t: 0.2 + 0.01 * round(t / 0.05), 5.0)  # one step up every action
    digest, _ = _digest(trajectory)
    digest.click(4.0, 1.0)
    samples = digest.run(now=4.0)
    assert samples is not None and np.all(samples.kinds == CHANGE) and np.all(samples.values == 1.0)
    assert samples.weights.sum() == pytest.approx(1.0)  # credit over 0.2-1.5 s before the click
    encoder = digest.encoder
    start = encoder.axes_start
    after = samples.after[:, start] / encoder.scale + 0.5  # the coordinate entry of axis 0
    before = samples.before[:, start] / encoder.scale + 0.5
    np.testing.assert_allclose(after - before, 0.2, atol=1e-5)  # 20 actions of one step = the second before


def test_a_click_about_a_still_sound_is_about_the_place() -> None:
    trajectory = Trajectory(max_dims=8)
    _walk(trajectory, lambda t: 0.4 + (0.01 if round(t / 0.05) % 2 else 0.0), 5.0)  # wobbling in place
    digest, _ = _digest(trajectory)
    digest.click(4.0, 1.0)
    samples = digest.run(now=4.0)
    assert samples is not None and np.all(samples.kinds == PLACE)


def test_a_burst_of_clicks_is_one_batch_and_a_stream_window_is_one_feedback() -> None:
    trajectory = Trajectory(max_dims=8)
    _walk(trajectory, lambda t: 0.2 + 0.01 * round(t / 0.05), 5.0)
    digest, windows = _digest(trajectory)
    for k in range(50):
        digest.click(3.0 + 0.001 * k, 1.0 if k % 2 else -1.0)
    samples = digest.run(now=3.05)
    assert samples is not None and len(samples) < 60  # the pairs of the window once, not 50 times over
    assert np.all(np.abs(samples.values) < 0.2)  # yes and no in turn average out
    assert not digest.pending()
    for k in range(30):  # 0.3 s of a 100 Hz stream: one window of 0.25 s, then one sample of the next
        digest.stream(4.0 + 0.01 * k, 0.05 if k % 3 else 0.8)  # two samples in three inside the dead band
    samples = digest.run(now=4.29)
    assert len(windows) == 1 and samples is not None and np.all(samples.kinds == PLACE)
    assert samples.weights.sum() < 0.5  # diluted by the neutral samples


def test_the_comparison_loss_raises_the_later_sound_above_the_earlier() -> None:
    config = Config(learner="sync")
    encoder = StateEncoder(config.max_dims, config.max_spaces, config.position_scale, config.position_bumps)
    trajectory = Trajectory(max_dims=8)
    _walk(trajectory, lambda t: 0.2 + 0.01 * round(t / 0.05), 5.0)
    digest, _ = _digest(trajectory, config)
    torch.manual_seed(0)
    model = RewardModel(encoder.size, config.hidden)
    learner = Learner(model, ReplayBuffer(1000, encoder.size), encoder, lambda: digest.run(5.0),
                      learning_rate=config.learning_rate, batch_size=8, change_gain=config.change_gain,
                      replay_every=1, change_trust=config.change_trust, mode="sync")
    up, down = encoder.encode(np.array([0.5]), 0), encoder.encode(np.array([0.3]), 0)
    for k in range(20):
        digest.click(2.0 + 0.1 * k, 1.0)  # "warmer" all along the way up
        learner.pump()
    values = learner.twin(np.stack([up, down]))[:, 0]
    assert values[0] > values[1]
    assert learner.updates >= 20 and np.isfinite(learner.last_loss)


def test_learning_happens_off_the_timing_thread() -> None:
    """With the learner on its thread, acting never runs an update; the learner picks the work up."""
    explorer = make_explorer("deep-tamer", AgentConfig(learner="thread"), seed=0)
    explorer.configure(2, [0.5, 0.5])
    for k in range(40):
        explorer.act(k * 0.05)
    explorer.feedback(1.0, 2.0)
    updates = explorer.learner.updates
    explorer.act(2.05)  # returns at once; the click waits in the inbox for the learner
    assert explorer.learner.idle(timeout=5.0)
    assert explorer.learner.updates > updates and explorer.learner.feedback_updates >= 1
    explorer.close()
