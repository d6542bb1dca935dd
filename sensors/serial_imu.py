"""Serial IMUs (pyserial): line framing, the line formats, and a reader that survives unplugging.

Line formats (one reading per line, ``\\n`` or ``\\r\\n``; angles in degrees)::

    q,<id>,<seq>,<millis>,<w>,<x>,<y>,<z>[,<battery %>]      ours: quaternion
    e,<id>,<seq>,<millis>,<roll>,<pitch>,<yaw>[,<battery %>] ours: Euler angles
    ypr\\t<yaw>\\t<pitch>\\t<roll>                              MPU6050 DMP example (OUTPUT_READABLE_YAWPITCHROLL)
    quat\\t<w>\\t<x>\\t<y>\\t<z>                                 MPU6050 DMP example (OUTPUT_READABLE_QUATERNION)
    Orientation: <heading> <roll> <pitch>                    Adafruit BNO055 examples
    Quaternion: <w> <x> <y> <z>                              Adafruit BNO055 examples

``seq`` counts lines (gaps are lost lines), ``millis`` is the board's clock. Lines in the Arduino formats
carry no id: the sensor id is ``serial:<port name>``. Other text lines (boot messages, calibration
status) are ignored; lines that look like one of the formats but do not parse are invalid.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from collections.abc import Callable

from aego.sensors.events import ImuSample, SensorEvent
from aego.sensors.osc_formats import InvalidMessageError, checked_euler, checked_quat

MAX_LINE = 1024  # longer "lines" are noise (a 10 kB line is dropped whole)


class LineSplitter:
    """Bytes in, complete lines out. Partial lines wait for the rest; over-long ones are dropped whole."""

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self.max_line = max_line
        self._buf = bytearray()
        self._skipping = False
        self.overlong = 0

    def feed(self, data: bytes) -> list[bytes]:
        """Append ``data``; return every line completed by it, without the line ending."""
        self._buf += data
        lines = []
        while True:
            i = self._buf.find(b"\n")
            if i < 0:
                break
            line = bytes(self._buf[:i]).rstrip(b"\r")
            del self._buf[: i + 1]
            if self._skipping:
                self._skipping = False  # the tail of an over-long line
                continue
            if len(line) > self.max_line:
                self.overlong += 1
                continue
            lines.append(line)
        if len(self._buf) > self.max_line:
            # No newline in sight: drop what we have and the rest of this line when it comes.
            if not self._skipping:
                self.overlong += 1
            self._skipping = True
            self._buf.clear()
        return lines


def _floats(fields: list[str], what: str, sid: str) -> list[float]:
    try:
        values = [float(f) for f in fields]
    except ValueError:
        raise InvalidMessageError(f"{what}: a field is not a number", f"{what}:value", sid) from None
    if not all(math.isfinite(v) for v in values):
        raise InvalidMessageError(f"{what}: not a finite number", f"{what}:value", sid)
    return values


def parse_line(line: bytes, port_id: str, t: float) -> ImuSample | None:
    """One serial line → an ImuSample, or None for a line of no known format (boot text ...).

    Raises InvalidMessageError for binary noise and for lines of a known format with bad values.
    """
    sid_port = f"serial:{port_id}"
    try:
        text = line.decode("ascii").strip()
    except UnicodeDecodeError:
        raise InvalidMessageError("binary noise on the serial line", "serial:binary", sid_port) from None
    if any(ord(c) < 32 and c != "\t" for c in text):
        raise InvalidMessageError("binary noise on the serial line", "serial:binary", sid_port)
    if not text:
        return None
    if text[:2] in ("q,", "e,"):
        fields = text.split(",")
        kind = fields[0]
        what = f"serial csv {kind}"
        need = 8 if kind == "q" else 7
        if len(fields) not in (need, need + 1) or not fields[1] or len(fields[1]) > 64:
            raise InvalidMessageError(f"{what}: expected {need} fields", f"{what}:count", sid_port)
        sid = fields[1]
        try:
            seq = int(fields[2])
        except ValueError:
            raise InvalidMessageError(f"{what}: sequence number is not a whole number", f"{what}:seq", sid) from None
        values = _floats(fields[3:], what, sid)
        millis, data = values[0], values[1:need - 3]
        battery = values[need - 3] if len(fields) == need + 1 else None
        if kind == "q":
            q = checked_quat(data, what, sid)
        else:
            roll, pitch, yaw = data
            q = checked_euler(yaw, pitch, roll, what, sid)
        return ImuSample(sid, "serial-csv", t, quat=q, device_ms=millis, seq=seq, battery=battery)
    if text.startswith(("ypr\t", "quat\t")):
        fields = text.split("\t")
        what = f"mpu6050 {fields[0]}"
        if fields[0] == "ypr":
            if len(fields) != 4:
                raise InvalidMessageError(f"{what}: expected 3 angles", f"{what}:count", sid_port)
            yaw, pitch, roll = _floats(fields[1:], what, sid_port)
            return ImuSample(sid_port, "mpu6050", t, quat=checked_euler(yaw, pitch, roll, what, sid_port))
        if len(fields) != 5:
            raise InvalidMessageError(f"{what}: expected 4 numbers", f"{what}:count", sid_port)
        return ImuSample(sid_port, "mpu6050", t, quat=checked_quat(_floats(fields[1:], what, sid_port), what, sid_port))
    if text.startswith(("Orientation:", "Quaternion:")):
        head, _, rest = text.partition(":")
        fields = rest.replace(",", " ").split()
        what = f"bno055 {head.lower()}"
        if head == "Orientation":
            if len(fields) != 3:
                raise InvalidMessageError(f"{what}: expected 3 angles", f"{what}:count", sid_port)
            heading, roll, pitch = _floats(fields, what, sid_port)
            return ImuSample(sid_port, "bno055", t, quat=checked_euler(heading, pitch, roll, what, sid_port))
        if len(fields) != 4:
            raise InvalidMessageError(f"{what}: expected 4 numbers", f"{what}:count", sid_port)
        return ImuSample(sid_port, "bno055", t, quat=checked_quat(_floats(fields, what, sid_port), what, sid_port))
    return None


def find_port(spec: str) -> str | None:
    """The device path for ``spec``: a path (if it exists), ``auto`` (the first USB serial port) or
    ``VID:PID`` in hex (e.g. ``2341:0043``, matched on every rescan, so a board that comes back under
    another name is found again)."""
    if spec.startswith("/") or spec.startswith("COM") or os.sep in spec:
        return spec if os.path.exists(spec) else None
    from serial.tools import list_ports

    ports = [p for p in list_ports.comports() if p.vid is not None]
    if spec == "auto":
        return ports[0].device if ports else None
    vid, sep, pid = spec.partition(":")
    try:
        v, p = int(vid, 16), int(pid, 16) if sep else None
    except ValueError:
        return spec if os.path.exists(spec) else None
    for port in ports:
        if port.vid == v and (p is None or port.pid == p):
            return port.device
    return None


def open_port(path: str, baud: int):
    """Open ``path`` without resetting the board: flow control off, DTR and RTS held low *before* open
    (pyserial applies them while opening, so an Arduino's auto-reset line never pulses)."""
    import serial

    ser = serial.Serial()
    ser.port = path
    ser.baudrate = baud
    ser.timeout = 0.1
    ser.dsrdtr = False
    ser.rtscts = False
    ser.xonxoff = False
    ser.dtr = False
    ser.rts = False
    ser.open()
    return ser


class SerialReader(threading.Thread):
    """Reads one serial port forever: lines to ``on_line(line, port_id, t)``, port changes to ``on_event``.

    On unplug (SerialException/OSError) it closes the port, backs off (0.1 s doubling to 2 s), rescans
    (``spec`` may be a VID:PID) and reopens, with no help from the caller.
    """

    def __init__(self, spec: str, baud: int, on_line: Callable[[bytes, str, float], None],
                 on_event: Callable[[SensorEvent], None], stop: threading.Event) -> None:
        super().__init__(name=f"serial {spec}", daemon=True)
        self.spec = spec
        self.baud = baud
        self.on_line = on_line
        self.on_event = on_event
        self.stop_event = stop
        self.port_id = os.path.basename(spec) if "/" in spec else spec
        self.splitter = LineSplitter()
        self.opens = 0

    def run(self) -> None:
        backoff = 0.1
        missing_said = False
        while not self.stop_event.is_set():
            path = find_port(self.spec)
            ser = None
            if path is not None:
                try:
                    ser = open_port(path, self.baud)
                except Exception as exc:  # busy, permissions, vanished between scan and open
                    if not missing_said:
                        self.on_event(SensorEvent(f"serial:{self.port_id}", "error", time.monotonic(),
                                                  f"cannot open {path}: {exc}"))
                        missing_said = True
            elif not missing_said:
                self.on_event(SensorEvent(f"serial:{self.port_id}", "error", time.monotonic(),
                                          f"no serial port for '{self.spec}' yet; waiting for it"))
                missing_said = True
            if ser is None:
                self.stop_event.wait(backoff)
                backoff = min(2.0, backoff * 2)
                continue
            self.opens += 1
            missing_said = False
            backoff = 0.1
            self.on_event(SensorEvent(f"serial:{self.port_id}", "port", time.monotonic(),
                                      f"opened {path} at {self.baud} baud"))
            self.splitter = LineSplitter()  # a partial line from before the unplug is not data
            try:
                while not self.stop_event.is_set():
                    data = ser.read(max(1, min(ser.in_waiting, 4096)))
                    if data:
                        t = time.monotonic()
                        for line in self.splitter.feed(data):
                            self.on_line(line, self.port_id, t)
            except Exception as exc:  # SerialException on unplug, OSError (EIO) on a vanished pty
                self.on_event(SensorEvent(f"serial:{self.port_id}", "error", time.monotonic(),
                                          f"lost {path}: {type(exc).__name__}; reconnecting"))
            finally:
                with contextlib.suppress(Exception):
                    ser.close()
            self.stop_event.wait(backoff)
