"""The session folder: events written as the run goes, atomic summaries, rotation, a full disk, resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from aego.errors import UsageError
from aego.session import EVENTS, Session, read_events, repair_log


def test_events_are_lines_with_t_and_type(tmp_path: Path):
    s = Session(tmp_path / "s")
    s.log("section", name="one", space="toys", dims=1, projection="ica")
    s.log("action", dim=0, dir=1, z=np.array([0.5], np.float32), latent=np.zeros(8, np.float32), section="one")
    s.log("reward", value=0.5, source="osc")
    s.close()
    lines = (tmp_path / "s" / EVENTS).read_text().splitlines()
    events = [json.loads(line) for line in lines]
    assert [e["type"] for e in events] == ["section", "action", "reward"]
    assert all(list(e)[:2] == ["t", "type"] for e in events)
    assert events[1]["latent"] == [0.0] * 8 and events[1]["z"] == [0.5]
    assert events[0]["t"] <= events[1]["t"] <= events[2]["t"]


def test_events_reach_the_disk_while_running(tmp_path: Path):
    s = Session(tmp_path / "s")
    s.log("cue", what="x")
    deadline = time.monotonic() + 5
    path = tmp_path / "s" / EVENTS
    while time.monotonic() < deadline and not (path.exists() and path.read_text()):
        time.sleep(0.05)
    assert json.loads(path.read_text())["type"] == "cue"
    s.close()


def test_summary_is_replaced_atomically(tmp_path: Path):
    s = Session(tmp_path / "s")
    s.write_summary({"duration_s": 1.0, "x": np.float32(2.5)})
    s.write_summary({"duration_s": 2.0, "x": float("nan")})
    s.close()
    data = json.loads((tmp_path / "s" / "summary.json").read_text())
    assert data == {"duration_s": 2.0, "x": None}
    assert not list((tmp_path / "s").glob(".*tmp"))


def test_rotation_keeps_the_log_bounded(tmp_path: Path):
    s = Session(tmp_path / "s", rotate_bytes=2000, keep=3)
    for i in range(400):
        s.log("action", dim=0, dir=1, z=[0.1 * i], latent=[0.0] * 8, section="x")
        if i % 50 == 0:
            time.sleep(0.02)
    s.close()
    parts = sorted((tmp_path / "s").glob("events.*.jsonl"))
    assert 1 <= len(parts) <= 3
    assert all(p.stat().st_size < 2000 + 4000 for p in parts)
    events = list(read_events(tmp_path / "s"))
    ts = [e["t"] for e in events]
    assert ts == sorted(ts) and events[-1]["z"] == [pytest.approx(39.9)]


def test_a_full_disk_never_stops_the_run(tmp_path: Path):
    folder = tmp_path / "s"
    folder.mkdir()
    os.symlink("/dev/full", folder / EVENTS)
    warnings: list[str] = []
    s = Session(folder, resume=True, warn=warnings.append)
    for _ in range(10):
        s.log("cue")
    s.close()
    assert s.dropped == 10 and s.written == 0
    assert s.error and warnings and "goes on" in warnings[0]


def test_a_torn_last_line_is_cut_on_resume(tmp_path: Path):
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / EVENTS).write_text('{"t":1.5,"type":"cue"}\n{"t":2.0,"type":"act')
    assert repair_log(folder / EVENTS) == 1.5
    s = Session(folder, resume=True)
    assert s.now() >= 1.5
    s.log("cue")
    s.close()
    events = [json.loads(x) for x in (folder / EVENTS).read_text().splitlines()]
    assert len(events) == 2 and events[1]["t"] >= 1.5


def test_an_existing_session_is_not_overwritten(tmp_path: Path):
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / EVENTS).write_text('{"t":1,"type":"cue"}\n')
    with pytest.raises(UsageError, match="--resume"):
        Session(folder)


def test_sigkill_loses_at_most_the_last_second(tmp_path: Path):
    folder = tmp_path / "s"
    code = (
        "import sys, time\n"
        "from aego.session import Session\n"
        f"s = Session({str(folder)!r})\n"
        "i = 0\n"
        "while True:\n"
        "    s.log('action', i=i, wall=time.time()); i += 1; time.sleep(0.01)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    time.sleep(2.5)
    killed_at = time.time()
    proc.kill()
    proc.wait()
    events = list(read_events(folder))
    assert events, "nothing reached the disk"
    assert [e["i"] for e in events] == list(range(len(events)))
    assert killed_at - events[-1]["wall"] <= 1.0
