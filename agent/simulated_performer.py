"""A simulated performer: wants the sound at a target it keeps to itself, and rewards accordingly.

It hears the explorer's position (``hear``) and answers late (a reaction delay of 0.2-1.5 s) and
noisily, in one of two ways (docs/agent.md, "Rehearsing without a human"):

- **Clicks** (a key, ``click_judge="human"``): every 0.3-1 s it pays attention and compares what it
  hears with what it heard a second before. Within two steps of the target: "yes" (that's it).
  Otherwise, if the sound came at least one step closer: "yes" (warmer); at least one step farther:
  "no" (colder); a smaller change goes unnoticed and it says nothing. One click in ten has the wrong
  sign. With the explorer this gives 0.6-0.8 clicks a second, a median of about 1 s between them.
  ``"progress"`` (warmer/colder only) and ``"level"`` (near/far only) are there for comparisons.
- **Stream** (a wrist, ``stream_judge="level"``): 100 samples a second of how much it likes where the
  sound is (+1 in the target region, 0 at ``level_steps`` steps, -1 at twice that), Gaussian noise 0.2.

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
    """How the simulated performer behaves (seconds, normalised distances; docs/agent.md)."""

    mode: str = "clicks"  # "clicks" | "stream"
    delay_min: float = 0.2  # reaction delay range
    delay_max: float = 1.5
    wrong_sign: float = 0.1  # probability that a click has the wrong sign
    radius_steps: float = 2.0  # within this many steps of the target, it is happy
    # Clicks: at moments 0.3-1 s apart it compares what it hears with what it heard judge_window earlier.
    click_judge: str = "human"  # "human": warmer / colder / there; "progress": warmer / colder; "level": near / far
    click_gap: tuple[float, float] = (0.3, 1.0)  # seconds between the moments it pays attention (uniform)
    judge_window: float = 1.0  # compares the distance now with this long ago
    notice_steps: float = 1.0  # a change smaller than this many steps goes unnoticed (no click)
    # Stream: a wrist held up or down, 100 samples a second.
    stream_judge: str = "level"  # "level": how close it is; "progress": warmer/colder; "both": their mean
    stream_rate: float = 100.0  # samples per second (stream)
    stream_noise: float = 0.2  # Gaussian noise on each sample
    stream_full_steps: float = 4.0  # coming this many steps closer within the window is a full +1
    level_steps: float = 15.0  # the level falls from +1 at the target to 0 this many steps away, -1 at twice


class SimulatedPerformer:
    """Rewards an explorer for approaching ``target`` (shape ``(dims,)``, normalised); thread-safe."""

    def __init__(self, target: np.ndarray, step: float, config: PerformerConfig | None = None, seed: int = 0) -> None:
        self.config = config or PerformerConfig()
        if self.config.mode not in ("clicks", "stream"):
            raise ValueError(f"performer mode must be 'clicks' or 'stream', got {self.config.mode!r}")
        if self.config.click_judge not in ("human", "progress", "level"):
            raise ValueError(f"performer click_judge must be 'human', 'progress' or 'level', got "
                             f"{self.config.click_judge!r}")
        if self.config.stream_judge not in ("level", "progress", "both"):
            raise ValueError(f"performer stream_judge must be 'level', 'progress' or 'both', got "
                             f"{self.config.stream_judge!r}")
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
        """How the performer feels about what it heard at ``t``, in [-1, 1] (0: nothing to say)."""
        c = self.config
        now_d = self._distance_at(t)
        progress = self._distance_at(t - c.judge_window) - now_d  # > 0: it came closer
        near = now_d <= c.radius_steps * self.step
        level = float(np.clip(1.0 - now_d / (c.level_steps * self.step), -1.0, 1.0))
        if c.mode == "clicks":
            warmer = float(np.sign(progress)) if abs(progress) >= c.notice_steps * self.step else 0.0
            if c.click_judge == "level":
                return 1.0 if near else float(np.sign(level))
            if c.click_judge == "progress":
                return warmer
            return 1.0 if near else warmer  # "human": "yes, that's it" when there, else warmer / colder
        if near:
            return 1.0
        warmer = float(np.clip(progress / (c.stream_full_steps * self.step), -1.0, 1.0))
        return {"progress": warmer, "level": level, "both": 0.5 * (warmer + level)}[c.stream_judge]

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
                    self._next_judgement = t + self.rng.uniform(*c.click_gap)
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
