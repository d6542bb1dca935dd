"""``aego bench load``: an OSC flood through the whole program, measured.

Starts ``aego perform --audio null --no-window`` (headless, the score ``aego``, the output a real-time
clock as in ``aego bench soak``) and, once the explorer acts, sends it 5 000 valid ``/aego/reward``
clicks and 5 000 malformed datagrams over UDP loopback, interleaved, at 2.5 kHz each (5 kHz in all,
2 s), then ``/aego/stop``. Each valid click carries its own value, so every one can be found again.

Figures:

- ``valid_received``: valid clicks that reached the main process as rewards (the input counters'
  ``controls``, minus the ``/aego/stop``); ``valid_used``: those the explorer took and the session logged
  (``reward`` events with ``source: "osc"`` in ``events.jsonl`` whose value is one that was sent), with
  ``valid_used_pct`` and ``in_order`` (they were logged in the order they were sent);
- ``malformed_counted``: ``summary.json``'s ``osc.malformed``, against ``malformed_sent`` and what the
  same decoder says of the same datagrams in this process (``malformed_expected``);
- the run goes on: ``alive_after_flood`` (still running when the stop was sent), ``exit_code``,
  ``ended_by``, ``errors``, ``input_restarts``, ``actions_during_flood`` (with ``action_period_ms``, the
  section's period, and ``action_gap_ms_max``, the longest time between two actions during the flood),
  ``pacer_late_ms_p99`` (the whole run),
  ``underflows`` (the whole run, start and fade included; ``underflows_from_flood``: between the summary
  refreshes just before and just after the flood),
  ``stderr_lines`` (the run's notices: each kind of bad input is said once).

The same functions drive ``tests/test_load.py`` (fewer messages, counts only).
"""

from __future__ import annotations

import itertools
import json
import math
import random
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pythonosc.osc_message_builder import OscMessageBuilder

VALID = 5000
MALFORMED = 5000
RATE_HZ = 2500.0  # of each kind
MALFORMED_KINDS = 10


def build(address: str, args: list[Any]) -> bytes:
    """One OSC message, with floats sent as 32-bit floats."""
    b = OscMessageBuilder(address)
    for v in args:
        b.add_arg(v)
    return b.build().dgram


def reward_value(k: int) -> float:
    """The value of the k-th valid click: distinct for k < 5000 at the log's 4 decimals, within [-1, 1]."""
    return round(-0.9999 + (k % 5000) * 0.0004, 4)


def valid_datagrams(n: int) -> list[bytes]:
    return [build("/aego/reward", [reward_value(k)]) for k in range(n)]


def malformed_datagram(i: int, rng: random.Random) -> bytes:
    """The i-th malformed datagram, every kind in turn. Each one counts once as ``malformed`` and delivers
    nothing (checked by :func:`expected_counters` against the decoder itself)."""
    kind = i % MALFORMED_KINDS
    if kind == 0:  # not OSC at all
        data = bytearray(rng.randbytes(rng.randint(1, 200)))
        data[0] = rng.choice([c for c in range(256) if c not in (ord("/"), ord("#"))])
        return bytes(data)
    if kind == 1:  # a bundle whose element size lies
        return b"#bundle\0" + rng.randbytes(8) + struct.pack(">i", 4000) + rng.randbytes(20)
    if kind == 2:  # a type tag without its comma
        return b"/aego/reward\0\0\0\0f\0\0\0" + struct.pack(">f", 0.5)
    if kind == 3:  # a reward that is not a number
        return build("/aego/reward", ["a lot"])
    if kind == 4:  # a reward that is not finite
        return build("/aego/reward", [math.nan])
    if kind == 5:  # a reward without its value
        return build("/aego/reward", [])
    if kind == 6:  # a valid click cut in the middle of its argument
        whole = build("/aego/reward", [0.25])
        return whole[: len(whole) - rng.randint(1, 3)]
    if kind == 7:  # a wrist quaternion with NaN in it
        return build("/riot/v3/1/absoluteorientation/quaternion", [math.nan, 0.0, 0.0, 1.0, 5])
    if kind == 8:  # Euler angles far out of range
        return build("/riot/v3/2/absoluteorientation/euler", [720.0, 10.0, 3000.0, 5])
    return build("/aego/dims", ["many"])  # a control with the wrong type


