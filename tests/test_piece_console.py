"""The operator's terminal console in a real pseudo-terminal: it draws, and its keys cue the score and stop."""

from __future__ import annotations

import os
import pty
import select
import time
from pathlib import Path

import pytest
from piece_support import command, env, events, summary

pytestmark = pytest.mark.slow


def _pump(fd: int, seconds: float, out: bytearray) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                out.extend(os.read(fd, 65536))
            except OSError:
                return


def test_console_keys_cue_and_stop(tmp_path: Path):
    log = tmp_path / "session"
    cmd = [c for c in command("perform", log, "--score", "aego") if c not in ("--console", "off")] + ["--console", "on"]
    pid, fd = pty.fork()
    if pid == 0:  # the child: the run, its terminal is the pty
        os.execvpe(cmd[0], cmd, env())
    out = bytearray()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and b"keys" not in out:
            _pump(fd, 0.5, out)
        assert b"keys" in out, out.decode(errors="replace")[-2000:]
        os.write(fd, b"n")
        _pump(fd, 1.5, out)
        os.write(fd, b"3")
        _pump(fd, 1.5, out)
        os.write(fd, b"Q")
        _pump(fd, 0.3, out)
        os.write(fd, b"Q")
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline:
            _pump(fd, 0.3, out)
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
    finally:
        try:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(fd)
    assert status is not None and os.waitstatus_to_exitcode(status) == 0
    text = out.decode(errors="replace")
    for expected in ("section", "toys-2", "dims 3", "press Q again to stop", "underflows"):
        assert expected in text, expected
    evs = events(log)
    assert [e["name"] for e in evs if e["type"] == "section"] == ["toys-1", "toys-2"]
    assert any(e.get("what") == "dims" and e["value"] == 3 for e in evs)
    assert summary(log)["ended_by"] == "stop"
