"""Decoding of every OSC address ægo understands: the control messages (CONTRACT §4) and the sensor
formats (§5), with argument validation.

:func:`decode` turns one OSC message into a :class:`Control`, a :class:`Reward`, an :class:`ImuSample`
or None (a known address whose data ægo does not use, e.g. an R-IoT's magnetometer). Bad input raises
:class:`InvalidMessageError` (known address, wrong arguments: NaN, zero-norm quaternion, angles out of range,
wrong types or count) or :class:`UnknownAddressError`; both carry a short ``key`` so the caller can count
every one and log each kind once.

Formats (angles in degrees, quaternions normalised on arrival)::

    /riot/v3/<id>/absoluteorientation/quaternion  x y z w [millis]     R-IoT v3 (one bundle per sample)
    /riot/v3/<id>/absoluteorientation/euler       yaw pitch roll [millis]
    /riot/v3/<id>/gyroscope                       x y z [millis]       rad/s
    /<id>/raw                                     22 floats            R-IoT v2 / BITalino R-IoT:
                                                                       quaternion w x y z at 14-17,
                                                                       yaw pitch roll at 18-20
    /quaternion  w x y z;  /euler  roll pitch yaw;  /sensors gx gy gz ...;  /battery percent ...   NGIMU
    /aego/imu/<id>  roll pitch yaw;  /aego/imu/<id>/quat  w x y z;  /aego/imu/<id>/battery  percent
"""

from __future__ import annotations

import math
from typing import Any

from aego.sensors.events import Control, ImuSample, Reward
from aego.sensors.quaternion import Quat, from_euler, normalise

MAX_ANGLE_DEG = 360.0  # devices send -180..180 or 0..360; anything beyond is garbage
QUAT_NORM_RANGE = (0.5, 2.0)  # a unit quaternion that arrives with another norm is not one

# NGIMU addresses that carry data ægo has no use for (known, so not "unknown").
_NGIMU_IGNORED = frozenset({
    "/matrix", "/linear", "/earth", "/altitude", "/temperature", "/humidity", "/magnitudes", "/button",
    "/rssi", "/analogue", "/serial", "/aux", "/ping",
})


class InvalidMessageError(ValueError):
    """A known address with unusable arguments. ``key`` groups alike errors (for logging once)."""

    def __init__(self, reason: str, key: str, sensor_id: str = "osc") -> None:
        super().__init__(reason)
        self.key = key
        self.sensor_id = sensor_id


class UnknownAddressError(LookupError):
    """An address no control or sensor format uses."""

    def __init__(self, address: str) -> None:
        super().__init__(f"unknown OSC address {address[:80]!r}")
        # Keyed by the first part of the address: a stream of random addresses is reported once.
        self.key = "unknown:" + address[:80].lstrip("/").split("/", 1)[0]


def _number(value: Any, what: str, key: str, sensor_id: str = "osc") -> float:
    # bool is an int in Python, but OSC T/F are not numbers a device would send for a value.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidMessageError(f"{what}: expected a number, got {type(value).__name__}", key, sensor_id)
    v = float(value)
    if not math.isfinite(v):
        raise InvalidMessageError(f"{what}: not a finite number ({v})", key, sensor_id)
    return v


def _numbers(args: list[Any], n: int, what: str, sensor_id: str) -> list[float]:
    if len(args) < n:
        reason = f"{what}: expected {n} numbers, got {len(args)} arguments"
        raise InvalidMessageError(reason, f"{what}:count", sensor_id)
    return [_number(a, what, f"{what}:value", sensor_id) for a in args[:n]]


def checked_quat(values: list[float], what: str, sensor_id: str) -> Quat:
    """``(w, x, y, z)`` normalised; InvalidMessageError when its norm is far from 1 (zero, garbage)."""
    norm = math.sqrt(sum(v * v for v in values))
    if not QUAT_NORM_RANGE[0] <= norm <= QUAT_NORM_RANGE[1]:
        raise InvalidMessageError(f"{what}: quaternion norm {norm:.3g} is not near 1", f"{what}:norm", sensor_id)
    q = normalise(values)
    if q is None:  # unreachable after the norm check; kept so a None never leaves this function
        raise InvalidMessageError(f"{what}: zero-norm quaternion", f"{what}:norm", sensor_id)
    return q


