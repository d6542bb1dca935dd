"""The operator's controls: keys and MIDI turned into the same controls as OSC (CONTRACT §4).

The second person of the piece moves the score on, changes the explored dimensions, pauses the
machine, rides the gain. Keys come from the visuals window (pygame key names) or the terminal
console (single characters); MIDI comes through mido when a port exists. Both produce
:class:`aego.sensors.events.Control` objects with the contract's OSC addresses, so the runner
applies every control in one place, whatever it came from.

Keys (both the window and the console)::

    n  →  enter      next section (cue)          1 … 8        explored dimensions (override)
    space            pause / resume the machine  e            explore: jump somewhere new
    b  /  f          back / forward in its path  z  /  x      like / dislike this zone
    [  /  ]          slower / faster actions     ,  /  .      gain down / up
    0                mute / unmute               Q  (twice)   stop the run (fade out; Esc twice in the window)
    ↑ + p  /  ↓ - m  reward +1 / -1 (rehearsal; hold for a continuous reward)

MIDI (any channel)::

    note 60 (C4)   next section          note 62 (D4)   explore
    note 64 (E4)   pause / resume        notes 36-51    go to section 1-16 (pads)
    CC 1 (mod)     dims 1 … 8            CC 7 (volume)  gain 0 … 2
    CC 64 (pedal)  pause while held      notes 72 / 71  reward +1 / -1
"""

from __future__ import annotations

import collections
import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from aego.sensors.events import Control, Reward

KEY_HELP: list[tuple[str, str]] = [
    ("n / enter", "next section"),
    ("1-8", "dims"),
    ("space", "pause"),
    ("e", "explore"),
    ("b / f", "back / forward"),
    ("z / x", "like / dislike zone"),
    ("[ / ]", "slower / faster"),
    (", / .", "gain - / +"),
    ("0", "mute"),
    ("Q Q / Esc Esc", "stop"),
]


@dataclass
class OperatorState:
    """What the operator's toggles need to remember (paused, muted, gain, period)."""

    paused: bool = False
    muted: bool = False
    gain: float = 1.0
    period: float = 0.08


@dataclass
class MidiMap:
    """Which MIDI messages do what (see the module doc)."""

    cue_note: int = 60
    explore_note: int = 62
    pause_note: int = 64
    like_note: int = 72
    dislike_note: int = 71
    section_notes: tuple[int, int] = (36, 51)
    dims_cc: int = 1
    gain_cc: int = 7
    pause_cc: int = 64
    max_dims: int = 8


