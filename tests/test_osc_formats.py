"""Every OSC address ægo understands, decoded and validated; bad arguments refused, never raised."""

from __future__ import annotations

import contextlib
import math
import time

import pytest
from aego.sensors.events import Control, ImuSample, Reward
from aego.sensors.osc_formats import InvalidMessageError, UnknownAddressError, decode
from aego.sensors.osc_server import MalformedDatagramError, parse_datagram
from aego.sensors.quaternion import from_euler, twist_angle
from hypothesis import given, settings
from hypothesis import strategies as st


def _q_close(a, b):
    return abs(abs(sum(x * y for x, y in zip(a, b, strict=True))) - 1.0) < 1e-6


def test_riot_v3_quaternion_euler_gyroscope():
    s = decode("/riot/v3/7/absoluteorientation/quaternion", [0.0, 0.0, 0.6, 0.8, 1234], 1.0)
    assert isinstance(s, ImuSample) and s.sensor_id == "7" and s.fmt == "riot-v3"
    assert _q_close(s.quat, (0.8, 0.0, 0.0, 0.6)) and s.device_ms == 1234
    e = decode("/riot/v3/7/absoluteorientation/euler", [10.0, 20.0, 30.0, 5], 1.0)
    assert _q_close(e.quat, from_euler(10.0, 20.0, 30.0))
    g = decode("/riot/v3/7/gyroscope", [0.1, 0.2, 0.3, 5], 1.0)
    assert g.gyro == pytest.approx((0.1, 0.2, 0.3)) and g.quat is None
    assert decode("/riot/v3/7/accelerometer", [0.0, 0.0, 1.0, 5], 1.0) is None  # known, unused


def test_riot_v2_raw_uses_quaternion_then_euler():
    raw = [0.0] * 22
    raw[14:18] = [math.cos(0.25), math.sin(0.25), 0.0, 0.0]  # 0.5 rad about x
    s = decode("/0/raw", raw, 1.0)
    assert s.fmt == "riot-v2" and s.sensor_id == "0"
    assert twist_angle(s.quat, (1.0, 0.0, 0.0)) == pytest.approx(0.5)
    raw[14:18] = [0.0, 0.0, 0.0, 0.0]
    raw[18:21] = [0.0, 0.0, 45.0]  # yaw pitch roll
    s = decode("/0/raw", raw, 1.0)
    assert math.degrees(twist_angle(s.quat, (1.0, 0.0, 0.0))) == pytest.approx(45.0)
    with pytest.raises(InvalidMessageError):
        decode("/0/raw", [0.0] * 10, 1.0)


def test_ngimu_uses_the_sender_as_id():
    s = decode("/quaternion", [1.0, 0.0, 0.0, 0.0], 1.0, "10.0.0.5:9000")
    assert s.sensor_id == "ngimu@10.0.0.5:9000" and s.fmt == "ngimu"
    e = decode("/euler", [30.0, 0.0, 0.0], 1.0, "10.0.0.5:9000")  # roll pitch yaw
    assert math.degrees(twist_angle(e.quat, (1.0, 0.0, 0.0))) == pytest.approx(30.0)
    assert decode("/battery", [87.0, 120.0, 3.9, -0.1], 1.0, "x").battery == 87.0
    assert decode("/sensors", [180.0, 0.0, 0.0] + [0.0] * 7, 1.0, "x").gyro[0] == pytest.approx(math.pi)
    assert decode("/linear", [0.0, 0.0, 0.0], 1.0, "x") is None


def test_generic_aego_imu():
    s = decode("/aego/imu/left", [20.0, 0.0, 0.0], 1.0)  # roll pitch yaw
    assert s.sensor_id == "left" and math.degrees(twist_angle(s.quat, (1, 0, 0))) == pytest.approx(20.0)
    q = decode("/aego/imu/left/quat", [1.0, 0.0, 0.0, 0.0], 1.0)
    assert q.quat == (1.0, 0.0, 0.0, 0.0)
    assert decode("/aego/imu/left/battery", [55], 1.0).battery == 55.0


