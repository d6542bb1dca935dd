"""Real OSC over loopback into the input process: every device format, controls, liblo's oscsend,
a malformed flood, the allow list, the watchdog, recording and replay."""

from __future__ import annotations

import math
import os
import socket
import subprocess
import time

import pytest
from aego.sensors.bench import bad_datagram, riot_bundle
from aego.sensors.events import Control, ImuSample, Reward, SensorEvent
from aego.sensors.hub import InputConfig, InputHub
from aego.sensors.osc_server import listen_warning
from aego.sensors.reward_mix import MixConfig
from aego.sensors.wrist import WristConfig
from pythonosc.osc_bundle_builder import OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder

from aego.errors import UsageError

GUARD_S = 20.0  # only a guard against hanging: every wait ends as soon as its condition holds


def msg(address, *args):
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


@pytest.fixture
def make_hub():
    hubs = []

    def make(**kw):
        kw.setdefault("listen", ("127.0.0.1", 0))
        kw.setdefault("realtime", False)
        hub = InputHub(InputConfig(**kw))
        hub.start()
        hubs.append(hub)
        return hub

    yield make
    for h in hubs:
        h.stop()


@pytest.fixture
def sender():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    yield s
    s.close()


def collect(hub, until, guard=GUARD_S):
    """Poll the hub until ``until(events)`` holds; returns every event seen."""
    events = []
    end = time.monotonic() + guard
    while time.monotonic() < end:
        events += hub.poll()
        if until(events):
            return events
        time.sleep(0.01)
    raise AssertionError(f"condition not reached; got {len(events)} events: {events[-10:]}")


def wait_counters(hub, until, guard=GUARD_S):
    end = time.monotonic() + guard
    while time.monotonic() < end:
        c = hub.counters()
        if c and until(c):
            return c
        time.sleep(0.02)
    raise AssertionError(f"counters never matched: {hub.counters()}")


def test_every_device_format_over_loopback(make_hub, sender):
    hub = make_hub(forward_samples=True, mix=MixConfig(max_wrists=10))
    assert hub._proc.pid != os.getpid()  # reception runs in its own process
    addr = hub.address
    # R-IoT v3: one bundle per sample, here time-tagged an hour ahead (a sensor clock running fast).
    b = OscBundleBuilder(time.time() + 3600)
    half = math.radians(30) / 2
    b.add_content(_m("/riot/v3/4/absoluteorientation/quaternion", [math.sin(half), 0.0, 0.0, math.cos(half), 1000]))
    b.add_content(_m("/riot/v3/4/gyroscope", [0.5, 0.0, 0.0, 1000]))
    b.add_content(_m("/riot/v3/4/temperature", [30.0]))
    sender.sendto(b.build().dgram, addr)
    raw = [0.0] * 22
    raw[14:18] = [math.cos(half), math.sin(half), 0.0, 0.0]
    sender.sendto(msg("/2/raw", *raw), addr)
    sender.sendto(msg("/quaternion", math.cos(half), math.sin(half), 0.0, 0.0), addr)
    sender.sendto(msg("/battery", 64.0, 100.0, 3.8, 0.0), addr)
    sender.sendto(msg("/aego/imu/phone", 30.0, 0.0, 0.0), addr)
    sender.sendto(msg("/aego/imu/watch/quat", math.cos(half), math.sin(half), 0.0, 0.0), addr)
    port = sender.getsockname()[1]

    def done(evs):
        return len([e for e in evs if isinstance(e, ImuSample)]) >= 7

    events = collect(hub, done)
    samples = [e for e in events if isinstance(e, ImuSample)]
    by_fmt = {}
    for s in samples:
        by_fmt.setdefault((s.fmt, s.sensor_id), []).append(s)
    assert set(by_fmt) == {("riot-v3", "4"), ("riot-v2", "2"), ("ngimu", f"ngimu@127.0.0.1:{port}"),
                           ("aego", "phone"), ("aego", "watch")}
    from aego.sensors.quaternion import twist_angle

    for s in samples:
        if s.quat is not None:
            assert math.degrees(twist_angle(s.quat, (1.0, 0.0, 0.0))) == pytest.approx(30.0, abs=1e-3)
    assert any(s.battery == 64.0 for s in samples)
    assert any(s.gyro == pytest.approx((0.5, 0.0, 0.0)) for s in samples)
    connects = {e.sensor_id for e in events if isinstance(e, SensorEvent) and e.state == "connect"}
    assert connects == {sid for _, sid in by_fmt}
    c = wait_counters(hub, lambda c: c["received"] >= 6)
    assert c["malformed"] == 0 and c["unknown"] == 0 and c["ignored"] == 1  # the temperature


def _m(address, args):
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build()