def checked_euler(yaw: float, pitch: float, roll: float, what: str, sensor_id: str) -> Quat:
    """The quaternion of Euler angles in degrees; InvalidMessageError when one is beyond ±360°."""
    for name, v in (("yaw", yaw), ("pitch", pitch), ("roll", roll)):
        if abs(v) > MAX_ANGLE_DEG:
            raise InvalidMessageError(f"{what}: {name} {v:.4g}° is out of range", f"{what}:range", sensor_id)
    return from_euler(yaw, pitch, roll)


def _millis(args: list[Any], index: int) -> float | None:
    if len(args) > index and isinstance(args[index], int | float) and not isinstance(args[index], bool):
        m = float(args[index])
        return m if math.isfinite(m) else None
    return None


def _valid_id(sensor_id: str, address: str) -> str:
    if not sensor_id or len(sensor_id) > 64:
        raise InvalidMessageError(f"bad sensor id in {address[:80]!r}", "id", "osc")
    return sensor_id


def decode_control(address: str, args: list[Any], t: float) -> Control | Reward:
    """A CONTRACT §4 control message, validated; raises InvalidMessageError or UnknownAddressError."""
    name = address[len("/aego/"):]
    key = address
    if name == "reward":
        if not args:
            raise InvalidMessageError("/aego/reward needs one number in [-1, 1]", key)
        v = _number(args[0], address, key)
        return Reward(max(-1.0, min(1.0, v)), "osc", t, continuous=False)
    if name == "zone":
        if not args:
            raise InvalidMessageError("/aego/zone needs one number in [-1, 1]", key)
        return Control(address, (max(-1.0, min(1.0, _number(args[0], address, key))),), t)
    if name in ("explore", "cue", "stop"):
        return Control(address, (), t)
    if name in ("pause", "mute"):
        if not args:
            raise InvalidMessageError(f"{address} needs 1 or 0", key)
        return Control(address, (int(_number(args[0], address, key) != 0),), t)
    if name == "section":
        if not args or not isinstance(args[0], str) or not args[0].strip() or len(args[0]) > 100:
            raise InvalidMessageError("/aego/section needs a section name (a string)", key)
        return Control(address, (args[0].strip(),), t)
    if name == "dims":
        if not args:
            raise InvalidMessageError("/aego/dims needs a whole number of dimensions", key)
        v = _number(args[0], address, key)
        if v != int(v) or not 1 <= v <= 64:
            raise InvalidMessageError(f"/aego/dims: {v:g} is not a number of dimensions (1-64)", key)
        return Control(address, (int(v),), t)
    if name == "period":
        if not args:
            raise InvalidMessageError("/aego/period needs seconds between actions", key)
        v = _number(args[0], address, key)
        if not 0.005 <= v <= 10.0:
            raise InvalidMessageError(f"/aego/period: {v:g} s is outside 0.005-10 s", key)
        return Control(address, (v,), t)
    if name == "gain":
        if not args:
            raise InvalidMessageError("/aego/gain needs a gain (0-4, 1 is unity)", key)
        v = _number(args[0], address, key)
        if not 0.0 <= v <= 4.0:
            raise InvalidMessageError(f"/aego/gain: {v:g} is outside 0-4", key)
        return Control(address, (v,), t)
    raise UnknownAddressError(address)


def _decode_riot_v3(parts: list[str], address: str, args: list[Any], t: float) -> ImuSample | None:
    # parts: ["riot", "v3", id, ...rest]
    sid = _valid_id(parts[2], address)
    rest = "/".join(parts[3:])
    what = f"riot-v3 {rest}"
    if rest == "absoluteorientation/quaternion":
        x, y, z, w = _numbers(args, 4, what, sid)
        return ImuSample(sid, "riot-v3", t, quat=checked_quat([w, x, y, z], what, sid), device_ms=_millis(args, 4))
    if rest == "absoluteorientation/euler":
        yaw, pitch, roll = _numbers(args, 3, what, sid)
        return ImuSample(sid, "riot-v3", t, quat=checked_euler(yaw, pitch, roll, what, sid), device_ms=_millis(args, 3))
    if rest == "gyroscope":
        gx, gy, gz = _numbers(args, 3, what, sid)
        return ImuSample(sid, "riot-v3", t, gyro=(gx, gy, gz), device_ms=_millis(args, 3))
    if rest == "battery":
        return ImuSample(sid, "riot-v3", t, battery=_numbers(args, 1, what, sid)[0])
    return None  # accelerometer, magnetometer, temperature ...: known, unused


