"""``aego bench soak``: an unattended installation run, measured.

Runs ``aego install --audio null --no-window`` for ``--seconds`` (default 600) in a child process
with the score clock 20× faster (so the installation score loops several times an hour) and samples
the resident memory of the run (the main process and its engine and input processes) every few
seconds. Memory growth is the last sample against the one taken once the run has warmed up (after
10 % of the time, at least 30 s): a leak shows as steady growth; 0 underflows and 0 errors are
expected. Figures come from the session's own ``summary.json`` (``underflows_after_warmup``: those
after the warm-up sample, i.e. not caused by the start-up of the run itself).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TIME_SCALE = 20.0


def _children(pid: int) -> list[int]:
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out.extend(int(x) for x in f.read().split())
    except OSError:
        pass
    return out


def tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants, MB."""
    total = 0
    stack = [pid]
    seen = set()
    while stack:
        p = stack.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            continue
        stack.extend(_children(p))
    return total / 1024.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _read_summary(session: Path) -> dict:
    try:
        return json.loads((session / "summary.json").read_text())
    except (OSError, ValueError):
        return {}


def run_bench(args: Any) -> dict:
    """Run the soak; returns the figures (see the module doc)."""
    from aego.errors import UsageError

    seconds = float(args.seconds or 600.0)
    if seconds < 20:
        raise UsageError("--seconds must be at least 20 for a soak run")
    folder = Path(tempfile.mkdtemp(prefix="aego-soak-"))
    session = folder / "session"
    cmd = [sys.executable, "-m", "aego", "install", "--score", "installation", "--audio", "null", "--no-window",
           "--console", "off",
           "--duration", str(seconds), "--time-scale", str(TIME_SCALE), "--log", str(session),
           "--osc-listen", f"127.0.0.1:{_free_port()}", "--osc-send", f"127.0.0.1:{_free_port()}", "--seed", "1"]
    space = getattr(args, "space", None)
    if space and space not in ("synthetic", "orchestral"):
        cmd += ["--space", f"synthetic={space}", "--space", f"orchestral={space}"]
    log = open(folder / "stderr.txt", "w")  # noqa: SIM115 (closed below)
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
    warm_at = started + max(30.0, 0.1 * seconds)
    samples: list[tuple[float, float]] = []
    warm: float | None = None
    warm_summary: dict = {}
    try:
        show = sys.stderr.isatty()
        while proc.poll() is None:
            time.sleep(2.0)
            now = time.monotonic()
            rss = tree_rss_mb(proc.pid)
            if rss > 0:
                samples.append((now - started, rss))
                if warm is None and now >= warm_at:
                    warm = rss
                    warm_summary = _read_summary(session)
            if show:
                print(f"\rsoak {now - started:7.0f}/{seconds:.0f} s  rss {rss:7.1f} MB", end="", file=sys.stderr)
        if show:
            print(file=sys.stderr)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)
        log.close()
    if proc.returncode != 0:
        tail = (folder / "stderr.txt").read_text(errors="replace").strip().splitlines()[-1:]
        raise UsageError(f"the soak run failed (exit {proc.returncode}): {' '.join(tail)}")
    summary = json.loads((session / "summary.json").read_text())
    # the last samples include the fade and shutdown: take the last one before the end was asked
    steady = [rss for t, rss in samples if t <= seconds]
    end_rss = steady[-1] if steady else (samples[-1][1] if samples else 0.0)
    warm = warm if warm is not None else (samples[0][1] if samples else 0.0)
    audio = summary.get("audio", {})
    log_bytes = sum(p.stat().st_size for p in session.glob("events*.jsonl"))
    return {
        "seconds": round(summary.get("duration_s", 0.0), 1),
        "rss_warm_mb": round(warm, 1),
        "rss_end_mb": round(end_rss, 1),
        "memory_growth_pct": round(100.0 * (end_rss - warm) / warm, 2) if warm else float("nan"),
        "underflows": int(audio.get("underflows") or 0),
        "underflows_after_warmup": int(audio.get("underflows") or 0)
        - int((warm_summary.get("audio") or {}).get("underflows") or 0),
        "audio_errors": int(audio.get("errors") or 0),
        "errors": int(summary.get("errors", 0)) + int(summary.get("pacer", {}).get("errors", 0)),
        "actions": int(summary.get("actions", 0)),
        "sections": len(summary.get("sections", [])),
        "pacer_late_ms_p99": round(float(summary.get("pacer", {}).get("late_ms_p99", float("nan"))), 2),
        "log_mb": round(log_bytes / 1e6, 2),
        "session": str(session),
    }
