"""SIGKILL in the middle of a performance: what the run had taken in is on disk, the processes it started
end by themselves, and ``--resume`` continues the session. (How much is lost, in seconds, is measured
by ``aego bench kill``.)"""

from __future__ import annotations

import json
import signal
import socket
import struct
import time
from pathlib import Path

import pytest
from piece_support import events, free_port, run, spaces, start, summary, wait_for
from pythonosc.osc_message import OscMessage

from aego.bench_kill import descendants, wait_gone
from aego.bench_load import build
from aego.session import FSYNC_EVERY_S

pytestmark = pytest.mark.slow


def _f32(value: float) -> float:
    return float(struct.unpack(">f", struct.pack(">f", value))[0])


def _echoes(sock: socket.socket) -> list[float]:
    """The rewards the run says it took (OSC out ``/aego/reward``, sent once the event is queued)."""
    out = []
    while True:
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return out
        m = OscMessage(data)
        if m.address == "/aego/reward":
            out.append(float(m.params[0]))


def _score(tmp_path: Path) -> Path:
    s = spaces()
    path = tmp_path / "kill.toml"
    path.write_text(f"""
[score]
name = "kill-test"
[spaces]
toys = "{s['toys']}"
orchestra = "{s['orchestra']}"
[[section]]
name = "only"
space = "toys"
dims = 2
period = 0.05
duration = 900
""")
    return path


@pytest.mark.timeout(400)
def test_sigkill_keeps_what_was_taken_in_and_resumes(tmp_path: Path) -> None:
    log = tmp_path / "session"
    port, back = free_port(), free_port()
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    out.bind(("127.0.0.1", back))
    out.setblocking(False)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    proc = start("perform", log, "--score", str(_score(tmp_path)), "--seed", "6", listen=port, send=back)
    children: list[int] = []
    try:
        wait_for(log, lambda evs: sum(e["type"] == "action" for e in evs) >= 3)
        values = [_f32(-0.99 + 0.001 * k) for k in range(1900)]
        echoed: list[float] = []
        taken_before: set[float] = set()
        k = 0
        # clicks at 50 Hz; the run echoes each one it took. Note what was taken 2 fsync intervals before
        # the kill (the policy: written at once, fsynced every FSYNC_EVERY_S); keep clicking until the kill.
        t0 = time.monotonic()
        mark = t0 + 3.0
        kill_at = mark + 2 * FSYNC_EVERY_S
        while time.monotonic() < kill_at:
            sender.sendto(build("/aego/reward", [values[k]]), ("127.0.0.1", port))
            k += 1
            time.sleep(0.02)
            echoed += _echoes(out)
            if not taken_before and time.monotonic() >= mark:
                taken_before = set(echoed)
        children = descendants(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        out.close()
        sender.close()
    # the engine and input processes notice their parent is gone and end by themselves
    assert children and wait_gone(children, 60.0) == []
    before = events(log)
    lines = (log / "events.jsonl").read_text().splitlines()
    assert len(lines) - len(before) <= 1  # at most the one line being written at the kill is torn
    on_disk = [e["value"] for e in before if e["type"] == "reward" and e.get("source") == "osc"]
    assert len(taken_before) >= 50
    assert {round(v, 4) for v in taken_before} <= set(on_disk)  # everything taken in before is there
    assert on_disk == sorted(on_disk)  # in the order sent (the values grow)
    state = json.loads((log / "state.json").read_text())
    assert state["scheduler"]["section"] == "only" and state["rewards"] >= 1

    done = run("perform", tmp_path / "unused", "--resume", str(log), "--duration", "3", listen=port)
    assert done.returncode == 0, done.stderr[-2000:]
    after = events(log)
    assert after[: len(before)] == before  # nothing written before the kill changed
    resume = [e for e in after[len(before):] if e.get("what") == "resume"]
    assert len(resume) == 1 and resume[0]["section"] == "only" and resume[0]["agent_restored"] is True
    s = summary(log)
    assert s["resumed"] is True and s["ended_by"] == "duration" and s["agent"]["feedback"] >= 1