@pytest.mark.parametrize(("address", "args", "expected"), [
    ("/aego/reward", [3.0], Reward(1.0, "osc", 1.0)),
    ("/aego/reward", [-0.25], Reward(-0.25, "osc", 1.0)),
    ("/aego/reward", [1], Reward(1.0, "osc", 1.0)),
    ("/aego/zone", [-2.0], Control("/aego/zone", (-1.0,), 1.0)),
    ("/aego/explore", [], Control("/aego/explore", (), 1.0)),
    ("/aego/pause", [1], Control("/aego/pause", (1,), 1.0)),
    ("/aego/pause", [0.0], Control("/aego/pause", (0,), 1.0)),
    ("/aego/cue", [], Control("/aego/cue", (), 1.0)),
    ("/aego/section", ["two"], Control("/aego/section", ("two",), 1.0)),
    ("/aego/dims", [4], Control("/aego/dims", (4,), 1.0)),
    ("/aego/period", [0.05], Control("/aego/period", (0.05,), 1.0)),
    ("/aego/mute", [1], Control("/aego/mute", (1,), 1.0)),
    ("/aego/gain", [0.5], Control("/aego/gain", (0.5,), 1.0)),
    ("/aego/stop", [], Control("/aego/stop", (), 1.0)),
])
def test_controls(address, args, expected):
    assert decode(address, args, 1.0) == expected


@pytest.mark.parametrize(("address", "args"), [
    ("/aego/reward", []), ("/aego/reward", ["much"]), ("/aego/reward", [math.nan]), ("/aego/reward", [True]),
    ("/aego/section", []), ("/aego/section", [3]), ("/aego/section", ["  "]),
    ("/aego/dims", [0]), ("/aego/dims", [2.5]), ("/aego/dims", [1000]), ("/aego/period", [0.0]),
    ("/aego/period", [math.inf]), ("/aego/gain", [-1.0]), ("/aego/pause", []),
    ("/riot/v3/1/absoluteorientation/quaternion", [math.nan, 0.0, 0.0, 1.0, 0]),
    ("/riot/v3/1/absoluteorientation/quaternion", [0.0, 0.0, 0.0, 0.0, 0]),
    ("/riot/v3/1/absoluteorientation/quaternion", [0.0, 0.0, 9.0, 9.0, 0]),
    ("/riot/v3/1/absoluteorientation/quaternion", [0.0, 0.0]),
    ("/riot/v3/1/absoluteorientation/euler", [720.0, 0.0, 0.0, 0]),
    ("/riot/v3/1/absoluteorientation/euler", [0.0, -1000.0, 0.0, 0]),
    ("/aego/imu/x", [1.0, "a", 2.0]), ("/aego/imu/x/quat", [0.0, 0.0, 0.0, 0.0]),
    ("/quaternion", [math.inf, 0.0, 0.0, 0.0]), ("/euler", [0.0, 0.0, 500.0]),
])
def test_bad_arguments_are_invalid(address, args):
    with pytest.raises(InvalidMessageError) as exc:
        decode(address, args, 1.0, "1.2.3.4:5")
    assert exc.value.key


@pytest.mark.parametrize("address", ["/aego/nothing", "/what", "/a/b/c", "no-slash", "/aego/imu/x/what"])
def test_unknown_addresses(address):
    with pytest.raises(UnknownAddressError):
        decode(address, [1.0], 1.0)


@settings(max_examples=300, deadline=None)
@given(address=st.text(max_size=40), args=st.lists(st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-2**31, 2**31 - 1), st.text(max_size=5),
    st.booleans(), st.none()), max_size=25))
def test_decode_never_raises_anything_else(address, args):
    with contextlib.suppress(InvalidMessageError, UnknownAddressError):
        decode("/" + address, args, 1.0, "1.1.1.1:1")


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300))
def test_parse_datagram_on_random_bytes(data):
    try:
        messages, bad = parse_datagram(data)
    except MalformedDatagramError:
        return
    assert isinstance(messages, list) and bad >= 0


def test_nested_bundles_and_future_timetags():
    from pythonosc.osc_bundle_builder import OscBundleBuilder
    from pythonosc.osc_message_builder import OscMessageBuilder

    def msg(addr, *args):
        b = OscMessageBuilder(addr)
        for a in args:
            b.add_arg(a)
        return b.build()

    future = time.time() + 3600  # a sensor clock an hour ahead of ours
    inner = OscBundleBuilder(future)
    inner.add_content(msg("/aego/cue"))
    outer = OscBundleBuilder(future)
    outer.add_content(msg("/aego/reward", 0.5))
    outer.add_content(inner.build())
    messages, bad = parse_datagram(outer.build().dgram)
    assert [m[0] for m in messages] == ["/aego/reward", "/aego/cue"] and bad == 0
    # A bundle whose element sizes lie keeps what it can and reports the rest.
    data = outer.build().dgram + (400).to_bytes(4, "big") + b"/x\0\0"
    messages, bad = parse_datagram(data)
    assert len(messages) == 2 and bad == 1
