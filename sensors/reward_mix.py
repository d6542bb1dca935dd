"""From wrist values to one reward: wrist assignment, the sum of the two twists normalised to [-1, 1],
a per-sensor watchdog, and the mixing of several continuous reward sources.

The wrists are the ids configured, or (CONTRACT §5) the first two sensor ids that send an orientation.
A sensor silent for longer than its timeout (``timeout_s``, 0.2 s, or three sample periods for a sensor
slower than 15 Hz) is stale: a ``stale`` event is emitted and its share fades linearly to 0, reaching it
``fade_s`` later (0.5 s after the last sample by default); when data returns it comes back by itself
with a ``reconnect`` event.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from aego.sensors.events import ImuSample, SensorEvent
from aego.sensors.quaternion import Quat
from aego.sensors.wrist import Wrist, WristConfig

SERIAL_FORMATS = frozenset({"serial-csv", "mpu6050", "bno055"})


@dataclass
class MixConfig:
    """Which sensors are wrists and how their twists make the reward.

    Attributes
    ----------
    wrist_ids : the wrist sensor ids, in order; empty: the first ``max_wrists`` ids heard.
    wrist : the settings for every wrist; ``per_wrist`` overrides them by id (axis, sign, ranges ...).
    neutral : saved neutral poses by id (from ``aego calibrate``); a wrist without one auto-calibrates.
    timeout_s : silence after which a sensor is stale.
    fade_s : how long a stale wrist's share takes to fade to 0.
    """

    wrist_ids: tuple[str, ...] = ()
    max_wrists: int = 2
    wrist: WristConfig = field(default_factory=WristConfig)
    per_wrist: dict[str, WristConfig] = field(default_factory=dict)
    neutral: dict[str, Quat] = field(default_factory=dict)
    timeout_s: float = 0.2
    fade_s: float = 0.3


@dataclass
class SensorStatus:
    """What is known about one sensor (shown by ``aego sensors``)."""

    sensor_id: str
    fmt: str
    role: str  # "wrist 1", "wrist 2", "other"
    first_t: float
    last_t: float
    count: int = 0
    rate_hz: float = 0.0
    stale: bool = False
    battery: float | None = None
    twist_deg: float | None = None
    value: float | None = None
    calibrated: bool = False
    window_t: float = 0.0
    window_n: int = 0


class RewardMixer:
    """Wrists → one continuous reward. Not thread-safe: one caller (the input loop)."""

    def __init__(self, config: MixConfig | None = None) -> None:
        self.config = config or MixConfig()
        self.wrists: dict[str, Wrist] = {}
        self.status: dict[str, SensorStatus] = {}
        self._order: list[str] = list(self.config.wrist_ids)

    def _is_wrist(self, sensor_id: str) -> bool:
        if sensor_id in self.wrists:
            return True
        if self.config.wrist_ids:
            return sensor_id in self.config.wrist_ids
        return len(self.wrists) < self.config.max_wrists

    def _add_wrist(self, sensor_id: str) -> Wrist:
        cfg = self.config.per_wrist.get(sensor_id, self.config.wrist)
        wrist = Wrist(sensor_id, cfg, self.config.neutral.get(sensor_id))
        self.wrists[sensor_id] = wrist
        if sensor_id not in self._order:
            self._order.append(sensor_id)
        return wrist

    def role(self, sensor_id: str) -> str:
        if sensor_id in self.wrists:
            return f"wrist {self._order.index(sensor_id) + 1}"
        return "other"

    def sample(self, s: ImuSample) -> list[SensorEvent]:
        """Take one decoded sample; returns the sensor events it causes (connect, reconnect, unknown ...)."""
        events: list[SensorEvent] = []
        st = self.status.get(s.sensor_id)
        if st is None:
            st = SensorStatus(s.sensor_id, s.fmt, "other", s.t, s.t, window_t=s.t)
            self.status[s.sensor_id] = st
            events.append(SensorEvent(s.sensor_id, "connect", s.t, f"{s.fmt} sensor heard"))
        elif st.stale:
            st.stale = False
            events.append(SensorEvent(s.sensor_id, "reconnect", s.t, f"data back after {s.t - st.last_t:.2f} s"))
            if s.sensor_id in self.wrists:
                self.wrists[s.sensor_id].reset()
        st.count += 1
        st.window_n += 1
        if s.t - st.window_t >= 1.0:
            # Counted over whole windows: datagrams arrive in bursts, so 1/Δt between two would jitter.
            st.rate_hz = st.window_n / (s.t - st.window_t)
            st.window_t, st.window_n = s.t, 0
        st.last_t = s.t
        st.fmt = s.fmt
        if s.battery is not None:
            st.battery = s.battery
        if s.quat is None:
            return events
        if not self._is_wrist(s.sensor_id):
            if st.role != "other-logged":
                st.role = "other-logged"
                events.append(SensorEvent(s.sensor_id, "unknown", s.t,
                                          "not a wrist (both wrists taken or ids configured): its data is ignored"))
            return events
        wrist = self.wrists.get(s.sensor_id) or self._add_wrist(s.sensor_id)
        was = wrist.calibrated
        wrist.update(s.quat, s.t)
        if wrist.calibrated and not was:
            events.append(SensorEvent(s.sensor_id, "calibrated", s.t,
                                      f"neutral pose taken (moved {wrist.spread_deg:.0f}° while holding)"))
        st.role = self.role(s.sensor_id)
        st.twist_deg = wrist.twist_deg
        st.value = wrist.value
        st.calibrated = wrist.calibrated
        return events

    def unknown(self, sensor_id: str) -> bool:
        """True when samples from ``sensor_id`` are dropped (not a wrist)."""
        st = self.status.get(sensor_id)
        return st is not None and st.role == "other-logged"

    def timeout(self, st: SensorStatus) -> float:
        """A sensor's timeout: ``timeout_s``, or three of its sample periods for a slow sender (a phone app
        at 10 Hz must not flap between stale and back at every gap)."""
        if st.rate_hz > 0:
            return max(self.config.timeout_s, 3.0 / st.rate_hz)
        return self.config.timeout_s

    def tick(self, now: float) -> list[SensorEvent]:
        """The watchdog: call regularly; returns ``stale`` events for sensors that just went silent."""
        events = []
        for st in self.status.values():
            if not st.stale and now - st.last_t > self.timeout(st):
                st.stale = True
                events.append(SensorEvent(st.sensor_id, "stale", now, f"silent for {now - st.last_t:.2f} s"))
        return events

    def share(self, sensor_id: str, now: float) -> float:
        """A wrist's weight in [0, 1]: 1 while fresh, fading to 0 over ``fade_s`` once stale."""
        st = self.status.get(sensor_id)
        if st is None:
            return 0.0
        age = now - st.last_t
        timeout = self.timeout(st)
        if age <= timeout:
            return 1.0
        return max(0.0, 1.0 - (age - timeout) / max(self.config.fade_s, 1e-6))

    def reward(self, now: float) -> tuple[float, str] | None:
        """The current reward in [-1, 1] and its source (``imu`` or ``serial``); None with no wrist ready.

        The wrists' values are summed, each weighted by its share, and divided by the total share (at
        least 1): two wrists turned fully the same way give ±1, opposite turns cancel, and one wrist alone
        still spans [-1, 1]. A fading wrist pulls the reward smoothly towards the others (or towards 0).
        """
        total = weights = 0.0
        serial_only = True
        ready = False
        for sid, wrist in self.wrists.items():
            if wrist.value is None:
                continue
            ready = True
            g = self.share(sid, now)
            total += g * wrist.value
            weights += g
            if g > 0 and self.status[sid].fmt not in SERIAL_FORMATS:
                serial_only = False
        if not ready:
            return None
        value = total / max(weights, 1.0)
        if not math.isfinite(value):
            value = 0.0
        return max(-1.0, min(1.0, value)), ("serial" if serial_only and weights > 0 else "imu")


class SourceMix:
    """Several continuous reward sources (wrists, a held key, an OSC stream) mixed into one value.

    Each source's latest value counts until it is ``timeout_s`` old; the mix is their sum clipped to
    [-1, 1], so a held key can push against the wrists.
    """

    def __init__(self, timeout_s: float = 0.5) -> None:
        self.timeout_s = timeout_s
        self._latest: dict[str, tuple[float, float]] = {}

    def update(self, source: str, value: float, t: float) -> None:
        if math.isfinite(value):
            self._latest[source] = (max(-1.0, min(1.0, value)), t)

    def value(self, now: float) -> float:
        total = sum(v for v, t in self._latest.values() if now - t <= self.timeout_s)
        return max(-1.0, min(1.0, total))

    def sources(self, now: float) -> list[str]:
        return sorted(s for s, (_, t) in self._latest.items() if now - t <= self.timeout_s)
