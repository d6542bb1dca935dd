"""Everything between raw input and events: OSC datagrams and serial lines in; controls, rewards and
sensor events out; every bad input counted, and each kind of bad input reported once.

Runs inside the input process (see :mod:`aego.sensors.hub`), driven by one loop; not thread-safe.

Counters (``counters``):
    received   OSC datagrams taken in
    messages   OSC messages in them (and replayed ones)
    malformed  datagrams that are not OSC; messages of a known format with bad values
               (NaN, zero-norm quaternion, angles out of range, wrong argument types or count)
    serial_lines, serial_malformed   the same for serial lines (binary noise, bad values)
    unknown    messages to unknown addresses; samples from sensors that are not wrists
    dropped    datagrams from senders not in the allow list; serial lines over 1 kB
    ignored    known addresses whose data is not used (an R-IoT's accelerometer ...), unknown serial text
    samples    sensor readings used
    controls   controls and OSC rewards delivered
    errors     inputs lost to an internal error (a bug: reported once per kind, the process goes on)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aego.sensors.events import Control, Event, ImuSample, Reward, SensorEvent
from aego.sensors.osc_formats import InvalidMessageError, UnknownAddressError, decode
from aego.sensors.osc_server import MalformedDatagramError, parse_datagram
from aego.sensors.recording import SensorRecorder
from aego.sensors.reward_mix import MixConfig, RewardMixer
from aego.sensors.serial_imu import parse_line

MAX_REPORTED_KINDS = 200  # bound on "logged once" bookkeeping, however varied the garbage


class InputPipeline:
    """Raw input → events. ``take()`` hands over the events produced since the last call."""

    def __init__(self, mix: MixConfig | None = None, recorder: SensorRecorder | None = None,
                 forward_samples: bool = False) -> None:
        self.mixer = RewardMixer(mix)
        self.recorder = recorder
        self.forward_samples = forward_samples
        self.counters = dict.fromkeys(
            ("received", "messages", "malformed", "unknown", "dropped", "ignored", "samples", "controls",
             "errors", "serial_lines", "serial_malformed"), 0)
        self._out: list[Event | ImuSample] = []
        self._reported: set[str] = set()
        self._wrist_t: float | None = None  # receive time of the newest wrist sample not yet in a reward
        self._last_reward: float | None = None
        self._last_emit = 0.0
        self._seq: dict[str, int] = {}
        self.lost_serial_lines = 0
        self.on_reward: Callable[[Reward], None] | None = None  # called with every wrist reward

    # -- bookkeeping -------------------------------------------------------------------------------
    def _report_once(self, key: str, sensor_id: str, state: str, detail: str, t: float) -> None:
        if key in self._reported or len(self._reported) >= MAX_REPORTED_KINDS:
            return
        self._reported.add(key)
        self._out.append(SensorEvent(sensor_id, state, t, detail))

    # -- inputs ------------------------------------------------------------------------------------
    def datagram(self, data: bytes, sender: tuple[str, int], t: float, allowed: bool = True) -> None:
        """One UDP datagram received at ``t`` from ``sender``."""
        self.counters["received"] += 1
        if not allowed:
            self.counters["dropped"] += 1
            self._report_once(f"refused:{sender[0]}", "osc", "invalid", f"OSC from {sender[0]} refused (not allowed)",
                              t)
            return
        try:
            messages, bad = parse_datagram(data)
        except MalformedDatagramError as exc:
            self.counters["malformed"] += 1
            self._report_once("osc:malformed", "osc", "invalid", f"malformed OSC datagram dropped ({exc})", t)
            return
        if bad:
            self.counters["malformed"] += 1
            self._report_once("osc:bundle", "osc", "invalid", "bundle with unusable elements (the rest was used)", t)
        who = f"{sender[0]}:{sender[1]}"
        for address, args in messages:
            self.message(address, args, who, t)

    def message(self, address: str, args: list[Any], sender: str, t: float) -> None:
        """One OSC message (from a datagram, or from a replayed recording)."""
        self.counters["messages"] += 1
        try:
            item = decode(address, args, t, sender)
        except InvalidMessageError as exc:
            self.counters["malformed"] += 1
            self._report_once(f"invalid:{exc.sensor_id}:{exc.key}", exc.sensor_id, "invalid", f"dropped: {exc}", t)
            return
        except UnknownAddressError as exc:
            self.counters["unknown"] += 1
            self._report_once(exc.key, "osc", "unknown", f"dropped: {exc}", t)
            return
        if item is None:
            self.counters["ignored"] += 1
        elif isinstance(item, ImuSample):
            if self.recorder is not None and (item.quat is not None or item.battery is not None):
                self.recorder.osc(t, address, args, sender)
                self._recording_trouble(t)
            self._sample(item)
        else:
            self.counters["controls"] += 1
            self._out.append(item)

    def serial_line(self, line: bytes, port_id: str, t: float) -> None:
        """One complete line from a serial port."""
        self.counters["serial_lines"] += 1
        try:
            item = parse_line(line, port_id, t)
        except InvalidMessageError as exc:
            self.counters["serial_malformed"] += 1
            self._report_once(f"invalid:{exc.sensor_id}:{exc.key}", exc.sensor_id, "invalid", f"dropped: {exc}", t)
            return
        if item is None:
            self.counters["ignored"] += 1
            return
        if item.seq is not None:
            last = self._seq.get(item.sensor_id)
            if last is not None and item.seq > last + 1:
                self.lost_serial_lines += item.seq - last - 1
            self._seq[item.sensor_id] = item.seq
        if self.recorder is not None:
            self.recorder.serial(t, port_id, line)
            self._recording_trouble(t)
        self._sample(item)

    def _recording_trouble(self, t: float) -> None:
        assert self.recorder is not None
        if self.recorder.full:
            self._report_once("recording:full", "input", "error",
                              f"sensor recording stopped at {self.recorder.max_bytes} bytes", t)
        elif self.recorder.error is not None:  # a full disk: the sensors are still used, only not recorded
            self._report_once("recording:error", "input", "error",
                              f"sensor recording paused ({self.recorder.error}); the sensors are still used", t)

    def internal_error(self, exc: BaseException, t: float) -> None:
        """Count an unexpected failure on one input (a bug, not bad input) and report it once per kind."""
        self.counters["errors"] += 1
        self._report_once(f"error:{type(exc).__name__}", "input", "error", f"internal error: {exc!r}", t)

    def dropped(self, n: int = 1) -> None:
        """Count input lost before it reached the pipeline (over-long serial lines ...)."""
        self.counters["dropped"] += n

    def event(self, event: SensorEvent) -> None:
        """Pass on an event from a port reader."""
        self._out.append(event)

    def _sample(self, s: ImuSample) -> None:
        events = self.mixer.sample(s)
        self._out.extend(events)
        if self.mixer.unknown(s.sensor_id):
            self.counters["unknown"] += 1
            return
        self.counters["samples"] += 1
        if self.forward_samples:
            self._out.append(s)
        if s.quat is not None and s.sensor_id in self.mixer.wrists:
            self._wrist_t = s.t

    # -- outputs -----------------------------------------------------------------------------------
    def tick(self, now: float) -> None:
        """The watchdog and the fading of stale wrists; call every few milliseconds."""
        self._out.extend(self.mixer.tick(now))
        fading = any(0.0 < self.mixer.share(sid, now) < 1.0 for sid in self.mixer.wrists)
        settled = self._last_reward is not None and self._last_reward != 0.0 and not any(
            self.mixer.share(sid, now) > 0 for sid in self.mixer.wrists)
        if (fading and now - self._last_emit >= 0.02) or settled:
            self._emit(now, now)

    def flush_reward(self, now: float | None = None) -> None:
        """Emit the reward if wrist samples arrived since the last one (call after each batch of input)."""
        if self._wrist_t is not None:
            self._emit(self._wrist_t, time.monotonic() if now is None else now)
            self._wrist_t = None

    def _emit(self, t: float, now: float) -> None:
        r = self.mixer.reward(now)
        if r is None:
            return
        value, source = r
        reward = Reward(value, source, t, continuous=True)
        self._out.append(reward)
        if self.on_reward is not None:
            self.on_reward(reward)
        self._last_reward = value
        self._last_emit = now

    def take(self) -> list[Event | ImuSample]:
        out, self._out = self._out, []
        return out

    def status(self) -> list[dict]:
        """Per-sensor state for the monitor (plain dicts)."""
        now = time.monotonic()
        rows = []
        for st in self.mixer.status.values():
            rows.append({
                "id": st.sensor_id, "format": st.fmt, "role": st.role.replace("other-logged", "ignored"),
                "rate_hz": st.rate_hz, "age_s": now - st.last_t, "count": st.count, "stale": st.stale,
                "twist_deg": st.twist_deg, "value": st.value, "battery": st.battery, "calibrated": st.calibrated,
            })
        return rows

    def current_reward(self) -> float | None:
        r = self.mixer.reward(time.monotonic())
        return None if r is None else r[0]


__all__ = ["Control", "InputPipeline", "Reward", "SensorEvent"]
