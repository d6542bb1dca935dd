"""The session folder (CONTRACT §3): the event log, the summary and what a resumed run needs.

Layout of a session folder:

- ``events.jsonl``: one JSON object a line, ``{"t": seconds since the run began, "type": ..., ...}``.
  Lines are queued by the caller (never blocking) and written by a writer thread that flushes every
  batch and ``fsync``\\ s at least every 0.5 s, so a crash (even SIGKILL or a power cut) loses at most
  the last second. Nothing here runs in the audio path: the engine lives in its own process.
- ``events.NNNNNN.jsonl``: older parts of the log when rotation is on (installations): when
  ``events.jsonl`` grows past ``rotate_bytes`` it is renamed with the next number and a new one
  begins; only the ``keep`` most recent parts are kept, so a run of days stays bounded on disk.
- ``summary.json``: written at the end and refreshed while running (atomic replace: a reader never
  sees half a file).
- ``state.json`` and ``agent/``: the score position, spaces and explorer, for ``--resume``.
- ``audio.wav`` when the output is a file.

If the disk fills up (or the folder goes away) the run goes on: the failure is said once on stderr,
shown in the console (:attr:`Session.error`), and events are counted as dropped until writing works again.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

EVENTS = "events.jsonl"
SUMMARY = "summary.json"
STATE = "state.json"
FSYNC_EVERY_S = 0.5


def _plain(value: Any) -> Any:
    """JSON-ready copy of ``value``: NumPy arrays and scalars become lists and floats; NaN becomes null."""
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` through a temporary file and ``os.replace`` (never half a file)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(_plain(data), f, indent=1)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def event_files(folder: Path) -> list[Path]:
    """The parts of a session's event log, oldest first (rotated parts, then ``events.jsonl``)."""
    folder = Path(folder)
    parts = sorted(folder.glob("events.[0-9]*.jsonl"))
    current = folder / EVENTS
    return [*parts, current] if current.exists() else parts


def read_events(folder: Path) -> Iterator[dict]:
    """Every event of a session in order; a torn last line (a crash mid-write) is skipped."""
    for path in event_files(folder):
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    event = json.loads(line)
                except (json.JSONDecodeError, RecursionError):  # junk, or nested beyond reason
                    continue
                if isinstance(event, dict) and "type" in event:
                    yield event


def repair_log(path: Path) -> float:
    """Cut a torn last line off ``path`` (left by a crash) and return the last event's ``t`` (0 if none)."""
    if not path.is_file():  # absent, or a device (never read /dev/full to its end)
        return 0.0
    with open(path, "rb+") as f:
        data = f.read()
        cut = data.rfind(b"\n") + 1
        if cut < len(data):
            f.truncate(cut)
    last_t = 0.0
    for line in reversed(data[:cut].splitlines()):
        try:
            last_t = float(json.loads(line)["t"])
            break
        except (ValueError, KeyError, TypeError, RecursionError):
            continue
    return last_t