@dataclass
class Operator:
    """Turns operator input into controls.

    Args:
        state: the toggles, shared with the runner (it updates ``period`` when a section sets it).
        sections: the score's section names, for MIDI pads.
        confirm_stop_s: ``Q`` must be pressed twice within this many seconds.
    """

    state: OperatorState = field(default_factory=OperatorState)
    sections: list[str] = field(default_factory=list)
    midi_map: MidiMap = field(default_factory=MidiMap)
    confirm_stop_s: float = 2.0
    _stop_armed: float = -1e9

    def key(self, key: str, t: float) -> list[Control | Reward]:
        """A key pressed at ``t``: the controls it means (empty for keys that mean nothing here)."""
        k = key if len(key) == 1 else key.lower()
        c = self._control
        if k in ("n", "return", "enter", "\r", "\n"):
            return [c("/aego/cue", (), t)]
        if len(k) == 1 and k in "12345678":
            return [c("/aego/dims", (int(k),), t)]
        if k in ("space", " "):
            return [c("/aego/pause", (int(not self.state.paused),), t)]
        if k == "e":
            return [c("/aego/explore", (), t)]
        if k == "b":
            return [c("/aego/back", (), t)]
        if k == "f":
            return [c("/aego/forward", (), t)]
        if k == "z":
            return [c("/aego/zone", (1.0,), t)]
        if k == "x":
            return [c("/aego/zone", (-1.0,), t)]
        if k in ("[", "leftbracket"):
            return [c("/aego/period", (min(10.0, self.state.period * 1.25),), t)]
        if k in ("]", "rightbracket"):
            return [c("/aego/period", (max(0.005, self.state.period / 1.25),), t)]
        if k in (",", "comma"):
            return [c("/aego/gain", (max(0.0, self.state.gain / 1.25),), t)]
        if k in (".", "period"):
            return [c("/aego/gain", (min(4.0, max(0.05, self.state.gain) * 1.25),), t)]
        if k == "0":
            return [c("/aego/mute", (int(not self.state.muted),), t)]
        if k in ("Q", "escape"):  # the window gives no shift state: Esc twice stops there
            if t - self._stop_armed <= self.confirm_stop_s:
                return [c("/aego/stop", (), t)]
            self._stop_armed = t
            return [c("/aego/notice", (f"press {'Esc' if k == 'escape' else 'Q'} again to stop",), t)]
        return []

    def midi(self, message: object, t: float) -> list[Control | Reward]:
        """A mido message at ``t``: the controls it means."""
        m = self.midi_map
        kind = getattr(message, "type", "")
        c = self._control
        if kind == "note_on" and getattr(message, "velocity", 0) > 0:
            note = int(message.note)  # type: ignore[attr-defined]
            if note == m.cue_note:
                return [c("/aego/cue", (), t)]
            if note == m.explore_note:
                return [c("/aego/explore", (), t)]
            if note == m.pause_note:
                return [c("/aego/pause", (int(not self.state.paused),), t)]
            if note == m.like_note:
                return [Reward(1.0, "midi", t, continuous=False)]
            if note == m.dislike_note:
                return [Reward(-1.0, "midi", t, continuous=False)]
            lo, hi = m.section_notes
            if lo <= note <= hi and note - lo < len(self.sections):
                return [c("/aego/section", (self.sections[note - lo],), t)]
        elif kind == "control_change":
            number, value = int(message.control), int(message.value)  # type: ignore[attr-defined]
            if number == m.dims_cc:
                return [c("/aego/dims", (1 + min(m.max_dims - 1, value * m.max_dims // 128),), t)]
            if number == m.gain_cc:
                return [c("/aego/gain", (round(2.0 * value / 127, 3),), t)]
            if number == m.pause_cc:
                return [c("/aego/pause", (int(value >= 64),), t)]
        return []

    @staticmethod
    def _control(address: str, args: tuple, t: float) -> Control:
        return Control(address, args, t)


class MidiInput:
    """Listens to one MIDI input port through mido; messages are queued for :meth:`poll`.

    A missing backend, no port, or a port that cannot be opened never fails a run: :meth:`open`
    returns ``(False, reason)`` and the run goes on without MIDI.
    """

    def __init__(self, port: str | None, clock: Callable[[], float]) -> None:
        self.want = port
        self.clock = clock
        self.name: str | None = None
        self._port = None
        self._pending: collections.deque = collections.deque(maxlen=1000)
        self._lock = threading.Lock()

    def open(self) -> tuple[bool, str]:
        if self.want is None:
            return False, "no MIDI (--midi not given)"
        try:
            import mido

            names = mido.get_input_names()
        except Exception as exc:  # no backend (python-rtmidi), no ALSA sequencer, ...
            return False, f"no MIDI: {type(exc).__name__}: {exc}".splitlines()[0]
        if not names:
            return False, "no MIDI input port on this machine"
        if self.want == "auto":
            name = names[0]
        else:
            matches = [n for n in names if self.want.lower() in n.lower()]
            if not matches:
                return False, f"no MIDI port matching '{self.want}' (ports: {', '.join(names)})"
            name = matches[0]
        try:
            self._port = mido.open_input(name, callback=self._received)
        except Exception as exc:
            return False, f"MIDI port '{name}' cannot be opened ({exc})"
        self.name = name
        return True, f"MIDI from '{name}'"

    def _received(self, message: object) -> None:
        # mido's callback thread: only queue the message
        self._pending.append((message, self.clock()))

    def poll(self) -> list[tuple[object, float]]:
        out = []
        while self._pending:
            out.append(self._pending.popleft())
        return out

    def close(self) -> None:
        if self._port is not None:
            with contextlib.suppress(Exception):
                self._port.close()
            self._port = None
