"""``aego sensors``: a live terminal view of every sensor heard and the reward they make.

One row per sensor: id, format, role (wrist 1/2 or ignored), rate, age of the last sample, twist
relative to neutral, the wrist's value, battery where the device sends it; below, the mixed reward and
the input counters. On a terminal the table updates in place; otherwise one plain line a second.
"""

from __future__ import annotations

import math
import time

from aego.sensors.events import Reward, SensorEvent
from aego.sensors.hub import InputHub
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text


def _num(v: float | None, fmt: str) -> str:
    return "—" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, fmt)


def _bar(value: float | None, width: int = 21) -> str:
    if value is None:
        return " " * width
    mid = width // 2
    pos = mid + round(max(-1.0, min(1.0, value)) * mid)
    cells = ["·"] * width
    cells[mid] = "|"
    cells[pos] = "●"
    return "".join(cells)


def render(rows: list[dict], counters: dict, reward: float | None, log: list[str], where: str) -> Group:
    """The monitor's picture for one refresh."""
    table = Table(title=f"ægo sensors — OSC on {where}", expand=False)
    for col, justify in (("id", "left"), ("format", "left"), ("role", "left"), ("rate Hz", "right"),
                         ("age s", "right"), ("twist °", "right"), ("value", "right"), ("battery", "right")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for r in sorted(rows, key=lambda r: r["id"]):
        style = "red" if r["stale"] else ("dim" if r["role"] in ("other", "ignored") else "")
        role = r["role"] + ("" if r["calibrated"] or r["role"] in ("other", "ignored") else " (calibrating)")
        table.add_row(r["id"], r["format"], role, _num(r["rate_hz"], ".0f"), _num(r["age_s"], ".2f"),
                      _num(r["twist_deg"], "+.1f"), _num(r["value"], "+.2f"),
                      "—" if r["battery"] is None else f"{r['battery']:.0f} %", style=style)
    if not rows:
        table.add_row("(nothing heard yet)", "", "", "", "", "", "", "")
    line = Text(f"reward {_num(reward, '+.2f')}  {_bar(reward)}   ", style="bold")
    line.append(" ".join(f"{k} {counters.get(k, 0)}" for k in ("received", "malformed", "unknown", "dropped")),
                style="dim")
    return Group(table, line, Text("\n".join(log[-6:]), style="dim"))


def run_monitor(hub: InputHub, seconds: float | None, console: Console | None = None) -> dict:
    """Show the monitor until ``seconds`` pass (or Ctrl-C); returns the final counters."""
    console = console or Console()
    where = f"{hub.address[0]}:{hub.address[1]}" if hub.address else "(no OSC)"
    log: list[str] = []
    last_reward: float | None = None
    end = None if seconds is None else time.monotonic() + seconds

    def step() -> None:
        nonlocal last_reward
        for ev in hub.poll():
            if isinstance(ev, SensorEvent):
                log.append(f"{time.strftime('%H:%M:%S')} {ev.sensor_id}: {ev.state} — {ev.detail}")
            elif isinstance(ev, Reward):
                if ev.continuous:
                    last_reward = ev.value
                else:
                    log.append(f"{time.strftime('%H:%M:%S')} {ev.source} reward {ev.value:+.2f}")
            else:
                log.append(f"{time.strftime('%H:%M:%S')} control {ev.address} {' '.join(map(str, ev.args))}")

    try:
        if console.is_terminal:
            with Live(render([], {}, None, log, where), console=console, refresh_per_second=8) as live:
                while end is None or time.monotonic() < end:
                    step()
                    live.update(render(hub.sensors(), hub.counters(), last_reward, log, where))
                    time.sleep(0.1)
        else:
            next_print = time.monotonic()
            while end is None or time.monotonic() < end:
                step()
                if time.monotonic() >= next_print:
                    for line in log:
                        console.print(line)
                    log.clear()
                    rows = ", ".join(f"{r['id']} ({r['format']}, {r['role']}, {r['rate_hz']:.0f} Hz, "
                                     f"twist {_num(r['twist_deg'], '+.1f')}°)" for r in hub.sensors())
                    console.print(f"reward {_num(last_reward, '+.2f')} | {rows or 'no sensor heard yet'} | "
                                  + " ".join(f"{k} {v}" for k, v in hub.counters().items()))
                    next_print += 1.0
                time.sleep(0.05)
    except KeyboardInterrupt:
        pass
    step()
    for line in log:
        if not console.is_terminal:
            console.print(line)
    return hub.counters()
