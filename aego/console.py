"""The operator's terminal console (rich): the section and its clock, dims, sensors, the reward,
the audio load and underflows, the hotkeys; and the keys typed into it.

Shown only when stdout is a terminal (``--console on`` forces it, ``off`` hides it). Keys are read
from stdin in cbreak mode on a thread of their own and queued; the terminal is restored at the end,
even after an error.
"""

from __future__ import annotations

import collections
import contextlib
import os
import select
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aego.operator import KEY_HELP


@dataclass
class ConsoleState:
    """What the console shows (plain data filled by the runner)."""

    mode: str = ""
    score: str = ""
    section: str = ""
    section_index: int = 0
    sections: int = 0
    elapsed: float = 0.0
    remaining: float | None = None
    waiting_cue: bool = False
    space: str = ""
    projection: str = ""
    dims: int = 0
    period: float = 0.0
    position: tuple[float, ...] = ()
    actions: int = 0
    reward: float | None = None
    reward_source: str = ""
    rewards: int = 0
    sensors: list[dict] = field(default_factory=list)
    audio: dict[str, Any] = field(default_factory=dict)
    paused: bool = False
    muted: bool = False
    gain: float = 1.0
    hold: float = 0.0
    run_time: float = 0.0
    notices: list[str] = field(default_factory=list)
    session: str = ""
    keys: list[tuple[str, str]] = field(default_factory=list)


def _bar(value: float, width: int = 21) -> str:
    """A centred meter for a value in [-1, 1]."""
    v = max(-1.0, min(1.0, value))
    half = width // 2
    n = round(abs(v) * half)
    left = " " * (half - (n if v < 0 else 0)) + ("█" * n if v < 0 else "")
    right = ("█" * n if v > 0 else "") + " " * (half - (n if v > 0 else 0))
    return f"[{left}│{right}]"


def _clock(seconds: float) -> str:
    s = int(max(0.0, seconds))
    return f"{s // 60:d}:{s % 60:02d}"


def render(state: ConsoleState) -> Any:
    """The console as a rich renderable."""
    from rich.panel import Panel
    from rich.table import Table

    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold cyan", justify="right")
    t.add_column()
    if state.waiting_cue:
        clock = f"{_clock(state.elapsed)}  (waiting for a cue)"
    elif state.remaining is not None:
        clock = f"{_clock(state.elapsed)}  ({_clock(state.remaining)} left)"
    else:
        clock = _clock(state.elapsed)
    t.add_row("section", f"{state.section}  [{state.section_index + 1}/{state.sections}]  {clock}")
    t.add_row("space", f"{state.space}  {state.projection}  dims {state.dims}  period {state.period * 1000:.0f} ms")
    t.add_row("position", " ".join(f"{u:.2f}" for u in state.position) or "-")
    flags = [f for f, on in (("PAUSED", state.paused), ("MUTED", state.muted)) if on]
    t.add_row("machine", f"{state.actions} actions  gain {state.gain:.2f}  {' '.join(flags)}")
    if state.hold > 0:
        t.add_row("fixed point", _bar(2 * state.hold - 1) + f" {state.hold * 100:.0f} %")
    r = state.reward
    t.add_row("reward", (_bar(r) + f" {r:+.2f} {state.reward_source}" if r is not None else "-")
              + f"  ({state.rewards} received)")
    if state.sensors:
        parts = []
        for s in state.sensors[:4]:
            parts.append(f"{s.get('id', '?')} {s.get('state', s.get('status', ''))} {s.get('rate_hz', 0):.0f} Hz")
        t.add_row("sensors", " · ".join(parts))
    else:
        t.add_row("sensors", "none heard")
    a = state.audio
    load = a.get("load")
    load_text = f"load {100 * load:.0f} %" if isinstance(load, float) else ""
    t.add_row("audio", f"{a.get('backend', '?')} {a.get('sample_rate', '')} Hz  {load_text}  "
                       f"underflows {a.get('underflows', 0)}  errors {a.get('errors', 0)}")
    t.add_row("session", state.session)
    for notice in state.notices[-3:]:
        t.add_row("note", f"[yellow]{notice}[/yellow]")
    keys = "  ".join(f"[bold]{k}[/bold] {v}" for k, v in (state.keys or KEY_HELP))
    t.add_row("keys", keys)
    title = f"ægo · {state.mode} · {state.score} · {_clock(state.run_time)}"
    return Panel(t, title=title, border_style="magenta")


class Console:
    """The live console and its key reader.

    Args:
        enabled: ``auto`` (only when stdout and stdin are terminals), ``on`` or ``off``.
    """

    def __init__(self, enabled: str = "auto") -> None:
        tty = sys.stdout.isatty()
        self.enabled = enabled == "on" or (enabled == "auto" and tty)
        self.read_keys = self.enabled and sys.stdin.isatty()
        self._live = None
        self._keys: collections.deque = collections.deque(maxlen=256)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._saved_tty = None
        self._last = 0.0

    def start(self) -> None:
        if not self.enabled:
            return
        from rich.console import Console as RichConsole
        from rich.live import Live

        self._live = Live(console=RichConsole(), auto_refresh=False, transient=False)
        self._live.start()
        if self.read_keys:
            import termios
            import tty

            fd = sys.stdin.fileno()
            with contextlib.suppress(termios.error):
                self._saved_tty = termios.tcgetattr(fd)
                tty.setcbreak(fd)
            self._thread = threading.Thread(target=self._read, name="aego-console-keys", daemon=True)
            self._thread.start()

    def _read(self) -> None:
        fd = sys.stdin.fileno()
        while not self._stop.is_set():
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                continue
            try:
                data = os.read(fd, 16)
            except OSError:
                return
            if not data:
                return
            text = data.decode("utf-8", errors="ignore")
            now = time.monotonic()
            # arrow keys arrive as escape sequences
            for seq, name in (("\x1b[A", "up"), ("\x1b[B", "down"), ("\x1b[C", "right"), ("\x1b[D", "left")):
                while seq in text:
                    text = text.replace(seq, "", 1)
                    self._keys.append((name, now))
            for ch in text:
                if ch != "\x1b":
                    self._keys.append((ch, now))

    def keys(self) -> list[tuple[str, float]]:
        """Keys typed since the last call, ``(key, monotonic time)``."""
        out = []
        while self._keys:
            out.append(self._keys.popleft())
        return out

    def update(self, state: ConsoleState, every: float = 0.2) -> None:
        """Redraw (at most every ``every`` seconds)."""
        if self._live is None:
            return
        now = time.monotonic()
        if now - self._last < every:
            return
        self._last = now
        with contextlib.suppress(Exception):
            self._live.update(render(state), refresh=True)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(1.0)
        if self._saved_tty is not None:
            import termios

            with contextlib.suppress(termios.error):
                termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, self._saved_tty)
            self._saved_tty = None
        if self._live is not None:
            with contextlib.suppress(Exception):
                self._live.stop()
            self._live = None
