"""``aego bench kill``: how much of a session SIGKILL loses.

Each trial starts ``aego perform --audio null --no-window`` (headless, the score ``aego``), waits until
its explorer acts, then sends it ``/aego/reward`` clicks at 100 Hz over UDP loopback, each with its own
value, and after ``--seconds`` (default 6) plus a random part of a second kills the run with SIGKILL
right after a click. What is on disk is then compared with what was sent:

- ``lost_s``: the age, at the kill, of the oldest click that is not in ``events.jsonl`` (0 when every
  click sent before the kill is there): every click sent longer ago than this reached the disk;
- ``newest_event_age_s``: how old the newest event on disk (of any type: actions, rewards ...) was at
  the kill, on the run's clock mapped to the sender's through the logged clicks;
- ``torn_lines``: lines that are not whole JSON events (at most the one being written at the kill);
- ``state_age_s``: how old ``state.json`` (what ``--resume`` reads) was at the kill.

``--seeds N`` sets the number of trials (default 5); figures are the worst (``_max``) and the median
(``_p50``) over the trials. The run's engine and input processes end by themselves once their parent
is gone (they notice the closed pipe); the bench waits for that before the next trial.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aego.bench_load import build, free_port, read_log, reward_value, wait_log

RATE_HZ = 100.0
TRIALS = 5


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Linux /proc)."""
    out: list[int] = []
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    kids = [int(x) for x in f.read().split()]
                out.extend(kids)
                stack.extend(kids)
        except OSError:
            continue
    return out


def wait_gone(pids: list[int], timeout: float) -> list[int]:
    """Wait until the processes have ended; the ones still there after ``timeout``."""
    deadline = time.monotonic() + timeout
    left = list(pids)
    while left and time.monotonic() < deadline:
        left = [p for p in left if Path(f"/proc/{p}").exists() and not _zombie(p)]
        time.sleep(0.05)
    return left


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def kill_run(proc: subprocess.Popen, sock: Any, address: tuple[str, int], seconds: float,
             rate_hz: float = RATE_HZ) -> dict:
    """Send clicks at ``rate_hz`` for ``seconds``, then SIGKILL ``proc`` right after one.
    Returns the send times, the kill time (monotonic s) and the processes the run had started."""
    times: list[float] = []
    start = time.monotonic()
    k = 0
    while time.monotonic() - start < seconds and proc.poll() is None:
        sock.sendto(build("/aego/reward", [reward_value(k)]), address)
        times.append(time.monotonic())
        k += 1
        wait = start + k / rate_hz - time.monotonic()
        if wait > 0:
            time.sleep(wait)
    children = descendants(proc.pid)
    killed_at = time.monotonic()
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    return {"times": times, "killed_at": killed_at, "children": children}


def measure(folder: Path, times: list[float], killed_at: float) -> dict:
    """Compare the clicks sent (their send times) with the session on disk after the kill."""
    events = read_log(folder)
    path = folder / "events.jsonl"
    lines = path.read_bytes().split(b"\n") if path.exists() else []
    whole = sum(1 for line in lines if line.strip())
    logged: dict[float, float] = {}
    for e in events:
        if e.get("type") == "reward" and e.get("source") == "osc" and isinstance(e.get("value"), int | float):
            logged.setdefault(float(e["value"]), float(e["t"]))
    missing = [t for k, t in enumerate(times) if reward_value(k) not in logged]
    lost_s = killed_at - min(missing) if missing else 0.0
    # the run's clock against ours: a click is logged after it is sent, so send time - logged t is at most
    # the offset between the clocks; the largest such difference is the offset less the smallest delay
    offsets = [t - logged[reward_value(k)] for k, t in enumerate(times) if reward_value(k) in logged]
    newest = max((float(e["t"]) for e in events if isinstance(e.get("t"), int | float)), default=math.nan)
    newest_age = killed_at - (newest + max(offsets)) if offsets else math.nan
    state_age = math.nan
    try:
        state = json.loads((folder / "state.json").read_text())
        if offsets:
            state_age = killed_at - (float(state["t"]) + max(offsets))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return {"sent": len(times), "logged": len(logged), "missing": len(missing), "lost_s": lost_s,
            "newest_event_age_s": newest_age, "torn_lines": whole - len(events), "state_age_s": state_age,
            "events": len(events)}


def trial(folder: Path, seconds: float, seed: int, space: str | None = None) -> dict:
    import socket

    from aego.errors import UsageError

    port = free_port()
    cmd = [sys.executable, "-m", "aego", "perform", "--score", "aego", "--audio", "null", "--no-window",
           "--console", "off", "--log", str(folder), "--osc-listen", f"127.0.0.1:{port}",
           "--osc-send", f"127.0.0.1:{free_port()}", "--seed", str(seed)]
    if space and space not in ("synthetic", "orchestral"):
        cmd += ["--space", f"synthetic={space}", "--space", f"orchestral={space}"]
    err = open(folder.parent / f"{folder.name}.stderr.txt", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        if not wait_log(folder, proc, lambda evs: sum(e["type"] == "action" for e in evs) >= 3, 180.0):
            raise UsageError(f"the run did not start acting (exit {proc.poll()}); see {err.name}")
        run = kill_run(proc, sock, ("127.0.0.1", port), seconds + random.Random(seed).random())
    finally:
        sock.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        err.close()
    left = wait_gone(run["children"], 30.0)
    figures = measure(folder, run["times"], run["killed_at"])
    figures["orphans_left"] = len(left)
    for pid in left:  # ours, and they should have ended: end them so the next trial starts clean
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return figures


def run_bench(args: Any) -> dict:
    seconds = float(getattr(args, "seconds", None) or 6.0)
    trials = int(getattr(args, "seeds", None) or TRIALS)
    root = Path(tempfile.mkdtemp(prefix="aego-bench-kill-"))
    results = [trial(root / f"session-{i}", seconds, seed=i + 1, space=getattr(args, "space", None))
               for i in range(trials)]

    def worst(key: str) -> float:
        return round(max(r[key] for r in results), 4)

    def median(key: str) -> float:
        return round(statistics.median(r[key] for r in results), 4)

    return {
        "trials": trials,
        "seconds": seconds,
        "rate_hz": RATE_HZ,
        "lost_s_max": worst("lost_s"),
        "lost_s_p50": median("lost_s"),
        "missing_max": int(worst("missing")),
        "newest_event_age_s_max": worst("newest_event_age_s"),
        "newest_event_age_s_p50": median("newest_event_age_s"),
        "state_age_s_max": worst("state_age_s"),
        "torn_lines_max": int(worst("torn_lines")),
        "clicks_sent": sum(r["sent"] for r in results),
        "clicks_logged": sum(r["logged"] for r in results),
        "orphans_left": sum(r["orphans_left"] for r in results),
        "sessions": str(root),
    }
