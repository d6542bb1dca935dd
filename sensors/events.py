"""The plain data that leaves the input process: controls, rewards, sensor state changes, IMU samples.

Times ``t`` are ``time.monotonic()`` seconds; on Linux that clock is shared by every process of the
machine, so a time stamped in the input process can be compared with one taken in the main process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Control:
    """An operator control from OSC (``/aego/...``, CONTRACT §4), arguments already validated.

    ``args`` holds the typed arguments, e.g. ``("intro",)`` for ``/aego/section``, ``(4,)`` for ``/aego/dims``.
    """

    address: str
    args: tuple[Any, ...]
    t: float


@dataclass(frozen=True, slots=True)
class Reward:
    """A reward for the agent: ``value`` in [-1, 1].

    ``source`` is ``"keyboard"``, ``"osc"``, ``"imu"`` or ``"serial"``; ``continuous`` is True for a stream
    (wrist twist, a held key: hand it to ``explorer.stream``) and False for a discrete click
    (``explorer.feedback``). ``t`` is when the input that produced it arrived (for an IMU reward: when the
    newest sensor sample in it was received), so ``monotonic() - t`` is the latency inside the program.
    """

    value: float
    source: str
    t: float
    continuous: bool = False


@dataclass(frozen=True, slots=True)
class SensorEvent:
    """A change in a sensor's state, for the session log.

    ``state``: ``"connect"`` (first data), ``"calibrated"``, ``"stale"`` (silent past its timeout),
    ``"reconnect"`` (data back after stale), ``"unknown"`` (an id that is not a wrist), ``"invalid"``
    (bad input from it: NaN, zero-norm, out of range, unparsable line; logged once per kind),
    ``"error"`` / ``"port"`` (serial port lost or opened). ``detail`` says more in words.
    """

    sensor_id: str
    state: str
    t: float
    detail: str = ""


@dataclass(slots=True)
class ImuSample:
    """One orientation reading from one sensor, after decoding and validation.

    ``quat`` is a unit quaternion ``(w, x, y, z)`` (sensor frame to world frame) or None when the message
    carried only other data (gyroscope ``(3,)`` rad/s, ``battery`` in percent). ``device_ms`` is the
    sensor's own clock when it sends one; ``fmt`` names the format (``riot-v3``, ``riot-v2``, ``ngimu``,
    ``aego``, ``serial-csv``, ``mpu6050``, ``bno055``).
    """

    sensor_id: str
    fmt: str
    t: float
    quat: tuple[float, float, float, float] | None = None
    gyro: tuple[float, float, float] | None = None
    battery: float | None = None
    device_ms: float | None = None
    seq: int | None = None
    extra: dict[str, float] = field(default_factory=dict)


Event = Control | Reward | SensorEvent
