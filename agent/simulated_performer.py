"""A simulated performer: wants the sound at a target it keeps to itself, and rewards accordingly.

It hears the explorer's position (``hear``), judges it like a person would — how much it likes
where the sound is (``judge="level"``, the default: +1 at the target region, 0 at ``level_steps``
steps, -1 at twice that), or whether it is getting warmer or colder (``judge="progress"``) — and
answers late (a reaction delay of 0.2-1.5 s), noisily, either with sparse clicks (keyboard-like,
about 1.5 a second, the sign of its judgement, 10 % of them wrong) or with a continuous stream
(wrist-like, 100 samples a second, Gaussian noise 0.2).

Used by the tests and the benchmark, and to rehearse without a human: ``python -m
aego.agent.simulated_performer --target 0.7,0.3`` listens to the piece's ``/aego/state`` and sends
``/aego/reward`` back (see ``main``).
"""

from __future__ import annotations

import argparse
import bisect
import math
import threading
import time
from dataclasses import dataclass

import numpy as np


@dataclass
class PerformerConfig:
    """How the simulated performer behaves (seconds, normalised distances)."""

    mode: str = "clicks"  # "clicks" | "stream"
    delay_min: float = 0.2  # reaction delay range
    delay_max: float = 1.5
    click_rate: float = 1.5  # judgements per second (clicks), Poisson
    wrong_sign: float = 0.1  # probability that a click has the wrong sign
    judge_window: float = 0.5  # compares the distance now with this long ago
    radius_steps: float = 2.0  # within this many steps of the target, it is happy
    stream_rate: float = 100.0  # samples per second (stream)
    stream_noise: float = 0.2  # Gaussian noise on each sample
    stream_full_steps: float = 4.0  # coming this many steps closer within the window is a full +1
    judge: str = "level"  # "progress": warmer/colder; "level": how close it is; "both": their mean
    level_steps: float = 15.0  # the level falls from +1 at the target to 0 this many steps away, -1 at twice


class SimulatedPerformer:
    """Rewards an explorer for approaching ``target`` (shape ``(dims,)``, normalised); thread-safe."""

    def __init__(self, target: np.ndarray, step: float, config: PerformerConfig | None = None, seed: int = 0) -> None:
        self.config = config or PerformerConfig()
        if self.config.mode not in ("clicks", "stream"):
            raise ValueError(f"performer mode must be 'clicks' or 'stream', got {self.config.mode!r}")
        self.target = np.asarray(target, dtype=np.float64)
        self.step = float(step)
        self.rng = np.random.default_rng(seed)
        self._times: list[float] = []
        self._dists: list[float] = []
        self._queue: list[tuple[float, float]] = []  # (due time, value), sorted
        self._next_judgement: float | None = None
        self._stream_delay = self.rng.uniform(self.config.delay_min, self.config.delay_max)
        self._lock = threading.Lock()
        self.sent = 0

    def distance(self, position: np.ndarray) -> float:
        return float(np.linalg.norm(np.asarray(position)[: len(self.target)] - self.target))

    def hear(self, now: float, position: np.ndarray) -> None:
        """The explorer is at ``position`` from ``now`` on (call after every action)."""
        with self._lock:
            self._times.append(now)
            self._dists.append(self.distance(position))

    def _distance_at(self, t: float) -> float:
        i = bisect.bisect_right(self._times, t) - 1
        return self._dists[max(i, 0)]

    def _judge(self, t: float) -> float:
        """How the performer feels about what it heard at ``t``: progress over the window, or being there."""
        c = self.config
        now_d = self._distance_at(t)
        progress = self._distance_at(t - c.judge_window) - now_d
        if now_d <= c.radius_steps * self.step:
            return 1.0
        level = float(np.clip(1.0 - now_d / (c.level_steps * self.step), -1.0, 1.0))
        if c.mode == "clicks":
            warmer = float(np.sign(progress)) if abs(progress) > 0.5 * self.step else 0.0
            if c.judge == "level":
                return float(np.sign(level))
            if c.judge == "both":
                return warmer if warmer != 0.0 else float(np.sign(level))
            return warmer
        warmer = float(np.clip(progress / (c.stream_full_steps * self.step), -1.0, 1.0))
        return {"progress": warmer, "level": level, "both": 0.5 * (warmer + level)}[c.judge]

    def poll(self, now: float) -> list[tuple[float, float]]:
        """The rewards given up to ``now``: ``[(time, value), ...]`` in time order, values in [-1, 1]."""
        c = self.config
        with self._lock:
            if not self._times:
                return []
            if self._next_judgement is None:
                self._next_judgement = self._times[0]
            if c.mode == "clicks":
                while self._next_judgement <= now:
                    t = self._next_judgement
                    value = self._judge(t)
                    if value != 0.0:
                        if self.rng.random() < c.wrong_sign:
                            value = -value
                        due = t + self.rng.uniform(c.delay_min, c.delay_max)
                        bisect.insort(self._queue, (due, value))
                    self._next_judgement = t + self.rng.exponential(1.0 / c.click_rate)
            else:
                while self._next_judgement <= now:
                    t = self._next_judgement
                    heard = t - self._stream_delay
                    value = self._judge(heard) if heard >= self._times[0] else 0.0
                    value = float(np.clip(value + self.rng.normal(0.0, c.stream_noise), -1.0, 1.0))
                    self._queue.append((t, value))
                    self._next_judgement = t + 1.0 / c.stream_rate
            out = []
            while self._queue and self._queue[0][0] <= now:
                out.append(self._queue.pop(0))
            self.sent += len(out)
            return out


def main(argv: list[str] | None = None) -> int:
    """Rehearse without a human: hear ``/aego/state`` from the piece, send ``/aego/reward`` to it."""
    from pythonosc.dispatcher import Dispatcher
    from pythonosc.osc_server import ThreadingOSCUDPServer
    from pythonosc.udp_client import SimpleUDPClient

    parser = argparse.ArgumentParser(prog="python -m aego.agent.simulated_performer", description=main.__doc__)
    parser.add_argument("--target", required=True, help="comma-separated normalised coordinates, e.g. 0.7,0.3")
    parser.add_argument("--mode", choices=("clicks", "stream"), default="clicks")
    parser.add_argument("--step", type=float, default=0.01, help="the explorer's step (sets what 'close' means)")
    parser.add_argument("--listen", default="127.0.0.1:8001", help="where the piece sends /aego/state")
    parser.add_argument("--send", default="127.0.0.1:8000", help="where the piece listens")
    parser.add_argument("--seconds", type=float, default=math.inf)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    target = np.array([float(v) for v in args.target.split(",")])
    performer = SimulatedPerformer(target, args.step, PerformerConfig(mode=args.mode), args.seed)
    host, port = args.send.rsplit(":", 1)
    client = SimpleUDPClient(host, int(port))
    dispatcher = Dispatcher()
    dispatcher.map("/aego/state", lambda _addr, *z: performer.hear(time.monotonic(), np.array(z, dtype=float)))
    lhost, lport = args.listen.rsplit(":", 1)
    server = ThreadingOSCUDPServer((lhost, int(lport)), dispatcher)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    end = time.monotonic() + args.seconds
    try:
        while time.monotonic() < end:
            for _, value in performer.poll(time.monotonic()):
                client.send_message("/aego/reward", float(value))
            time.sleep(0.005)
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
