"""OSC out per CONTRACT §4, received by python-osc and by liblo's oscdump (an independent implementation)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time

import pytest
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import ThreadingOSCUDPServer

from aego.osc_out import OscOut


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _send_all(out: OscOut) -> None:
    out.section("toys-2", 2)
    out.action(1, -1, [0.25, 0.75], [0.5] * 8)
    out.reward(-0.5)


def test_python_osc_receives_every_message():
    received: list[tuple] = []
    dispatcher = Dispatcher()
    dispatcher.set_default_handler(lambda address, *args: received.append((address, *args)))
    server = ThreadingOSCUDPServer(("127.0.0.1", 0), dispatcher)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        out = OscOut("127.0.0.1", server.server_address[1])
        _send_all(out)
        deadline = time.monotonic() + 5
        while len(received) < 5 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        server.shutdown()
        server.server_close()
    got = {r[0]: r[1:] for r in received}
    assert got["/aego/section"] == ("toys-2", 2)
    assert got["/aego/state"] == (0.25, 0.75)
    assert got["/aego/latent"] == (0.5,) * 8
    assert got["/aego/action"] == (1, -1)
    assert got["/aego/reward"] == (-0.5,)
    assert out.sent == 5 and out.dropped == 0


@pytest.mark.skipif(shutil.which("oscdump") is None, reason="liblo-tools (oscdump) is not installed")
def test_liblo_oscdump_receives_the_typed_messages():
    port = _free_port()
    dump = subprocess.Popen(["oscdump", "-L", str(port)], stdout=subprocess.PIPE, text=True)
    try:
        out = OscOut("127.0.0.1", port)
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(iter(dump.stdout.readline, "")), daemon=True)
        reader.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any("/aego/reward" in x for x in lines):
            _send_all(out)  # oscdump may still be binding its socket: send until it answers
            time.sleep(0.2)
    finally:
        dump.terminate()
        dump.wait(5)
    text = "".join(lines)
    assert '/aego/section si "toys-2" 2' in text
    assert "/aego/state ff 0.250000 0.750000" in text
    assert "/aego/latent " + "f" * 8 in text
    assert "/aego/action ii 1 -1" in text
    assert "/aego/reward f -0.500000" in text


def test_an_absent_receiver_never_blocks():
    out = OscOut("127.0.0.1", _free_port())
    for _ in range(2000):
        out.action(0, 1, [0.5], [0.0] * 8)
    assert out.sent + out.dropped == 6000
