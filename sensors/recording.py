"""Raw sensor streams to a JSONL file in the session folder, and their replay through the same pipeline.

File format (``sensors.jsonl``), one JSON object a line::

    {"aego_sensors": 1, "started": "2026-05-01T20:00:00"}                       header
    {"t": 0.0051, "osc": "/riot/v3/1/absoluteorientation/quaternion", "args": [0, 0, 0, 1, 512], "from": "..."}
    {"t": 0.0102, "serial": "ttyUSB0", "line": "q,left,17,5120,1,0,0,0"}

``t`` is seconds since the recording began. Only messages that carried an orientation or a battery
level are written (controls go to the session's ``events.jsonl``; gyroscope-only messages are not used
by the reward). A resumed run appends a new header and its own times; replay carries on after the
first part. Recording stops at 2 GB (about six hours of two R-IoTs at 200 Hz). Writes are flushed at
least once a second, so a crash loses at most the last second.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aego.errors import UsageError

FILE_NAME = "sensors.jsonl"


MAX_BYTES = 2_000_000_000  # ~6 hours of two R-IoTs at 200 Hz; an installation running for days stops there


def _compact(v: Any) -> Any:
    # Sensors send float32: 7 significant digits keep every bit that matters and halve the file.
    if isinstance(v, float):
        return float(f"{v:.7g}") if math.isfinite(v) else None
    return v


class SensorRecorder:
    """Appends raw sensor messages to ``path``. Call from one thread (the input loop).

    Stops writing (``full`` becomes True) once the file reaches ``max_bytes``. A write that fails (a full
    disk) never reaches the caller: the part that did not make it is cut off (the file keeps whole lines
    only), ``error`` says why, the messages meanwhile are counted in ``lost``, and writing is tried again
    every ``retry_s``.
    """

    def __init__(self, path: str | Path, flush_s: float = 1.0, max_bytes: int = MAX_BYTES,
                 retry_s: float = 2.0) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.full = False
        self.error: str | None = None
        self.lost = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: Any = self.path.open("a", encoding="utf-8")
        self._bytes = self._good = self._file.tell()
        self._t0 = time.monotonic()
        self._flush_s = flush_s
        self._retry_s = retry_s
        self._failed_at = 0.0
        self._last_flush = self._t0
        self.written = 0
        self._pending = 0  # lines written since the last flush that reached the disk
        self._write({"aego_sensors": 1, "started": time.strftime("%Y-%m-%dT%H:%M:%S")}, self._t0, flush=True)

    def osc(self, t: float, address: str, args: list[Any], sender: str) -> None:
        clean = [_compact(a) for a in args if isinstance(a, int | float | str)]
        self._write({"t": round(t - self._t0, 6), "osc": address, "args": clean, "from": sender}, t)

    def serial(self, t: float, port: str, line: bytes) -> None:
        self._write({"t": round(t - self._t0, 6), "serial": port, "line": line.decode("ascii", "replace")}, t)

    def _write(self, obj: dict, t: float, flush: bool = False) -> None:
        if self.full:
            return
        if self._file is None and not self._reopen():
            self.lost += 1
            return
        line = json.dumps(obj, separators=(",", ":")) + "\n"
        try:
            self._file.write(line)
        except OSError as exc:
            self.lost += 1
            self._fail(exc)
            return
        self._bytes += len(line)
        self.written += 1
        self._pending += 1
        if self._bytes >= self.max_bytes:
            self.full = True
            self.flush()
            return
        if flush or t - self._last_flush >= self._flush_s:
            self.flush()

    def flush(self) -> None:
        self._last_flush = time.monotonic()
        if self._file is None:
            return
        try:
            self._file.flush()
        except OSError as exc:
            self._fail(exc)
            return
        self._good = self._bytes
        self._pending = 0

    def _fail(self, exc: OSError) -> None:
        """Give up the lines not yet on disk, cut any half line, and try again later."""
        self.error = exc.strerror or str(exc)
        self._failed_at = time.monotonic()
        self.lost += self._pending
        self.written -= self._pending
        self._pending = 0
        file, self._file = self._file, None
        if file is not None:
            with contextlib.suppress(OSError):
                file.close()  # the buffer that could not be written goes with it
        with contextlib.suppress(OSError), open(self.path, "r+b") as f:
            f.truncate(self._good)
        self._bytes = self._good

    def _reopen(self) -> bool:
        if time.monotonic() - self._failed_at < self._retry_s:
            return False
        try:
            self._file = self.path.open("a", encoding="utf-8")
            self._bytes = self._good = self._file.tell()
        except OSError as exc:
            self._fail(exc)
            return False
        self.error = None
        return True

    def close(self) -> None:
        if self._file is not None and not self._file.closed:
            try:
                self._file.close()
            except OSError as exc:
                self._file = None
                self._fail(exc)


def check_replay_file(path: str | Path) -> Path:
    """The path of a readable sensor recording; UsageError saying what is wrong otherwise."""
    p = Path(path)
    if p.is_dir():
        p = p / FILE_NAME
    try:
        with p.open(encoding="utf-8") as f:
            header = json.loads(f.readline() or "null")
    except FileNotFoundError:
        raise UsageError(f"--replay-sensors: '{path}' does not exist; give a sensors.jsonl from a session folder") \
            from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"--replay-sensors: '{path}' is not a sensor recording ({exc.__class__.__name__}); "
                         "give a sensors.jsonl written by a run") from None
    if not isinstance(header, dict) or header.get("aego_sensors") != 1:
        raise UsageError(f"--replay-sensors: '{path}' is not a sensor recording (no header line); "
                         "give a sensors.jsonl written by a run")
    return p


def read_recording(path: str | Path) -> Iterator[tuple[float, str, Any]]:
    """``(t, "osc", (address, args, sender))`` or ``(t, "serial", (port, line bytes))`` per valid line;
    ``(0, "bad", reason)`` for a line that cannot be used (counted by the caller, never fatal)."""
    with Path(path).open(encoding="utf-8", errors="replace") as f:
        f.readline()
        offset = last = 0.0
        for line in f:
            try:
                obj = json.loads(line)
                if isinstance(obj, dict) and "aego_sensors" in obj:
                    offset = last  # a resumed run appended its own recording: carry on after it
                    continue
                t = float(obj["t"]) + offset
                if not math.isfinite(t):
                    raise ValueError("t")
                last = t
                if "osc" in obj:
                    yield t, "osc", (str(obj["osc"]), list(obj.get("args", [])), str(obj.get("from", "replay")))
                elif "serial" in obj:
                    yield t, "serial", (str(obj["serial"]), str(obj["line"]).encode("ascii", "replace"))
                else:
                    raise ValueError("kind")
            except (ValueError, KeyError, TypeError, AttributeError, OverflowError, RecursionError):
                yield 0.0, "bad", "unreadable line in the sensor recording"
