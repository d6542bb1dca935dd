"""The whole program on a real JACK server (the dummy driver) that is killed mid-run and started again:
the run never hangs or ends, it says so on stderr and in the log, the explorer goes on meanwhile, and
the sound comes back through the new server."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from piece_support import command, env, events, free_port, summary, wait_for

from aego.bench_load import build, send
from tests.jack_server import JackServer

pytestmark = pytest.mark.slow


def _ours(ports: list[str]) -> bool:
    """Whether the run's output ports are registered with the server (PortAudio's JACK client)."""
    return any(not p.startswith("system:") for p in ports)


def _after(evs: list[dict], what: str) -> list[dict]:
    """The events that came after the first engine event ``what``."""
    for i, e in enumerate(evs):
        if e.get("what") == what:
            return evs[i + 1:]
    return []


@pytest.mark.timeout(400)
def test_a_performance_survives_its_jack_server_being_killed_and_restarted(tmp_path: Path) -> None:
    log = tmp_path / "session"
    port = free_port()
    stderr = tmp_path / "stderr.txt"
    with JackServer(rate=48000, period=256) as jack, open(stderr, "w") as err:
        cmd = command("perform", log, "--score", "aego", "--seed", "2", listen=port)
        cmd[cmd.index("null")] = "jack"
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=jack.env(env()))
        try:
            wait_for(log, lambda evs: sum(e["type"] == "action" for e in evs) >= 3)
            wait_for(log, lambda evs: any(e.get("what") == "start" for e in evs))
            assert _ours(jack.ports()), jack.ports()
            jack.kill()  # SIGKILL: the server crashes
            lost = wait_for(log, lambda evs: any(e.get("what") == "device lost" for e in evs), timeout=60)
            # the explorer goes on while there is no server
            wait_for(log, lambda evs: sum(e["type"] == "action" for e in _after(evs, "device lost")) >= 10)
            assert proc.poll() is None
            jack.start()
            wait_for(log, lambda evs: any(e.get("what") == "device back" for e in evs), timeout=90)
            deadline = time.monotonic() + 30
            while not _ours(jack.ports()) and time.monotonic() < deadline:
                time.sleep(0.2)
            ports_back = jack.ports()
            # the explorer goes on after the device is back (wait for it: stopping at once races the next action)
            wait_for(log, lambda evs: sum(e["type"] == "action" for e in _after(evs, "device back")) >= 1)
            send(("127.0.0.1", port), build("/aego/stop", []))
            proc.wait(120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    text = stderr.read_text()
    assert proc.returncode == 0 and "Traceback" not in text, text[-3000:]
    assert _ours(ports_back), ports_back  # playing into the new server
    assert text.count("audio: device lost") == 1 and text.count("audio: device back") == 1, text
    evs = events(log)
    kinds = [e["what"] for e in evs if e.get("what") in ("device lost", "device back")]
    assert kinds == ["device lost", "device back"]
    assert lost and sum(e["type"] == "action" for e in _after(evs, "device back")) >= 1
    s = summary(log)
    assert s["ended_by"] == "stop"
    assert s["audio"]["device_lost"] == 1 and s["audio"]["device_back"] == 1
    assert s["audio"]["backend"] == "jack"
