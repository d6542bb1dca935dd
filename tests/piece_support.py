"""Helpers for the piece's end-to-end tests: sound spaces, free ports, running ``aego`` as a user would."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_SPACES: dict[str, str] = {}


def spaces() -> dict[str, str]:
    """Two sound-space files (a real untrained model, built once per test run): toys and orchestra."""
    if not _SPACES:
        from aego.space import SoundSpace

        folder = Path(tempfile.mkdtemp(prefix="aego-piece-spaces-"))
        atexit.register(shutil.rmtree, folder, True)  # shared by the whole run, so no tmp_path fixture
        SoundSpace.untrained(seed=0).save(folder / "toys.space")
        shutil.copy(folder / "toys.space", folder / "orchestra.space")
        _SPACES.update(toys=str(folder / "toys.space"), orchestra=str(folder / "orchestra.space"))
    return dict(_SPACES)


def space_args() -> list[str]:
    s = spaces()
    return ["--space", f"toys={s['toys']}", "--space", f"orchestra={s['orchestra']}"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env() -> dict[str, str]:
    e = dict(os.environ)
    e.pop("DISPLAY", None)
    e.pop("WAYLAND_DISPLAY", None)
    e["JACK_NO_START_SERVER"] = "1"
    e["SDL_AUDIODRIVER"] = "dummy"
    return e


def command(mode: str, log: Path, *extra: str, listen: int | None = None, send: int | None = None) -> list[str]:
    return [sys.executable, "-m", "aego", mode, "--audio", "null", "--no-window", "--console", "off",
            "--log", str(log), "--osc-listen", f"127.0.0.1:{listen or free_port()}",
            "--osc-send", f"127.0.0.1:{send or free_port()}", *space_args(), *extra]


def run(mode: str, log: Path, *extra: str, timeout: float = 150, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(command(mode, log, *extra, **kw), capture_output=True, text=True, timeout=timeout,
                          env=env())


def start(mode: str, log: Path, *extra: str, **kw) -> subprocess.Popen:
    return subprocess.Popen(command(mode, log, *extra, **kw), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env())


def events(folder: Path) -> list[dict]:
    from aego.session import read_events

    return list(read_events(folder))


def wait_for(folder: Path, predicate, timeout: float = 90.0) -> list[dict]:
    """Wait until the session's events satisfy ``predicate``; returns them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        evs = events(folder) if (folder / "events.jsonl").exists() else []
        if predicate(evs):
            return evs
        time.sleep(0.2)
    raise AssertionError(f"the session in {folder} never reached the expected state")


def summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


SUMMARY_KEYS = {"duration_s", "actions", "rewards", "sections", "ended_by", "audio", "osc", "agent"}
AUDIO_KEYS = {"backend", "sample_rate", "blocks", "frames", "underflows"}
