"""Serial IMUs through real pseudo-terminal pairs (socat): every line format, partial lines, a 10 kB
line, binary noise, and an unplug/replug with reconnection."""

from __future__ import annotations

import math
import os
import subprocess
import time
from pathlib import Path

import pytest
from aego.sensors.events import ImuSample, SensorEvent
from aego.sensors.hub import InputConfig, InputHub
from aego.sensors.osc_formats import InvalidMessageError
from aego.sensors.quaternion import twist_angle
from aego.sensors.serial_imu import LineSplitter, parse_line

GUARD_S = 20.0
X = (1.0, 0.0, 0.0)


class PtyPair:
    """``socat`` joining two pseudo-terminals: the board's side (``b``) and the port ægo opens (``a``)."""

    def __init__(self, folder: Path) -> None:
        self.a, self.b = folder / "ttyIMU", folder / "board"
        self.proc: subprocess.Popen | None = None
        self.fd: int | None = None

    def plug(self) -> None:
        self.proc = subprocess.Popen(
            ["socat", "-d", "-d", f"pty,raw,echo=0,link={self.a}", f"pty,raw,echo=0,link={self.b}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.monotonic() + GUARD_S
        while not (self.a.exists() and self.b.exists()):
            assert time.monotonic() < end, "socat did not create the pty pair"
            time.sleep(0.02)
        self.fd = os.open(self.b, os.O_RDWR | os.O_NOCTTY)

    def unplug(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def write(self, data: bytes) -> None:
        os.write(self.fd, data)


@pytest.fixture
def pty(tmp_path):
    p = PtyPair(tmp_path)
    p.plug()
    yield p
    p.unplug()


@pytest.fixture
def hub_on(pty):
    hubs = []

    def start(**kw):
        hub = InputHub(InputConfig(listen=None, serial=[str(pty.a)], forward_samples=True, realtime=False, **kw))
        hub.start()
        hubs.append(hub)
        return hub

    yield start
    for h in hubs:
        h.stop()


def collect(hub, until):
    events = []
    end = time.monotonic() + GUARD_S
    while time.monotonic() < end:
        events += hub.poll()
        if until(events):
            return events
        time.sleep(0.01)
    raise AssertionError(f"condition not reached; last events: {events[-10:]}")


def samples(events):
    return [e for e in events if isinstance(e, ImuSample)]


def opened(events):
    return [e for e in events if isinstance(e, SensorEvent) and e.state == "port"]


def test_line_formats():
    s = parse_line(b"q,left,7,1234,0.9659258,0.2588190,0,0", "ttyUSB0", 1.0)
    assert (s.sensor_id, s.fmt, s.seq, s.device_ms) == ("left", "serial-csv", 7, 1234.0)
    assert math.degrees(twist_angle(s.quat, X)) == pytest.approx(30.0, abs=1e-4)
    s = parse_line(b"e,right,8,1240,-45,0,0,87\r", "ttyUSB0", 1.0)  # roll pitch yaw, battery
    assert math.degrees(twist_angle(s.quat, X)) == pytest.approx(-45.0) and s.battery == 87.0
    s = parse_line(b"ypr\t10.0\t0.0\t20.0", "ttyACM0", 1.0)  # yaw pitch roll
    assert (s.sensor_id, s.fmt) == ("serial:ttyACM0", "mpu6050")
    assert math.degrees(twist_angle(s.quat, (1.0, 0.0, 0.0))) == pytest.approx(20.0, abs=0.5)
    s = parse_line(b"quat\t1\t0\t0\t0", "ttyACM0", 1.0)
    assert s.quat == (1.0, 0.0, 0.0, 0.0)
    s = parse_line(b"Orientation: 0.00 25.00 0.00", "ttyACM1", 1.0)  # heading roll pitch
    assert s.fmt == "bno055" and math.degrees(twist_angle(s.quat, X)) == pytest.approx(25.0)
    assert parse_line(b"Quaternion: 1 0 0 0", "ttyACM1", 1.0).quat == (1.0, 0.0, 0.0, 0.0)
    assert parse_line(b"Calibration: 3 3 3 3", "ttyACM1", 1.0) is None  # known text, no data
    assert parse_line(b"MPU6050 connection successful", "x", 1.0) is None
    for bad in (b"q,left,1,2,nan,0,0,0", b"q,left,1,2,0,0,0,0", b"e,left,1,2,999,0,0", b"q,left,x,2,1,0,0,0",
                b"ypr\t1\t2", b"quat\ta\tb\tc\td", b"Orientation: 1 2", b"\x00\xff\x13garbage", b"q,,1,2,1,0,0,0"):
        with pytest.raises(InvalidMessageError):
            parse_line(bad, "x", 1.0)


def test_line_splitter_partial_long_and_noise():
    s = LineSplitter(max_line=1024)
    assert s.feed(b"q,a,1,2,1,0") == []
    assert s.feed(b",0,0\r\nq,a,2") == [b"q,a,1,2,1,0,0,0"]
    assert s.feed(b"," + b"9" * 10_000) == []  # a 10 kB line: dropped whole ...
    assert s.feed(b"9" * 100 + b"\nq,a,3,4,1,0,0,0\n") == [b"q,a,3,4,1,0,0,0"]  # ... and the next line is fine
    assert s.overlong == 1
    assert s.feed(b"x" * 2000 + b"\n") == [] and s.overlong == 2


def test_serial_imu_through_a_pty(pty, hub_on):
    hub = hub_on()
    collect(hub, opened)
    half = math.radians(30) / 2
    line = f"q,left,1,100,{math.cos(half):.7f},{math.sin(half):.7f},0,0\n".encode()
    pty.write(line[:10])  # a line in two writes
    time.sleep(0.05)
    pty.write(line[10:])
    pty.write(b"ypr\t0\t0\t10\n")
    pty.write(b"Orientation: 0 -5 0\n")
    pty.write(b"q,left,2,105," + b"7" * 10_000 + b"\n")  # a 10 kB line
    pty.write(bytes(range(256)) * 4 + b"\n")  # binary noise
    pty.write(b"q,left,5,120,1,0,0,0\n")  # valid again, and seq jumped from 1 to 5
    events = collect(hub, lambda evs: len(samples(evs)) >= 4)
    got = samples(events)
    assert [(s.sensor_id, s.fmt) for s in got] == [("left", "serial-csv"), (f"serial:{pty.a.name}", "mpu6050"),
                                                   (f"serial:{pty.a.name}", "bno055"), ("left", "serial-csv")]
    assert math.degrees(twist_angle(got[0].quat, X)) == pytest.approx(30.0, abs=1e-3)
    end = time.monotonic() + GUARD_S
    while hub.counters().get("dropped", 0) < 1 and time.monotonic() < end:
        time.sleep(0.05)
    c = hub.counters()
    assert c["serial_malformed"] >= 1 and c["dropped"] == 1 and c["samples"] == 4 and c["serial_lines"] >= 5
    assert c["lost_serial_lines"] == 3
    assert hub.alive


def test_unplug_and_replug_reconnects(pty, hub_on):
    hub = hub_on()
    collect(hub, opened)
    pty.write(b"q,left,1,100,1,0,0,0\n")
    collect(hub, lambda evs: len(samples(evs)) >= 1)
    pty.unplug()  # the cable is pulled: socat gone, the pty vanishes
    lost = collect(hub, lambda evs: any(getattr(e, "state", "") == "error" for e in evs))
    assert any("lost" in e.detail or "waiting" in e.detail for e in lost if isinstance(e, SensorEvent))
    pty.plug()  # plugged back in: same link name, a new pty behind it
    collect(hub, opened)
    for i in range(3):
        pty.write(f"q,left,{2 + i},{200 + i},1,0,0,0\n".encode())
    back = collect(hub, lambda evs: len(samples(evs)) >= 3)
    assert [s.seq for s in samples(back)] == [2, 3, 4]
    assert hub.alive


def test_a_port_plugged_in_after_the_start_is_found(tmp_path):
    from aego.sensors.serial_imu import find_port

    late = PtyPair(tmp_path)
    assert find_port(str(late.a)) is None and find_port("ffff:fffe") is None
    hub = InputHub(InputConfig(listen=None, serial=[str(late.a)], forward_samples=True, realtime=False))
    hub.start()
    try:
        waiting = collect(hub, lambda evs: any(getattr(e, "state", "") == "error" for e in evs))
        assert any("waiting" in e.detail for e in waiting if isinstance(e, SensorEvent))
        late.plug()
        collect(hub, opened)
        late.write(b"e,right,1,10,15,0,0\n")
        got = samples(collect(hub, lambda evs: len(samples(evs)) >= 1))
        assert got[0].sensor_id == "right"
        assert math.degrees(twist_angle(got[0].quat, X)) == pytest.approx(15.0)
    finally:
        hub.stop()
        late.unplug()