class Session:
    """Writes one session folder while a run goes.

    Args:
        folder: the session folder (created if missing).
        resume: continue an existing log: ``t`` goes on from its last event.
        rotate_bytes: rotate ``events.jsonl`` past this size (``None``: never).
        keep: how many rotated parts to keep.
        clock: the time source, ``time.monotonic`` by default.
        warn: where the one-line disk warnings go (stderr by default).
    """

    def __init__(self, folder: Path | str, *, resume: bool = False, rotate_bytes: int | None = None,
                 keep: int = 8, clock: Callable[[], float] = time.monotonic,
                 warn: Callable[[str], None] | None = None) -> None:
        self.folder = Path(folder)
        self.rotate_bytes = rotate_bytes
        self.keep = keep
        self.clock = clock
        self.warn = warn or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self.written = 0
        self.dropped = 0
        self.error: str | None = None
        self.counts: dict[str, int] = {}
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._file = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            from aego.errors import UsageError

            raise UsageError(f"cannot create the session folder {self.folder} ({exc.strerror}): "
                             "choose another with --log DIR") from None
        self.t_offset = repair_log(self.folder / EVENTS) if resume else 0.0
        if resume and not (self.folder / EVENTS).exists():
            parts = event_files(self.folder)
            if parts:
                self.t_offset = max((e.get("t", 0.0) for e in read_events(self.folder)), default=0.0)
        if not resume and (self.folder / EVENTS).exists():
            from aego.errors import UsageError

            raise UsageError(f"{self.folder} already holds a session: continue it with --resume {self.folder}, "
                             "or choose a new folder with --log")
        self._t0 = clock()
        self._thread = threading.Thread(target=self._writer, name="aego-session", daemon=True)
        self._thread.start()

    # -- called by the run (any thread; never blocks) -----------------------------------------------
    def now(self) -> float:
        """Seconds since the run began (continuing the log's time on resume)."""
        return self.t_offset + (self.clock() - self._t0)

    def log(self, type_: str, t: float | None = None, **fields: Any) -> dict:
        """Queue one event; returns it (with ``t`` and ``type`` first)."""
        event = {"t": round(self.now() if t is None else t, 4), "type": type_, **_plain(fields)}
        self.counts[type_] = self.counts.get(type_, 0) + 1
        self._queue.put(("event", event))
        return event

    def write_summary(self, summary: dict) -> None:
        """Queue a refresh of ``summary.json`` (written atomically by the writer thread)."""
        self._queue.put(("json", (SUMMARY, _plain(summary))))

    def write_state(self, state: dict) -> None:
        """Queue a refresh of ``state.json`` (what ``--resume`` reads)."""
        self._queue.put(("json", (STATE, _plain(state))))

    def read_state(self) -> dict | None:
        """The saved resume state, or ``None``."""
        try:
            return json.loads((self.folder / STATE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def status(self) -> dict:
        return {"written": self.written, "dropped": self.dropped, "error": self.error, "folder": str(self.folder)}

    def close(self, timeout: float = 10.0) -> None:
        """Write everything queued, fsync, and stop the writer thread."""
        self._stop.set()
        self._queue.put(("stop", None))
        self._thread.join(timeout)

    # -- the writer thread --------------------------------------------------------------------------
    def _writer(self) -> None:
        last_sync = time.monotonic()
        dirty = False
        running = True
        while running:
            try:
                items = [self._queue.get(timeout=FSYNC_EVERY_S / 2)]
            except queue.Empty:
                items = []
            while True:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            lines: list[str] = []
            for kind, payload in items:
                if kind == "event":
                    lines.append(json.dumps(payload, separators=(",", ":")) + "\n")
                elif kind == "json":
                    dirty |= self._write_lines(lines)
                    lines = []
                    name, data = payload
                    self._guard(lambda n=name, d=data: write_json_atomic(self.folder / n, d))
                elif kind == "stop":
                    running = False
            dirty |= self._write_lines(lines)
            if dirty and (time.monotonic() - last_sync >= FSYNC_EVERY_S or not running):
                self._guard(self._sync)
                last_sync = time.monotonic()
                dirty = False
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()

    def _write_lines(self, lines: list[str]) -> bool:
        if not lines:
            return False

        def write() -> None:
            if self._file is None:
                self._file = open(self.folder / EVENTS, "a", encoding="utf-8")  # noqa: SIM115 (kept open)
            self._file.write("".join(lines))
            self._file.flush()
            if self.rotate_bytes and self._file.tell() >= self.rotate_bytes:
                self._rotate()

        if self._guard(write):
            self.written += len(lines)
            return True
        self.dropped += len(lines)
        return False

    def _sync(self) -> None:
        if self._file is not None:
            os.fsync(self._file.fileno())

    def _rotate(self) -> None:
        assert self._file is not None
        os.fsync(self._file.fileno())
        self._file.close()
        self._file = None
        parts = sorted(self.folder.glob("events.[0-9]*.jsonl"))
        number = int(parts[-1].name.split(".")[1]) + 1 if parts else 1
        os.replace(self.folder / EVENTS, self.folder / f"events.{number:06d}.jsonl")
        parts = sorted(self.folder.glob("events.[0-9]*.jsonl"))
        for old in parts[: max(0, len(parts) - self.keep)]:
            with contextlib.suppress(OSError):
                old.unlink()

    def _guard(self, action: Callable[[], None]) -> bool:
        """Run a disk action; on failure remember it, say it once, and carry on."""
        try:
            action()
        except (OSError, ValueError) as exc:
            message = getattr(exc, "strerror", None) or str(exc)
            if self.error is None:
                self.warn(f"aego: cannot write the session folder {self.folder} ({message}); "
                          "the performance goes on, events are dropped until the disk has room")
            self.error = message
            if self._file is not None:
                # a failed buffered write leaves the file object unusable: reopen next time
                with contextlib.suppress(OSError, ValueError):
                    self._file.close()
                self._file = None
            return False
        if self.error is not None:
            self.warn(f"aego: the session folder {self.folder} is writable again")
            self.error = None
        return True