def _decode_riot_v2(sid: str, address: str, args: list[Any], t: float) -> ImuSample:
    sid = _valid_id(sid, address)
    what = "riot-v2 raw"
    values = _numbers(args, 21, what, sid)
    try:
        q = checked_quat(values[14:18], what, sid)
    except InvalidMessageError:
        # Some firmwares leave the quaternion at zero and fill only the Euler angles.
        yaw, pitch, roll = values[18:21]
        q = checked_euler(yaw, pitch, roll, what, sid)
    return ImuSample(sid, "riot-v2", t, quat=q, gyro=(values[3], values[4], values[5]))


def _decode_ngimu(address: str, args: list[Any], t: float, sender: str) -> ImuSample | None:
    sid = f"ngimu@{sender}"
    what = f"ngimu {address}"
    if address == "/quaternion":
        return ImuSample(sid, "ngimu", t, quat=checked_quat(_numbers(args, 4, what, sid), what, sid))
    if address == "/euler":
        roll, pitch, yaw = _numbers(args, 3, what, sid)
        return ImuSample(sid, "ngimu", t, quat=checked_euler(yaw, pitch, roll, what, sid))
    if address == "/sensors":
        gx, gy, gz = _numbers(args, 3, what, sid)  # NGIMU sends degrees per second
        return ImuSample(sid, "ngimu", t, gyro=(math.radians(gx), math.radians(gy), math.radians(gz)))
    if address == "/battery":
        return ImuSample(sid, "ngimu", t, battery=_numbers(args, 1, what, sid)[0])
    return None


def _decode_generic(parts: list[str], address: str, args: list[Any], t: float) -> ImuSample | None:
    # parts: ["aego", "imu", id, ...]
    sid = _valid_id(parts[2], address)
    rest = "/".join(parts[3:])
    what = f"aego imu {rest or 'euler'}"
    if rest == "":
        roll, pitch, yaw = _numbers(args, 3, what, sid)
        return ImuSample(sid, "aego", t, quat=checked_euler(yaw, pitch, roll, what, sid))
    if rest == "quat":
        return ImuSample(sid, "aego", t, quat=checked_quat(_numbers(args, 4, what, sid), what, sid))
    if rest == "battery":
        return ImuSample(sid, "aego", t, battery=_numbers(args, 1, what, sid)[0])
    raise UnknownAddressError(address)


def decode(address: str, args: list[Any], t: float, sender: str = "") -> Control | Reward | ImuSample | None:
    """Decode one OSC message received at ``t`` (monotonic seconds) from ``sender`` (``"ip:port"``).

    Returns a Control, a Reward (``/aego/reward``), an ImuSample, or None for a known address whose data
    is not used. Raises InvalidMessageError or UnknownAddressError; never anything else for any input.
    """
    if not address.startswith("/"):
        raise UnknownAddressError(address)
    parts = address[1:].split("/")
    if parts[0] == "aego":
        if len(parts) >= 3 and parts[1] == "imu":
            return _decode_generic(parts, address, args, t)
        return decode_control(address, args, t)
    if len(parts) >= 4 and parts[0] == "riot" and parts[1] == "v3":
        return _decode_riot_v3(parts, address, args, t)
    if len(parts) == 2 and parts[1] == "raw":
        return _decode_riot_v2(parts[0], address, args, t)
    if len(parts) == 1 and (address in ("/quaternion", "/euler", "/sensors", "/battery") or address in _NGIMU_IGNORED):
        return _decode_ngimu(address, args, t, sender)
    raise UnknownAddressError(address)