def malformed_datagrams(n: int, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    return [malformed_datagram(i, rng) for i in range(n)]


def interleave(valid: list[bytes], malformed: list[bytes]) -> list[tuple[str, int, bytes]]:
    """Valid and malformed alternately (the longer list's rest at the end): ``(kind, index, datagram)``."""
    out: list[tuple[str, int, bytes]] = []
    for i in range(max(len(valid), len(malformed))):
        if i < len(valid):
            out.append(("valid", i, valid[i]))
        if i < len(malformed):
            out.append(("malformed", i, malformed[i]))
    return out


def expected_counters(order: list[tuple[str, int, bytes]]) -> dict[str, int]:
    """What the program's own decoder counts for these datagrams (in this process, no network)."""
    from aego.sensors.pipeline import InputPipeline

    pipeline = InputPipeline()
    for _kind, _i, data in order:
        pipeline.datagram(data, ("127.0.0.1", 1), 0.0)
    return dict(pipeline.counters)


def send_paced(order: list[tuple[str, int, bytes]], address: tuple[str, int], rate_hz: float) -> dict:
    """Send the datagrams at ``rate_hz`` in all, on a fixed schedule (a late sender catches up at once,
    as a busy network would deliver). Returns the send times (monotonic s) and the rate reached."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    times = [0.0] * len(order)
    period = 1.0 / rate_hz
    start = time.monotonic()
    i = 0
    try:
        while i < len(order):
            now = time.monotonic()
            due = min(len(order), int((now - start) / period) + 1)
            while i < due:
                sock.sendto(order[i][2], address)
                times[i] = time.monotonic()
                i += 1
            wait = start + i * period - time.monotonic()
            if wait > 0:
                time.sleep(min(wait, 0.002))
    finally:
        sock.close()
    seconds = times[-1] - start if order else 0.0
    return {"times": times, "seconds": seconds, "rate_hz": len(order) / seconds if seconds > 0 else math.nan}


def send(address: tuple[str, int], data: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(data, address)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def read_log(folder: Path) -> list[dict]:
    from aego.session import read_events

    return list(read_events(folder)) if folder.is_dir() else []


def wait_log(folder: Path, proc: subprocess.Popen, predicate: Callable[[list[dict]], bool],
             timeout: float) -> list[dict]:
    """Wait until the session's events satisfy ``predicate`` (``[]`` if the run ended or time ran out)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        events = read_log(folder)
        if predicate(events):
            return events
        time.sleep(0.2)
    return []


def fresh_summary(folder: Path, proc: subprocess.Popen, timeout: float = 15.0) -> dict:
    """The run's next refresh of ``summary.json`` (every 5 s while running): the figures just before now."""
    path = folder / "summary.json"
    stamp = path.stat().st_mtime_ns if path.exists() else 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if path.exists() and path.stat().st_mtime_ns != stamp:
            break
        time.sleep(0.05)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def osc_rewards(events: list[dict]) -> list[float]:
    return [float(e["value"]) for e in events if e.get("type") == "reward" and e.get("source") == "osc"
            and isinstance(e.get("value"), int | float)]


def flood_run(cmd: list[str], folder: Path, port: int, *, valid: int = VALID, malformed: int = MALFORMED,
              rate_hz: float = RATE_HZ, env: dict | None = None, start_timeout: float = 180.0) -> dict:
    """Start ``cmd`` (a headless run listening for OSC on ``port``, its session in ``folder``), wait until
    its explorer acts, flood it, stop it, and return the figures (see the module's docstring).

    ``rate_hz`` is the rate of each kind (valid, malformed); they are sent alternately.
    """
    from aego.errors import UsageError

    order = interleave(valid_datagrams(valid), malformed_datagrams(malformed))
    expected = expected_counters(order)
    stderr_path = folder.parent / f"{folder.name}.stderr.txt"
    address = ("127.0.0.1", port)
    with open(stderr_path, "w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
        try:
            if not wait_log(folder, proc, lambda evs: sum(e["type"] == "action" for e in evs) >= 3, start_timeout):
                raise UsageError(f"the run did not start acting within {start_timeout:.0f} s "
                                 f"(exit {proc.poll()}); see {stderr_path}")
            before = fresh_summary(folder, proc)
            sent = send_paced(order, address, rate_hz * (2 if valid and malformed else 1))
            # every valid click logged, or no progress for 10 s
            seen, last_change = -1, time.monotonic()
            while proc.poll() is None and time.monotonic() - last_change < 10.0:
                now_seen = len(osc_rewards(read_log(folder)))
                if now_seen >= valid:
                    break
                if now_seen != seen:
                    seen, last_change = now_seen, time.monotonic()
                time.sleep(0.25)
            alive = proc.poll() is None
            after = fresh_summary(folder, proc)  # the next refresh: the figures just after the flood
            send(address, build("/aego/stop", []))
            try:
                proc.wait(120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    events = read_log(folder)
    summary = json.loads((folder / "summary.json").read_text()) if (folder / "summary.json").exists() else {}
    sent_values = [reward_value(k) for k in range(valid)]
    wanted = set(sent_values)
    got = [v for v in osc_rewards(events) if v in wanted]
    rank = {v: k for k, v in enumerate(sent_values)}
    used = len(set(got))
    osc = summary.get("osc", {})
    times = sent["times"]
    valid_times = [t for (kind, _i, _d), t in zip(order, times, strict=True) if kind == "valid"]
    flood_t = [e["t"] for e in events if e.get("type") == "reward" and e.get("source") == "osc"]
    during = [e["t"] for e in events if e.get("type") == "action" and flood_t and flood_t[0] <= e["t"] <= flood_t[-1]]
    actions_during = len(during)
    # the explorer's pace during the flood: the longest gap between two actions, against its period
    gaps = [b - a for a, b in itertools.pairwise(during)]
    period = next((e.get("period") for e in events if e.get("type") == "section"), None)
    audio = summary.get("audio", {})
    underflows = int(audio.get("underflows") or 0)
    stderr_lines = [x for x in stderr_path.read_text(errors="replace").splitlines() if x.startswith("aego ")]
    return {
        "valid_sent": valid,
        "valid_received": max(0, int(osc.get("controls", 0)) - 1),  # the /aego/stop is a control too
        "valid_used": used,
        "valid_used_pct": round(100.0 * used / valid, 2) if valid else math.nan,
        "in_order": len(got) == used and all(rank[a] < rank[b] for a, b in itertools.pairwise(got)),
        "malformed_sent": malformed,
        "malformed_expected": expected["malformed"],
        "malformed_counted": int(osc.get("malformed", 0)),
        "datagrams_sent": len(order) + 1,
        "datagrams_received": int(osc.get("received", 0)),
        "unknown": int(osc.get("unknown", 0)),
        "send_seconds": round(sent["seconds"], 3),
        "valid_rate_hz": round(len(valid_times) / sent["seconds"], 1) if sent["seconds"] > 0 else math.nan,
        "alive_after_flood": alive,
        "exit_code": proc.returncode,
        "ended_by": summary.get("ended_by"),
        "errors": int(summary.get("errors", 0)),
        "input_restarts": int(osc.get("restarts", 0)),
        "actions_during_flood": actions_during,
        "action_period_ms": round(1000 * period, 1) if isinstance(period, int | float) else None,
        "action_gap_ms_max": round(1000 * max(gaps), 1) if gaps else None,
        "flood_log_seconds": round(flood_t[-1] - flood_t[0], 3) if len(flood_t) > 1 else 0.0,
        "pacer_late_ms_p99": summary.get("pacer", {}).get("late_ms_p99"),
        "underflows": underflows,
        "underflows_from_flood": int((after.get("audio") or {}).get("underflows") or 0)
        - int((before.get("audio") or {}).get("underflows") or 0),
        "stderr_lines": len(stderr_lines),
        "agent_feedback": summary.get("agent", {}).get("feedback"),
        "stderr": str(stderr_path),
    }


def run_bench(args: Any) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="aego-bench-load-"))
    session = folder / "session"
    port = free_port()
    cmd = [sys.executable, "-m", "aego", "perform", "--score", "aego", "--audio", "null", "--no-window",
           "--console", "off", "--log", str(session), "--osc-listen", f"127.0.0.1:{port}",
           "--osc-send", f"127.0.0.1:{free_port()}", "--seed", "1"]
    space = getattr(args, "space", None)
    if space and space not in ("synthetic", "orchestral"):
        cmd += ["--space", f"synthetic={space}", "--space", f"orchestral={space}"]
    figures = flood_run(cmd, session, port)
    figures["session"] = str(session)
    return figures
