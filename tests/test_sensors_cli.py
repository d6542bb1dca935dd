"""`aego sensors`, `aego calibrate` and `aego bench osc` as a user runs them."""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
import threading
import time
from argparse import Namespace

import pytest
from aego.sensors.bench import riot_bundle


def _free_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _quat_msg(sensor_id: str, w: float, x: float, y: float, z: float) -> bytes:
    from pythonosc.osc_message_builder import OscMessageBuilder

    b = OscMessageBuilder(f"/riot/v3/{sensor_id}/absoluteorientation/quaternion")
    for v in (x, y, z, w, 0):
        b.add_arg(v)
    return b.build().dgram


class Streamer(threading.Thread):
    """A sensor at ~200 Hz whose pose is whatever ``pose`` returns at the moment."""

    def __init__(self, port: int, pose) -> None:
        super().__init__(daemon=True)
        self.port, self.pose = port, pose
        self.stop = threading.Event()

    def run(self) -> None:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t0 = time.monotonic()
        while not self.stop.is_set():
            s.sendto(_quat_msg("7", *self.pose(time.monotonic() - t0)), ("127.0.0.1", self.port))
            time.sleep(0.005)
        s.close()


def _aego(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "aego", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kw)


def test_sensors_monitor_shows_what_it_hears():
    port = _free_port()
    streamer = Streamer(port, lambda t: (math.cos(0.2), math.sin(0.2), 0.0, 0.0))
    proc = _aego("sensors", "--osc-listen", f"127.0.0.1:{port}", "--seconds", "4")
    streamer.start()
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        streamer.stop.set()
    assert proc.returncode == 0, err
    assert "7 (riot-v3, wrist 1" in out
    assert "reward" in out and "received" in out


def test_sensors_rejects_bad_arguments():
    out = subprocess.run([sys.executable, "-m", "aego", "sensors", "--seconds", "-1"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1


def test_calibrate_saves_neutral_and_range(tmp_path):
    port = _free_port()
    state = {"phase": "neutral"}
    tilt = (math.cos(0.3), 0.0, math.sin(0.3), 0.0)  # the neutral pose: forearm tilted 34° about y

    def pose(t):
        from aego.sensors.quaternion import from_axis_angle, multiply

        twist = 0.0 if state["phase"] == "neutral" else 50.0 * math.sin(2 * math.pi * t)
        return multiply(tilt, from_axis_angle((1.0, 0.0, 0.0), math.radians(twist)))

    out_file = tmp_path / "cal.json"
    proc = _aego("calibrate", "--osc-listen", f"127.0.0.1:{port}", "--seconds", "1", "-o", str(out_file))
    streamer = Streamer(port, pose)
    streamer.start()
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if "STEP 2" in line:
                state["phase"] = "turn"
        proc.wait(60)
    finally:
        streamer.stop.set()
    assert proc.returncode == 0, proc.stderr.read()
    data = json.loads(out_file.read_text())
    cal = data["wrists"]["7"]
    dot = abs(sum(a * b for a, b in zip(cal["neutral"], tilt, strict=True)))
    assert dot == pytest.approx(1.0, abs=1e-3)
    assert cal["range_pos_deg"] == pytest.approx(50.0, abs=3.0)
    assert cal["range_neg_deg"] == pytest.approx(50.0, abs=3.0)
    assert any("saved" in line for line in lines)


def test_bench_osc_short_run():
    from aego.sensors.bench import run_bench

    figures = run_bench(Namespace(seconds=1.0))
    assert figures["sent"] == figures["received"] and figures["sent"] > 0
    assert figures["flood_bad_sent"] == 10_000 and figures["flood_bad_counted"] == 10_000
    assert figures["flood_valid_used"] == figures["flood_valid_sent"]
    assert figures["hub_alive"] is True
    assert figures["rewards"] > 0 and figures["latency_ms_p99"] >= figures["latency_ms_p50"] > 0
    json.dumps(figures)


def test_riot_bundle_is_what_the_device_sends():
    from aego.sensors.osc_server import parse_datagram

    messages, bad = parse_datagram(riot_bundle("3", 0.5, 100))
    assert bad == 0 and [m[0] for m in messages] == [
        "/riot/v3/3/absoluteorientation/quaternion", "/riot/v3/3/absoluteorientation/euler", "/riot/v3/3/gyroscope"]
