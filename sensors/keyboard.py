"""Rehearsal reward from keys: a tap gives a discrete reward, a held key a continuous one.

Key names are pygame's (``pygame.key.name``) or single characters from a terminal. The window or the
console calls :meth:`KeyboardReward.press` / :meth:`release` and :meth:`tick` every frame; each returns
:class:`Reward` events with ``source="keyboard"``.

Default keys (``LEGEND`` is what the on-screen legend shows)::

    ↑  +  =  p     like     (+1)
    ↓  -     m     dislike  (-1)
    hold a key for a continuous reward (after 0.3 s, repeated every tick)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aego.sensors.events import Reward

DEFAULT_KEYS: dict[str, float] = {
    "up": 1.0, "+": 1.0, "=": 1.0, "[+]": 1.0, "p": 1.0,
    "down": -1.0, "-": -1.0, "[-]": -1.0, "m": -1.0,
}

LEGEND: list[tuple[str, str]] = [
    ("↑ / + / p", "like (+1); hold for a continuous reward"),
    ("↓ / - / m", "dislike (-1); hold for a continuous reward"),
]


@dataclass
class KeyboardConfig:
    """``keys``: key name → reward value in [-1, 1]; ``hold_s``: how long a press lasts before it counts
    as held; ``repeat_s``: the period of the continuous reward while held."""

    keys: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_KEYS))
    hold_s: float = 0.3
    repeat_s: float = 0.05


class KeyboardReward:
    """Key presses and releases in, Reward events out."""

    def __init__(self, config: KeyboardConfig | None = None) -> None:
        self.config = config or KeyboardConfig()
        self._held: dict[str, float] = {}  # key → press time
        self._last_repeat = 0.0

    def handles(self, key: str) -> bool:
        return key.lower() in self.config.keys

    def press(self, key: str, t: float) -> list[Reward]:
        """A key went down at ``t`` (s): a discrete reward if it is a reward key (auto-repeats ignored)."""
        k = key.lower()
        if k not in self.config.keys or k in self._held:
            return []
        self._held[k] = t
        return [Reward(max(-1.0, min(1.0, self.config.keys[k])), "keyboard", t, continuous=False)]

    def release(self, key: str, t: float) -> list[Reward]:
        """A key went up; releasing the last held key ends the continuous reward with a 0."""
        k = key.lower()
        pressed = self._held.pop(k, None)
        if pressed is not None and t - pressed >= self.config.hold_s and not self._held:
            return [Reward(0.0, "keyboard", t, continuous=True)]
        return []

    def tick(self, t: float) -> list[Reward]:
        """Call every frame: while keys are held past ``hold_s``, a continuous reward every ``repeat_s``."""
        held = [k for k, t0 in self._held.items() if t - t0 >= self.config.hold_s]
        if not held or t - self._last_repeat < self.config.repeat_s:
            return []
        self._last_repeat = t
        value = max(-1.0, min(1.0, sum(self.config.keys[k] for k in held)))
        return [Reward(value, "keyboard", t, continuous=True)]

    def release_all(self, t: float) -> list[Reward]:
        """Focus lost: forget every held key (a key released outside the window never sends its release)."""
        was_held = any(t - t0 >= self.config.hold_s for t0 in self._held.values())
        self._held.clear()
        return [Reward(0.0, "keyboard", t, continuous=True)] if was_held else []