def test_controls_over_loopback(make_hub, sender):
    hub = make_hub()
    for data in (msg("/aego/reward", 0.5), msg("/aego/zone", -1.0), msg("/aego/explore"), msg("/aego/pause", 1),
                 msg("/aego/cue"), msg("/aego/section", "two"), msg("/aego/dims", 4), msg("/aego/period", 0.08),
                 msg("/aego/mute", 0), msg("/aego/gain", 0.7), msg("/aego/stop"), msg("/aego/reward", 9.0)):
        sender.sendto(data, hub.address)
    events = collect(hub, lambda evs: len(evs) >= 12)
    assert events[0] == Reward(0.5, "osc", events[0].t, False)
    assert [(e.address, e.args) for e in events[1:11]] == [
        ("/aego/zone", (-1.0,)), ("/aego/explore", ()), ("/aego/pause", (1,)), ("/aego/cue", ()),
        ("/aego/section", ("two",)), ("/aego/dims", (4,)), ("/aego/period", (pytest.approx(0.08),)),
        ("/aego/mute", (0,)), ("/aego/gain", (pytest.approx(0.7),)), ("/aego/stop", ())]
    assert all(isinstance(e, Control) for e in events[1:11])
    assert events[11].value == 1.0  # clipped


def test_liblo_oscsend_is_understood(make_hub):
    hub = make_hub(forward_samples=True)
    host, port = hub.address
    half = math.radians(-20) / 2
    for args in (["/aego/reward", "f", "-0.5"], ["/aego/section", "s", "intro"], ["/aego/dims", "i", "2"],
                 ["/riot/v3/9/absoluteorientation/quaternion", "fffff", repr(math.sin(half)), "0", "0",
                  repr(math.cos(half)), "250"],
                 ["/aego/imu/left", "fff", "15", "0", "0"]):
        subprocess.run(["oscsend", host, str(port), *args], check=True, timeout=10)
    events = collect(hub, lambda evs: len([e for e in evs if not isinstance(e, SensorEvent)]) >= 5)
    rewards = [e for e in events if isinstance(e, Reward) and e.source == "osc"]
    controls = [(e.address, e.args) for e in events if isinstance(e, Control)]
    samples = {e.sensor_id: e for e in events if isinstance(e, ImuSample)}
    assert rewards[0].value == pytest.approx(-0.5)
    assert controls == [("/aego/section", ("intro",)), ("/aego/dims", (2,))]
    from aego.sensors.quaternion import twist_angle

    assert math.degrees(twist_angle(samples["9"].quat, (1, 0, 0))) == pytest.approx(-20.0, abs=1e-3)
    assert samples["9"].device_ms == 250
    assert math.degrees(twist_angle(samples["left"].quat, (1, 0, 0))) == pytest.approx(15.0, abs=1e-3)


def test_malformed_flood_is_counted_and_every_valid_message_used(make_hub, sender):
    import random

    hub = make_hub()
    rng = random.Random(1)
    bad_n, clicks = 2000, 0
    values = []
    for i in range(bad_n):
        sender.sendto(bad_datagram(i, rng), hub.address)
        if i % 10 == 0:
            v = (clicks % 200 - 100) / 100
            values.append(v)
            sender.sendto(msg("/aego/reward", v), hub.address)
            clicks += 1
        if i % 200 == 0:
            time.sleep(0.005)  # a burst of 200, not a DoS of the test machine
    c = wait_counters(hub, lambda c: c["received"] >= bad_n + clicks)
    assert c["received"] == bad_n + clicks
    events = collect(hub, lambda evs: len([e for e in evs if isinstance(e, Reward) and e.source == "osc"]) >= clicks)
    got = [e.value for e in events if isinstance(e, Reward) and e.source == "osc"]
    assert got == pytest.approx(values)  # every valid click, in order
    # Kind 8 (a valid quaternion from sensor 99) is used: sensors 1 and 2 only ever send bad data, so 99
    # is the first wrist heard.
    assert c["samples"] == bad_n // 10
    assert c["malformed"] + c["unknown"] == bad_n - bad_n // 10
    assert c["malformed"] == 8 * bad_n // 10 and c["unknown"] == bad_n // 10
    invalid = [e for e in events if isinstance(e, SensorEvent) and e.state in ("invalid", "unknown")]
    assert len(invalid) < 50  # each kind reported once, not once per datagram
    assert hub.alive


def test_allow_list_refuses_other_senders(make_hub, sender):
    hub = make_hub(allow=["127.0.0.2"])
    sender.sendto(msg("/aego/reward", 0.25), hub.address)
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.bind(("127.0.0.2", 0))
    try:
        other.sendto(msg("/aego/reward", 0.75), hub.address)
        events = collect(hub, lambda evs: any(isinstance(e, Reward) for e in evs))
    finally:
        other.close()
    c = wait_counters(hub, lambda c: c["received"] >= 2)
    assert [e.value for e in events if isinstance(e, Reward)] == [0.75]
    assert c["dropped"] == 1


