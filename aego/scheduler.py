"""The score clock: which section plays now, and when the next one begins.

The scheduler is plain logic driven by the runner's clock (``now`` in ``time.monotonic()`` seconds),
so it can be tested without sound. Score time runs ``time_scale`` times faster than real time;
sections move on by duration, by the operator (cue, goto), or by a condition (the fixed point).
In unattended modes (``auto_cue``) a cue section moves on after its duration, or 60 score seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aego.score import AUTO_CUE_S, Score, Section


@dataclass(frozen=True)
class Transition:
    """Something the runner must act on.

    Attributes:
        kind: ``"enter"`` (a section begins) or ``"end"`` (the piece is over).
        index: the section's index (for ``end``: the last section played).
        section: the section entered (for ``end``: the last section played).
        reason: ``start``, ``resume``, ``duration``, ``auto-cue``, ``cue``, ``goto``, ``loop``, ``fixed-point``.
        ended_by: for ``end``: ``"duration"`` (the score ran out) or ``"fixed-point"``.
    """

    kind: str
    index: int
    section: Section
    reason: str
    ended_by: str | None = None


class FixedPoint:
    """Detects the explorer held still: every explored coordinate within ``radius`` of an anchor for
    ``hold`` seconds. Feed it normalised positions ``(dims,)`` with the time (real seconds: the machine and
    the performer keep real time whatever ``--time-scale`` does to the sections)."""

    def __init__(self, radius: float, hold: float) -> None:
        self.radius = radius
        self.hold = hold
        self.reset()

    def reset(self) -> None:
        self._anchor: np.ndarray | None = None
        self._since = 0.0

    def update(self, position: np.ndarray, score_t: float) -> bool:
        """True once the position has stayed within the radius of the anchor for ``hold`` seconds."""
        p = np.asarray(position, dtype=np.float64)
        if self._anchor is None or self._anchor.shape != p.shape or np.max(np.abs(p - self._anchor)) > self.radius:
            self._anchor = p.copy()
            self._since = score_t
            return False
        return score_t - self._since >= self.hold

    def progress(self, t: float) -> float:
        """How far through the hold the explorer is, 0-1 (for the console)."""
        if self._anchor is None or self.hold <= 0:
            return 0.0
        return float(min(1.0, max(0.0, (t - self._since) / self.hold)))


class Scheduler:
    """Follows a score on a scaled clock.

    Args:
        score: the validated score.
        time_scale: score seconds per real second (``--time-scale``).
        auto_cue: cue sections move on by themselves (install and play).
        loop: start again after the last section; ``None`` follows the score.
        ending: the score's fixed-point ending may end the run (installations turn it off).
    """

    def __init__(self, score: Score, time_scale: float = 1.0, *, auto_cue: bool = False,
                 loop: bool | None = None, ending: bool = True) -> None:
        if not time_scale > 0:
            raise ValueError("time_scale must be positive")
        self.score = score
        self.time_scale = float(time_scale)
        self.auto_cue = auto_cue
        self.loop = score.loop if loop is None else loop
        self.ending = ending
        self.index = 0
        self.loops = 0
        self.dims_override: int | None = None
        self.ended: str | None = None
        self._entered_real = 0.0
        self._offset = 0.0  # score seconds already spent in this section before _entered_real (resume)
        end = score.end
        self.fixed_point = FixedPoint(end.radius, end.hold) if end else None

    # -- state ----------------------------------------------------------------------------------
    @property
    def section(self) -> Section:
        return self.score.sections[self.index]

    @property
    def dims(self) -> int:
        """Explored dimensions now: the operator's override, else the section's."""
        return self.dims_override if self.dims_override is not None else self.section.dims

    def elapsed(self, now: float) -> float:
        """Score seconds spent in the current section."""
        return self._offset + (now - self._entered_real) * self.time_scale

    def limit(self) -> float | None:
        """Score seconds after which the current section moves on by itself, or ``None`` (waits for a cue)."""
        s = self.section
        if not s.cue:
            return s.duration
        if self.auto_cue:
            return s.duration if s.duration is not None else AUTO_CUE_S
        return None

    def remaining(self, now: float) -> float | None:
        limit = self.limit()
        return None if limit is None else max(0.0, limit - self.elapsed(now))

    def state(self, now: float) -> dict:
        """What a resumed run needs to continue from here (JSON-ready)."""
        return {"index": self.index, "section": self.section.name, "elapsed": self.elapsed(now),
                "loops": self.loops, "dims_override": self.dims_override}

    # -- moves ----------------------------------------------------------------------------------
    def start(self, now: float, state: dict | None = None) -> Transition:
        """Enter the first section, or the one saved in ``state`` (see :meth:`state`) at its elapsed time."""
        if state is None:
            return self._enter(0, now, "start")
        index = int(state.get("index", 0))
        name = state.get("section")
        if name is not None:
            try:
                index = self.score.index_of(name)
            except KeyError:
                index = min(max(index, 0), len(self.score.sections) - 1)
        self.loops = int(state.get("loops", 0))
        transition = self._enter(index, now, "resume")
        self._offset = max(0.0, float(state.get("elapsed", 0.0)))
        override = state.get("dims_override")
        self.dims_override = int(override) if override else None
        return transition

    def update(self, now: float) -> list[Transition]:
        """Transitions due at ``now`` by duration (several if the clock jumped over short sections)."""
        out: list[Transition] = []
        for _ in range(len(self.score.sections) + 1):
            if self.ended:
                break
            limit = self.limit()
            elapsed = self.elapsed(now)
            if limit is None or elapsed < limit:
                break
            # carry the overshoot into the next section so the score clock does not drift
            overshoot_real = (elapsed - limit) / self.time_scale
            reason = "auto-cue" if self.section.cue else "duration"
            t = self._advance(now, reason)
            out.append(t)
            if t.kind == "enter":
                self._entered_real = now - overshoot_real
        return out

    def cue(self, now: float) -> Transition:
        """The operator's cue: the next section (or the end, or the first again when looping)."""
        return self._advance(now, "cue")

    def goto(self, name: str, now: float) -> Transition:
        """Jump to the named section; ``KeyError`` if the score has none."""
        return self._enter(self.score.index_of(name), now, "goto")

    def set_dims(self, dims: int | None) -> None:
        """Override the explored dimensions until the next section (``None`` clears it)."""
        self.dims_override = dims

    def observe(self, position: np.ndarray, now: float) -> Transition | None:
        """Feed the explorer's position; returns the transition a held fixed point causes, if any."""
        if self.fixed_point is None or self.ended:
            return None
        armed_end = self.ending and self.section.name in self.score.end.sections  # type: ignore[union-attr]
        if not (armed_end or self.section.until == "fixed-point"):
            return None
        if not self.fixed_point.update(position, now):
            return None
        if armed_end:
            self.ended = "fixed-point"
            return Transition("end", self.index, self.section, "fixed-point", ended_by="fixed-point")
        return self._advance(now, "fixed-point")

    def _advance(self, now: float, reason: str) -> Transition:
        nxt = self.index + 1
        if nxt < len(self.score.sections):
            return self._enter(nxt, now, reason)
        if self.loop:
            self.loops += 1
            return self._enter(0, now, "loop" if reason in ("duration", "auto-cue") else reason)
        self.ended = "duration"
        return Transition("end", self.index, self.section, reason, ended_by="duration")

    def _enter(self, index: int, now: float, reason: str) -> Transition:
        self.index = index
        self._entered_real = now
        self._offset = 0.0
        self.dims_override = None
        if self.fixed_point is not None:
            self.fixed_point.reset()
        return Transition("enter", index, self.section, reason)
