"""What every explorer offers (the interface of docs/architecture.md) and the walking they share.

An explorer holds a position in the active sub-space (normalised coordinates in ``[0, 1]``, shape
``(dims,)``), moves it one step along one axis per ``act``, and takes the performer's rewards. The
subclasses decide *which* step: :class:`~aego.agent.tamer.DeepTamer` learns it, and
:class:`~aego.agent.random_walk.RandomWalk` draws it.

Threads: ``act`` is called from the pacer thread, the rest from the main loop; one lock keeps
the position and the recent trajectory consistent and is held only for short, bounded work.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
from aego.agent import persistence
from aego.agent.actions import Action, apply, index_action
from aego.agent.config import AgentConfig

log = logging.getLogger("aego.agent")


class Explorer:
    """Base explorer: position, bounds, history, input checks, counters, saving."""

    kind = "explorer"

    def __init__(self, config: AgentConfig | None = None, seed: int = 0) -> None:
        self.config = config or AgentConfig()
        self.seed = int(seed)
        self.rng = np.random.default_rng(seed)
        self.step = self.config.step
        self.period = self.config.period
        self.dims = 1
        self.position = np.full(1, 0.5)
        self.space = "default"
        self.paused = False
        self.counts = {"actions": 0, "feedback": 0, "stream_samples": 0, "stream_feedback": 0, "zones": 0,
                       "explores": 0, "nonfinite_dropped": 0, "clipped": 0, "jumps": 0}
        self.by_source: dict[str, int] = {}
        self.messages: list[str] = []  # things the operator should be told (e.g. a corrupt file)
        self.last_action: Action | None = None
        self._history: deque[np.ndarray] = deque(maxlen=self.config.history_size)
        self._cursor: int | None = None  # set while browsing the history with back/forward
        self._lock = threading.RLock()

    # -- the piece's changes ----------------------------------------------------------------------
    def configure(self, dims: int, position: np.ndarray | list[float] | None = None, step: float | None = None) -> None:
        """Enter a section or change the number of explored axes; what was learned is kept.

        dims: active axes, 1..config.max_dims; position: ``(dims,)`` normalised coordinates (None keeps
        the current coordinates of the axes that stay and puts new axes at 0.5); step: the move size.
        """
        dims = int(dims)
        if not 1 <= dims <= self.config.max_dims:
            raise ValueError(f"dims must be between 1 and {self.config.max_dims}, got {dims}")
        if position is None:
            pos = np.full(dims, 0.5)
            keep = min(dims, self.dims)
            pos[:keep] = self.position[:keep]
        else:
            pos = np.asarray(position, dtype=np.float64).reshape(-1)
            if pos.shape != (dims,) or not np.all(np.isfinite(pos)):
                raise ValueError(f"position must be {dims} finite numbers in [0, 1], got {pos.tolist()}")
        if step is not None and not (math.isfinite(step) and 0 < step <= 1):
            raise ValueError(f"step must be in (0, 1], got {step}")
        with self._lock:
            self.dims = dims
            self.position = np.clip(pos, 0.0, 1.0)
            if step is not None:
                self.step = float(step)
            self._history.clear()
            self._cursor = None
            self._jumped(None)

    def set_space(self, key: str) -> None:
        """The piece moved to another sound space (``key`` names it; the position is set by ``configure``)."""
        with self._lock:
            self.space = str(key)
            self._history.clear()
            self._cursor = None
            self._jumped(None)

    def set_period(self, period: float) -> None:
        """The action period changed (seconds; the pacer does the timing, this is for reports)."""
        if not (math.isfinite(period) and period > 0):
            raise ValueError(f"period must be a positive number of seconds, got {period}")
        with self._lock:
            self.period = float(period)

    # -- acting -----------------------------------------------------------------------------------
    def act(self, now: float) -> Action | None:
        """Take one step (``now``: seconds, monotonic); None while paused."""
        with self._lock:
            if self.paused:
                return None
            self._tick(now)
            index = self._choose(now)
            old = self.position
            self.position = apply(old, index, self.step)  # a new array: positions are never changed in place
            if self._cursor is not None:  # acting after going back drops the forward history
                while len(self._history) > self._cursor + 1:
                    self._history.pop()
                self._cursor = None
            self._history.append(self.position)
            self.counts["actions"] += 1
            self._moved(now, index, old, self.position)
            dim, direction = index_action(index)
            self.last_action = Action(dim, direction, self.position.copy())
            return self.last_action

    def pause(self, paused: bool) -> None:
        with self._lock:
            self.paused = bool(paused)

    def back(self) -> np.ndarray:
        """Return to where the explorer was ``history_stride`` actions ago; the new position."""
        with self._lock:
            if self._history:
                here = len(self._history) - 1 if self._cursor is None else self._cursor
                self._cursor = max(0, here - self.config.history_stride)
                self._jump(self._history[self._cursor])
            return self.position.copy()

    def forward(self) -> np.ndarray:
        """Undo ``back`` by the same stride; the new position."""
        with self._lock:
            if self._cursor is not None:
                self._cursor = min(len(self._history) - 1, self._cursor + self.config.history_stride)
                self._jump(self._history[self._cursor])
                if self._cursor == len(self._history) - 1:
                    self._cursor = None
            return self.position.copy()

    def explore(self, now: float) -> np.ndarray:
        """Jump somewhere new (``/aego/explore``); the new position."""
        with self._lock:
            self.counts["explores"] += 1
            self._jump(self._explore_target(now))
            self._explored(now)
            return self.position.copy()

    # -- rewards ----------------------------------------------------------------------------------
    def feedback(self, value: float, now: float, source: str = "osc") -> bool:
        """A discrete reward in [-1, 1] (outside values are clipped); False if it was dropped."""
        v = self._clean(value)
        if v is None:
            return False
        with self._lock:
            self.counts["feedback"] += 1
            self.by_source[source] = self.by_source.get(source, 0) + 1
            self._learn_feedback(v, float(now))
        return True

    def stream(self, value: float, now: float) -> bool:
        """One sample of a continuous reward (an IMU at 50-200 Hz); False if it was dropped."""
        v = self._clean(value)
        if v is None:
            return False
        with self._lock:
            self.counts["stream_samples"] += 1
            self._learn_stream(v, float(now))
        return True

    def zone(self, value: float, now: float) -> bool:
        """Like (+) or dislike (-) the neighbourhood of the current position; False if dropped."""
        v = self._clean(value)
        if v is None:
            return False
        with self._lock:
            self.counts["zones"] += 1
            self._learn_zone(v, float(now))
        return True

    def _clean(self, value: Any) -> float | None:
        try:
            v = float(value)
        except (TypeError, ValueError):
            v = math.nan
        if not math.isfinite(v):
            self.counts["nonfinite_dropped"] += 1
            return None
        if v > 1.0 or v < -1.0:
            self.counts["clipped"] += 1
            v = max(-1.0, min(1.0, v))
        return v

    # -- reports ----------------------------------------------------------------------------------
    def overlay(self) -> dict[str, Any]:
        """A compact view of the explorer's mind, for the projected text."""
        with self._lock:
            return {"agent": self.kind, "space": self.space, "dims": self.dims,
                    "position": [round(float(u), 3) for u in self.position], "paused": self.paused,
                    "actions": self.counts["actions"], "feedback": self.counts["feedback"],
                    **self._overlay_extra()}

    def summary(self) -> dict[str, Any]:
        """Plain data for the session's summary.json ``agent`` entry."""
        with self._lock:
            return {"kind": self.kind, "seed": self.seed, "space": self.space, "dims": self.dims,
                    "step": self.step, "period": self.period, **self.counts, "by_source": dict(self.by_source),
                    "messages": list(self.messages), **self._summary_extra()}

    # -- persistence ------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the explorer to ``path`` (safetensors + JSON; no pickle)."""
        # Waiting for the learner happens before the lock: inside it, every action waited too (up to 1 s, and
        # longer as the learner's cycles grew: the explorer paused at every save late in an hour-long run).
        self._settle()
        with self._lock:
            arrays, meta = self._state()
            meta.update({"kind": self.kind, "seed": self.seed, "space": self.space, "dims": self.dims,
                         "step": self.step, "position": self.position.tolist(), "counts": self.counts,
                         "by_source": self.by_source, "rng": self.rng.bit_generator.state})
        persistence.write(path, arrays, meta)

    def load(self, path: str | Path) -> bool:
        """Continue from ``path``. A missing or unusable file: start fresh, say so (``messages`` and the log),
        keep the old file aside as ``NAME.corrupt-<time>``; returns True when the file was used."""
        try:
            arrays, meta = persistence.read(path)
            if not isinstance(meta, dict):
                raise persistence.AgentFileError(f"{path} has metadata that is not a JSON object")
            if meta.get("kind") != self.kind:
                raise persistence.AgentFileError(f"{path} holds a '{meta.get('kind')}' agent, not '{self.kind}'")
            # Check the explorer's own fields before anything changes, so a refused file leaves it fresh.
            dims = int(meta["dims"])
            if not 1 <= dims <= self.config.max_dims:
                raise ValueError(f"dims {dims} is outside 1..{self.config.max_dims}")
            position = np.asarray(meta["position"], dtype=np.float64)
            if position.shape != (dims,) or not np.all(np.isfinite(position)):
                raise ValueError(f"the position does not have {dims} finite coordinates")
            step = float(meta["step"])
            if not (math.isfinite(step) and step > 0):
                raise ValueError(f"step {step} is not a positive number")
            counts = {k: int(v) for k, v in dict(meta["counts"]).items() if k in self.counts}
            by_source = {str(k): int(v) for k, v in dict(meta["by_source"]).items()}
            rng = np.random.default_rng()
            rng.bit_generator.state = meta["rng"]
            with self._lock:
                self._restore(arrays, meta)
                self.space = str(meta["space"])
                self.dims = dims
                self.step = step
                self.position = np.clip(position, 0.0, 1.0)
                self.counts.update(counts)
                self.by_source = by_source
                self.rng.bit_generator.state = rng.bit_generator.state
            return True
        # A damaged file can fail in many ways (types, sizes, nesting, overflow): every one means start fresh.
        except Exception as exc:
            moved = None if isinstance(exc, persistence.AgentFileError) and not Path(path).exists() \
                else persistence.set_aside(path)
            kept = f"; the old file is kept as {moved}" if moved else ""
            message = f"agent file unusable, starting fresh: {exc}{kept}"
            self.messages.append(message)
            log.warning(message)
            return False

    def close(self) -> None:
        """Stop background work (idempotent)."""

    # -- for subclasses ---------------------------------------------------------------------------
    def _tick(self, now: float) -> None:
        """Called at the start of every act, under the lock."""

    def _choose(self, now: float) -> int:
        """The index of the next move (allowed by ``valid_mask(self.position, ...)``)."""
        raise NotImplementedError

    def _moved(self, now: float, index: int, old: np.ndarray, new: np.ndarray) -> None:
        """After a step."""

    def _jump(self, position: np.ndarray) -> None:
        self.position = np.clip(np.asarray(position, dtype=np.float64).copy(), 0.0, 1.0)
        self.counts["jumps"] += 1
        self._jumped(self.position)

    def _jumped(self, position: np.ndarray | None) -> None:
        """After a move that was not a step (history, explore, a new section)."""

    def _explore_target(self, now: float) -> np.ndarray:
        return self.rng.random(self.dims)

    def _explored(self, now: float) -> None:
        """After explore()."""

    def _learn_feedback(self, value: float, now: float) -> None:
        """A click has arrived (value already checked and clipped)."""

    def _learn_stream(self, value: float, now: float) -> None:
        """A stream sample has arrived."""

    def _learn_zone(self, value: float, now: float) -> None:
        """A zone feedback has arrived."""

    def _overlay_extra(self) -> dict[str, Any]:
        return {}

    def _summary_extra(self) -> dict[str, Any]:
        return {}

    def _settle(self) -> None:
        """Let background learning catch up before a snapshot (called without the lock)."""

    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return {}, {}

    def _restore(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        """Check everything first, then replace the learned state (a failure leaves the explorer as it was)."""
