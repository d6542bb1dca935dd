"""The explorer learns from a simulated performer: in simulated time, and live over OSC on loopback.

Compared with an unbiased random walk under the same seed and conditions, never against a clock.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from aego.agent import AgentConfig, Pacer, PerformerConfig, SimulatedPerformer, make_explorer
from aego.agent.simulation import target_for, teach, wander
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import BlockingOSCUDPServer
from pythonosc.udp_client import SimpleUDPClient


@pytest.mark.parametrize("mode", ["clicks", "stream"])
def test_taught_in_simulated_time_it_ends_closer_than_the_random_walk(mode) -> None:
    tamer, walk = [], []
    for seed in (0, 1):
        tamer.append(teach("deep-tamer", mode, seed, dims=4, seconds=90)["tail_mean"])
        walk.append(teach("random", mode, seed, dims=4, seconds=90)["tail_mean"])
    assert np.mean(tamer) < 0.6 * np.mean(walk)


def test_curiosity_covers_more_ground_than_the_random_walk() -> None:
    assert wander("deep-tamer", 0, dims=2, seconds=20) > 1.5 * wander("random", 0, dims=2, seconds=20)


def test_simulated_performer_clicks_like_a_listener() -> None:
    """Warmer: yes; colder: no; there: yes; still and elsewhere: nothing. Late, never before it was earned."""
    config = PerformerConfig(mode="clicks", wrong_sign=0.0)
    cases = {"warmer": lambda t: 0.30 + 0.05 * t, "colder": lambda t: 0.55 - 0.05 * t,
             "there": lambda t: 0.6 + 0.01 * np.sin(t), "still": lambda t: 0.30}
    for name, path in cases.items():
        performer = SimulatedPerformer(np.array([0.6]), 0.01, config, seed=3)
        for k in range(100):  # 5 s
            performer.hear(k * 0.05, np.array([path(k * 0.05)]))
        clicks = performer.poll(5.0)
        values = {v for t, v in clicks if t >= 1.5}  # after the first compared second and the reaction delay
        expected = {"warmer": {1.0}, "colder": {-1.0}, "there": {1.0}, "still": set()}[name]
        assert values == expected, name
        if name != "still":
            assert 4 <= len(clicks) <= 20  # attention every 0.3-1 s, then a click if there is something to say
    # Delays: a click comes 0.2-1.5 s after the moment it judges, so none within 0.2 s of the start.
    performer = SimulatedPerformer(np.array([0.6]), 0.01, config, seed=0)
    performer.hear(0.0, np.array([0.6]))
    assert performer.poll(0.19) == [] and len(performer.poll(3.0)) > 0


def test_simulated_performer_is_late_noisy_and_sparse() -> None:
    performer = SimulatedPerformer(np.array([0.6]), 0.01, PerformerConfig(mode="clicks", click_judge="progress"),
                                   seed=0)
    for k in range(200):  # walks straight toward the target, then away
        position = 0.5 + 0.001 * k if k < 100 else 0.6 - 0.001 * (k - 100)
        performer.hear(k * 0.05, np.array([position]))
    clicks = performer.poll(10.0)
    assert 5 < len(clicks) < 40  # sparse: attention every 0.3-1 s, and only a noticeable change earns a click
    early = [v for t, v in clicks if t < 4.0]
    late = [v for t, v in clicks if t > 7.0]
    assert np.mean(early) > 0 > np.mean(late)
    stream = SimulatedPerformer(np.array([0.6]), 0.01, PerformerConfig(mode="stream"), seed=0)
    stream.hear(0.0, np.array([0.5]))
    samples = stream.poll(2.0)
    assert 150 < len(samples) <= 201 and np.std([v for _, v in samples]) > 0.05


def test_learns_live_over_osc_loopback() -> None:
    """A simulated performer sends /aego/reward over UDP at 100 Hz to a python-osc server that feeds the
    explorer's stream; the explorer and three random walks are paced side by side every 30 ms for 40 s."""
    seed, dims, step, period = 1, 2, 0.01, 0.03
    config = AgentConfig(period=period, step=step)
    tamer = make_explorer("deep-tamer", config, seed)
    walks = [make_explorer("random", config, seed + k) for k in range(3)]
    start = np.full(dims, 0.5)
    target = target_for(seed, dims, start, 10 * step)
    tamer.configure(dims, start, step)
    for walk in walks:
        walk.configure(dims, start, step)
    performer = SimulatedPerformer(target, step, PerformerConfig(mode="stream"), seed)
    received = []

    def on_reward(_address: str, value: float) -> None:
        received.append(value)
        tamer.stream(value, time.monotonic())

    dispatcher = Dispatcher()
    dispatcher.map("/aego/reward", on_reward)
    server = BlockingOSCUDPServer(("127.0.0.1", 0), dispatcher)
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    serving.start()
    client = SimpleUDPClient("127.0.0.1", server.server_address[1])
    distances: list[tuple[float, float]] = []

    def tick(now: float) -> None:
        tamer.act(now)
        for walk in walks:
            walk.act(now)
        performer.hear(now, tamer.position)
        walked = np.mean([performer.distance(walk.position) for walk in walks])
        distances.append((performer.distance(tamer.position), walked))

    performer.hear(time.monotonic(), start)
    pacer = Pacer(tick, period)
    pacer.start()
    sent = 0
    try:
        end = time.monotonic() + 40.0
        while time.monotonic() < end:
            for _, value in performer.poll(time.monotonic()):
                client.send_message("/aego/reward", float(value))
                sent += 1
            time.sleep(0.005)
    finally:
        pacer.stop()
        server.shutdown()
        server.server_close()
        tamer.close()
    assert sent > 1000 and len(received) > 0.9 * sent
    assert tamer.counts["stream_samples"] == len(received) and tamer.learner.updates > 50
    tail = np.array(distances[-len(distances) // 3 :])
    assert tail[:, 0].mean() < tail[:, 1].mean()
    assert pacer.errors == 0