def test_listen_warning():
    assert listen_warning("127.0.0.1") is None and listen_warning("::1") is None
    assert "every network interface" in listen_warning("0.0.0.0")
    assert "--osc-allow" in listen_warning("192.168.1.10")


def test_watchdog_through_the_hub(make_hub, sender):
    hub = make_hub(mix=MixConfig(wrist=WristConfig(calibration_s=0.05, dead_band_deg=0.0)))
    for i in range(60):
        sender.sendto(riot_bundle("L", i / 200, i), hub.address)
        time.sleep(0.005)
    events = collect(hub, lambda evs: any(getattr(e, "state", "") == "stale" for e in evs))
    states = [e.state for e in events if isinstance(e, SensorEvent)]
    assert states[:3] == ["connect", "calibrated", "stale"]
    events += collect(hub, lambda evs: any(isinstance(e, Reward) and e.value == 0.0 for e in evs))
    for i in range(10):
        sender.sendto(riot_bundle("L", 1 + i / 200, i), hub.address)
    back = collect(hub, lambda evs: any(getattr(e, "state", "") == "reconnect" for e in evs))
    assert any(isinstance(e, Reward) and e.source == "imu" for e in back)


def test_record_then_replay_through_the_same_pipeline(make_hub, sender, tmp_path):
    rec = tmp_path / "session" / "sensors.jsonl"
    hub = make_hub(record=str(rec), forward_samples=True)
    for i in range(50):
        sender.sendto(riot_bundle("R", i / 200, i), hub.address)
        time.sleep(0.002)
    sender.sendto(msg("/aego/reward", 0.5), hub.address)  # a control: not a sensor stream
    wait_counters(hub, lambda c: c["received"] >= 51)
    hub.stop()
    lines = rec.read_text().splitlines()
    assert len(lines) == 1 + 100  # header + quaternion and Euler of 50 bundles (gyroscope not needed)
    replay = make_hub(listen=None, replay=str(rec.parent), forward_samples=True)
    events = collect(replay, lambda evs: len([e for e in evs if isinstance(e, ImuSample)]) >= 100)
    samples = [e for e in events if isinstance(e, ImuSample)]
    assert {s.sensor_id for s in samples} == {"R"} and len(samples) == 100
    assert [s.device_ms for s in samples[::2]] == [int(i / 200 * 1000) for i in range(50)]
    assert replay.counters()["malformed"] == 0


def test_bad_start_is_a_clear_error(tmp_path):
    busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    busy.bind(("127.0.0.1", 0))
    try:
        with pytest.raises(UsageError, match="--osc-listen"):
            InputHub(InputConfig(listen=busy.getsockname(), realtime=False)).start()
    finally:
        busy.close()
    junk = tmp_path / "x.jsonl"
    junk.write_text("hello\n")
    with pytest.raises(UsageError, match="not a sensor recording"):
        InputHub(InputConfig(listen=None, replay=str(junk))).start()
    with pytest.raises(UsageError, match="does not exist"):
        InputHub(InputConfig(listen=None, replay=str(tmp_path / "none.jsonl"))).start()


def test_input_process_restarts_by_itself(make_hub, sender):
    import signal

    hub = make_hub()
    sender.sendto(msg("/aego/reward", 0.1), hub.address)
    collect(hub, lambda evs: any(isinstance(e, Reward) for e in evs))
    port = hub.address[1]
    os.kill(hub._proc.pid, signal.SIGKILL)  # worst case: the input process is gone
    events = collect(hub, lambda evs: any(getattr(e, "detail", "") == "input process restarted" for e in evs))
    assert any(isinstance(e, SensorEvent) and e.state == "error" for e in events)
    assert hub.address[1] == port  # the sensors keep sending to the same port
    sender.sendto(msg("/aego/reward", 0.2), hub.address)
    back = collect(hub, lambda evs: any(isinstance(e, Reward) for e in evs))
    assert [e.value for e in back if isinstance(e, Reward)] == [pytest.approx(0.2)]
    assert hub.counters()["restarts"] == 1


def test_recording_stops_at_its_size_limit_and_resumed_recordings_replay(tmp_path):
    from aego.sensors.recording import SensorRecorder, read_recording

    path = tmp_path / "sensors.jsonl"
    rec = SensorRecorder(path, max_bytes=2000)
    for i in range(100):
        rec.osc(rec._t0 + i * 0.01, "/aego/imu/a", [1.0, 2.0, 3.0], "x")
    assert rec.full and 2000 <= path.stat().st_size < 2200
    rec.close()
    again = SensorRecorder(path)  # a resumed run appends
    again.osc(again._t0 + 0.5, "/aego/imu/a", [4.0, 5.0, 6.0], "x")
    again.close()
    items = list(read_recording(path))
    assert all(kind == "osc" for _, kind, _ in items)
    times = [t for t, _, _ in items]
    assert times == sorted(times) and items[-1][2][1] == [4.0, 5.0, 6.0]
