"""The explorer's settings: one typed dataclass, loadable from a TOML table.

Times are in seconds, positions in normalised coordinates ``[0, 1]`` per axis.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aego.agent.tiles import fits

from aego.errors import UsageError


@dataclass
class AgentConfig:
    """Everything that shapes the explorer's behaviour (defaults are the measured ones, docs/agent.md)."""

    # Walking.
    period: float = 0.05  # seconds between actions (the score and /aego/period change it live)
    step: float = 0.01  # one action moves this far along one axis, in normalised coordinates
    max_dims: int = 8  # network input slots: dims can change 1..max_dims without a reset
    max_spaces: int = 4  # space slots in the network input (more spaces share slots round-robin)

    # The reward model Ĥ(s, a).
    hidden: tuple[int, ...] = (64, 64)
    learning_rate: float = 2e-3
    position_scale: float = 4.0  # inputs are (u - 0.5) * scale: sharper boundaries for small steps
    position_bumps: int = 21  # Gaussian bumps per axis in the input (0: coordinates only)

    # Credit assignment: the performer's reaction delay, as a distribution over seconds.
    delay: str = "uniform"  # "uniform" (Deep TAMER) or "co-explorer" (0.9^i over ten bins)
    delay_min: float = 0.2
    delay_max: float = 1.5
    min_credit: float = 1e-3  # pairs credited less than this are not learned from

    # What a reward says (docs/agent.md): "change" (better / worse than a moment ago) or "place" (I like it here).
    click_meaning: str = "change"
    stream_meaning: str = "place"
    change_window: float = 1.0  # seconds: a "change" compares what was heard with what was heard this long before
    change_gain: float = 10.0  # P(better) = sigmoid(change_gain * (N(after) - N(before)))
    change_trust: float = 0.8  # a "+" means P(better) = (1 + trust) / 2: one click in ten is a slip

    # Feedback replay and updates.
    replay_size: int = 10000
    batch_size: int = 32
    replay_every: int = 2  # actions between replay updates
    updates_per_feedback: int = 1

    # Action choice.
    epsilon: float = 0.1  # epsilon-greedy, decaying as epsilon * exp(-actions / epsilon_decay_actions)
    epsilon_decay_actions: float = 2000.0
    epsilon_min: float = 0.01
    explore_run: tuple[int, int] = (1, 1)  # an exploratory move is held for this many actions (min, max)
    persistence: float = 0.0  # added to the estimate of repeating the last move
    # While taught by a stream, moves whose estimates are within this of the best are equal, one drawn among them
    # (closer estimates differ by the network's noise; followed, they swing between two places, docs/agent.md).
    tie: float = 0.01
    # While taught by clicks: move in gestures of gesture_steps steps, then listen (wobble in place) for up
    # to listen seconds or until a click answers; gesture_steps = 0 keeps moving every action.
    gesture_steps: int = 3
    listen: float = 1.0
    gesture_explore: float = 0.2  # a gesture goes a random allowed way this often
    # While taught by clicks: head back to the best place heard (by N) when it is this many steps away or more,
    # among the last return_places places where gestures ended (0: never).
    return_steps: float = 3.0
    return_places: int = 256
    # The place headed for is the mean of the return_top places the network likes best; arrived there, the
    # explorer stays (listening, whatever the answers) for linger seconds (0: as after any gesture). Measured
    # (docs/agent.md): linger 2 with gesture_explore 0.1 is better over 160 seeds, worse on the bench's 5.
    return_top: int = 1
    linger: float = 0.0
    taught_memory: float = 10.0  # seconds after the last click that the explorer still counts as taught by clicks

    # Curiosity: pseudo-counts over a tile-coded grid of visited positions.
    novelty_weight: float = 0.1  # beta: the bonus scale with no feedback
    novelty_cap: float = 2.0  # bonus = min(cap, (N + 0.01) ** -0.5)
    novelty_cell: float = 0.02  # tile width (two default steps)
    novelty_tilings: int = 4
    novelty_lookahead: int = 3  # the bonus of a move looks this many steps along it
    novelty_feedback_decay: float = 0.5  # beta is multiplied by this at every feedback
    novelty_recovery: float = 20.0  # seconds for beta to come back (1/e) once feedback stops
    explore_candidates: int = 64  # /aego/explore samples this many positions and jumps to the most novel

    # Rewards.
    stream_window: float = 0.25  # a continuous stream becomes one feedback per window
    stream_deadband: float = 0.1  # stream samples closer to 0 than this say nothing
    zone_steps: int = 5  # /aego/zone labels moves within this many steps of the anchor
    zone_weight: float = 2.0

    # History (back/forward).
    history_size: int = 4000
    history_stride: int = 20  # back() and forward() move this many actions

    # Learning off the timing thread: "thread" (live) or "sync" (simulated time, tests).
    learner: str = "thread"
    learner_poll: float = 0.01  # seconds between the learner's looks at the inbox (nothing wakes it)

    def __post_init__(self) -> None:
        self.hidden = tuple(int(h) for h in self.hidden)
        self.explore_run = (int(self.explore_run[0]), int(self.explore_run[1]))
        self.validate()

    def validate(self) -> None:
        """Raise :class:`UsageError` naming the first setting that is out of range."""
        positive = ("period", "step", "learning_rate", "delay_max", "novelty_cell", "stream_window", "position_scale",
                    "change_window", "change_gain", "learner_poll", "listen", "taught_memory")
        for name in positive:
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise UsageError(f"agent setting '{name}' must be a positive number, got {value!r}")
        if not (isinstance(self.change_trust, int | float) and 0 < self.change_trust <= 1):
            raise UsageError(f"agent change_trust must be in (0, 1], got {self.change_trust!r}")
        if not (isinstance(self.gesture_explore, int | float) and 0 <= self.gesture_explore <= 1):
            raise UsageError(f"agent gesture_explore must be in [0, 1], got {self.gesture_explore!r}")
        for name in ("tie", "return_steps", "linger"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise UsageError(f"agent setting '{name}' must be a number >= 0, got {value!r}")
        if not (isinstance(self.return_top, int) and self.return_top >= 1):
            raise UsageError(f"agent return_top must be a whole number >= 1, got {self.return_top!r}")
        if not (isinstance(self.return_places, int) and self.return_places >= 0):
            raise UsageError(f"agent return_places must be a whole number >= 0, got {self.return_places!r}")
        if not (isinstance(self.gesture_steps, int) and self.gesture_steps >= 0):
            raise UsageError(f"agent gesture_steps must be a whole number >= 0, got {self.gesture_steps!r}")
        if not 0 <= self.delay_min < self.delay_max:
            raise UsageError(f"agent delay_min must be in [0, delay_max), got {self.delay_min!r}")
        if self.delay not in ("uniform", "co-explorer"):
            raise UsageError(f"agent setting 'delay' must be 'uniform' or 'co-explorer', got {self.delay!r}")
        for name in ("click_meaning", "stream_meaning"):
            if getattr(self, name) not in ("change", "place"):
                raise UsageError(f"agent setting '{name}' must be 'change' or 'place', got {getattr(self, name)!r}")
        if self.learner not in ("thread", "sync"):
            raise UsageError(f"agent setting 'learner' must be 'thread' or 'sync', got {self.learner!r}")
        if not 1 <= self.max_dims <= 64:
            raise UsageError(f"agent max_dims must be in 1..64, got {self.max_dims!r}")
        for name in ("replay_size", "batch_size", "replay_every", "novelty_tilings", "history_size", "history_stride",
                     "novelty_lookahead"):
            if int(getattr(self, name)) < 1:
                raise UsageError(f"agent setting '{name}' must be at least 1, got {getattr(self, name)!r}")
        if not fits(self.novelty_cell, self.novelty_tilings, self.max_dims):
            raise UsageError(f"agent novelty_cell {self.novelty_cell!r} is too small for {self.max_dims} axes "
                             "(tile codes must fit 62 bits; try 0.01 or more)")

    @classmethod
    def from_dict(cls, table: dict[str, Any]) -> AgentConfig:
        """Build from a mapping (a TOML table); unknown keys are refused with their name."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(table) - names)
        if unknown:
            raise UsageError(f"unknown agent setting '{unknown[0]}' (known: {', '.join(sorted(names))})")
        return cls(**table)

    @classmethod
    def from_toml(cls, path: str | Path, table: str = "agent") -> AgentConfig:
        """Read the ``[agent]`` table of a TOML file (the whole file if it has no such table)."""
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise UsageError(f"cannot read agent settings {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"agent settings {path} is not valid TOML: {exc}") from None
        return cls.from_dict(data.get(table, data))

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["hidden"] = list(self.hidden)
        return out
