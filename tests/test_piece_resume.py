"""--resume: a run killed with SIGKILL continues where it was (section, score clock, agent, log)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path

import pytest
from piece_support import events, free_port, run, spaces, start, summary, wait_for
from pythonosc.udp_client import SimpleUDPClient

from aego.bench_kill import descendants

pytestmark = pytest.mark.slow


def _score(tmp_path: Path) -> Path:
    s = spaces()
    path = tmp_path / "resume.toml"
    path.write_text(f"""
[score]
name = "resume-test"
[spaces]
toys = "{s['toys']}"
orchestra = "{s['orchestra']}"
[[section]]
name = "first"
space = "toys"
dims = 1
duration = 1
[[section]]
name = "long"
space = "orchestra"
dims = 2
period = 0.05
duration = 900
[[section]]
name = "after"
space = "toys"
dims = 1
duration = 900
""")
    return path


def test_resume_after_sigkill(tmp_path: Path):
    score = _score(tmp_path)
    log = tmp_path / "session"
    port = free_port()
    proc = start("perform", log, "--score", str(score), "--seed", "4", listen=port)
    orphans: list[int] = []
    try:
        wait_for(log, lambda evs: any(e["type"] == "section" and e["name"] == "long" for e in evs))
        SimpleUDPClient("127.0.0.1", port).send_message("/aego/reward", 1.0)
        wait_for(log, lambda evs: any(e["type"] == "reward" for e in evs))
        # the agent file is rewritten on entering a section and every 10 s; the resume state every second
        time.sleep(2.5)
        state_before = json.loads((log / "state.json").read_text())
        orphans = descendants(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        # a crash of the main process leaves its engine and input processes: end them (they are ours)
        for pid in orphans:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
    before = events(log)
    lines = (log / "events.jsonl").read_text().splitlines()
    assert len(lines) - len(before) <= 1  # at most one torn line, the one being written at the kill
    assert state_before["scheduler"]["section"] == "long"
    assert (log / "agent.safetensors").exists()

    out = run("perform", log.parent / "unused", "--resume", str(log), "--duration", "3", listen=port)
    assert out.returncode == 0, out.stderr
    after = events(log)
    assert after[: len(before)] == before  # nothing written before the crash was lost or changed
    new = after[len(before):]
    resume = next(e for e in new if e.get("what") == "resume")
    assert resume["agent_restored"] is True and resume["section"] == "long"
    entered = [e for e in new if e["type"] == "section"]
    assert entered[0]["name"] == "long" and entered[0]["reason"] == "resume" and entered[0]["dims"] == 2
    assert all(e["t"] >= before[-1]["t"] for e in new)
    assert [e["t"] for e in new] == sorted(e["t"] for e in new)
    s = summary(log)
    assert s["resumed"] is True and s["ended_by"] == "duration"
    assert s["sections"] == ["first", "long"]
    assert s["agent"]["feedback"] >= 1  # learned before the crash, still there
    assert s["actions"] > sum(1 for e in before if e["type"] == "action")
    state_after = json.loads((log / "state.json").read_text())
    assert state_after["scheduler"]["section"] == "long"
    assert state_after["scheduler"]["elapsed"] > state_before["scheduler"]["elapsed"]
    assert not (log.parent / "unused").exists()


def test_resume_refuses_a_folder_that_is_not_a_session(tmp_path: Path):
    out = run("play", tmp_path / "x", "--resume", str(tmp_path), timeout=60)
    assert out.returncode == 2 and "state.json" in out.stderr and "Traceback" not in out.stderr
