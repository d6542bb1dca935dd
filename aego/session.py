"""The session folder (CONTRACT §3): the event log, the summary and what a resumed run needs.

Layout of a session folder:

- ``events.jsonl``: one JSON object a line, ``{"t": seconds since the run began, "type": ..., ...}``.
  Lines are queued by the caller (never blocking) and handed to the kernel by a writer thread as soon
  as they come, so SIGKILL loses only the events still queued (milliseconds: ``aego bench kill``); a
  second thread ``fsync``\\ s the log at least every 0.5 s while it changes, so a power cut loses at
  most about the last second. Nothing here runs in the audio path: the engine lives in its own process.
- ``events.NNNNNN.jsonl``: older parts of the log when rotation is on (installations): when
  ``events.jsonl`` grows past ``rotate_bytes`` it is renamed with the next number and a new one
  begins; only the ``keep`` most recent parts are kept, so a run of days stays bounded on disk.
- ``summary.json``: written at the end and refreshed while running (atomic replace: a reader never
  sees half a file).
- ``state.json`` and ``agent.safetensors``: the score position, spaces and explorer, for ``--resume``.
- ``audio.wav`` when the output is a file.

If the disk fills up (or the folder goes away) the run goes on: the failure is said once on stderr,
shown in the console (:attr:`Session.error`), events are counted as dropped until writing works again
(then one ``error`` event says when it began and how many were dropped), and nothing already written is
lost: a half-written batch is cut off again, and the JSON files are only ever replaced whole.
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
RETRY_S = 1.0  # how often a failing event log is tried again


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
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(_plain(data), f, indent=1, default=str)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()  # a half-written copy would only hold space on a full disk
        raise


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

    Two threads do the disk work, so that nothing the run calls ever waits for the disk:

    - the *writer* appends queued events to ``events.jsonl`` as soon as they come (a ``write`` to the
      kernel per batch, no user-space buffer), so SIGKILL loses only what is still queued: milliseconds;
    - the *syncer* calls ``fsync`` on the log at least every :data:`FSYNC_EVERY_S` while it changes (so a
      power cut loses at most about a second) and writes ``summary.json`` and ``state.json`` (atomically, each
      with its own ``fsync``): a slow disk's ``fsync`` never holds up the event log.

    When a write fails (a full disk, the folder gone) the part of the batch that got in is cut off again,
    so the log keeps only whole lines and everything written before stays as it was; the failure is said
    once (``warn``), shown in :attr:`error`, counted as an ``error`` event, and the events that come
    meanwhile are dropped and counted (writing is retried every :data:`RETRY_S`). When writing works again,
    one ``error`` event (``source: "session"``, with the time it began and the number dropped) goes into
    the log before the next events.

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
        self.syncs = 0
        self.counts: dict[str, int] = {}
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._fd: int | None = None
        self._size = 0  # bytes of whole lines in the open events.jsonl
        self._dirty = False  # written since the last fsync was asked for
        self._errors: dict[str, str] = {}  # "events" / "sync" / "json" -> what failed
        self._error_lock = threading.Lock()
        self._outage: dict[str, Any] | None = None  # the event-log failure going on: since when, how many dropped
        self._last_try = 0.0
        self._cond = threading.Condition()
        self._json: dict[str, Any] = {}  # name -> the latest content to write
        self._sync_fd: int | None = None  # a duplicate of the log's descriptor, to fsync
        self._syncer_stop = False
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
        self._syncer = threading.Thread(target=self._syncer_loop, name="aego-session-sync", daemon=True)
        self._syncer.start()
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
        """Queue a refresh of ``summary.json`` (written atomically by the syncer thread)."""
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

    @property
    def error(self) -> str | None:
        """What cannot be written now (``None`` when all is well)."""
        with self._error_lock:
            return next(iter(self._errors.values()), None)

    def status(self) -> dict:
        return {"written": self.written, "dropped": self.dropped, "error": self.error, "folder": str(self.folder),
                "syncs": self.syncs}

    def close(self, timeout: float = 10.0) -> None:
        """Write everything queued, fsync, and stop both threads."""
        self._queue.put(("stop", None))
        self._thread.join(timeout)

    # -- the writer thread --------------------------------------------------------------------------
    def _writer(self) -> None:
        last_sync = time.monotonic()
        running = True
        while running:
            try:
                items = [self._queue.get(timeout=FSYNC_EVERY_S / 4)]
            except queue.Empty:
                items = []
            while True:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            lines: list[bytes] = []
            for kind, payload in items:
                if kind == "event":
                    # default=str: a field of an unexpected type must not cost the log (or this thread)
                    lines.append(json.dumps(payload, separators=(",", ":"), default=str).encode() + b"\n")
                elif kind == "json":
                    name, data = payload
                    with self._cond:
                        self._json[name] = data
                        self._cond.notify()
                elif kind == "stop":
                    running = False
            self._write_lines(lines, final=not running)
            if self._dirty and self._fd is not None and (time.monotonic() - last_sync >= FSYNC_EVERY_S
                                                         or not running):
                self._dirty = False
                self._request_sync()
                last_sync = time.monotonic()
        with self._cond:
            self._syncer_stop = True
            self._cond.notify()
        self._syncer.join()
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def _write_lines(self, lines: list[bytes], final: bool = False) -> None:
        if not lines:
            return
        now = time.monotonic()
        if self._outage is not None and now - self._last_try < RETRY_S and not final:
            self._drop(len(lines))
            return
        self._last_try = now
        outage = self._outage_line()
        data = outage + b"".join(lines)
        try:
            if self._fd is None:
                self._fd = os.open(self.folder / EVENTS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                self._size = os.fstat(self._fd).st_size
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view):]
        except OSError as exc:
            if self._fd is not None:
                # a full disk may have taken part of the batch: cut it off, so the log holds whole lines only
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, self._size)
                with contextlib.suppress(OSError):
                    os.close(self._fd)
                self._fd = None
            self._failed("events", exc)
            self._drop(len(lines))
            return
        self._size += len(data)
        self._dirty = True
        self.written += len(lines) + (1 if outage else 0)
        if outage:
            self._outage = None
        self._recovered("events")
        if self.rotate_bytes and self._size >= self.rotate_bytes:
            try:
                self._rotate()
            except OSError as exc:
                self._failed("events", exc)

    def _drop(self, n: int) -> None:
        self.dropped += n
        if self._outage is not None:
            self._outage["dropped"] += n

    def _outage_line(self) -> bytes:
        """The one event telling of an event-log failure that may be over (written before the next events)."""
        if self._outage is None:
            return b""
        o = self._outage
        event = {"t": o["t"], "type": "error", "source": "session", "what": "disk",
                 "message": f"the session folder could not be written ({o['message']}); "
                            f"{o['dropped']} events were dropped", "dropped": o["dropped"],
                 "until": round(self.now(), 4)}
        return json.dumps(event, separators=(",", ":")).encode() + b"\n"

    def _request_sync(self) -> None:
        try:
            fd = os.dup(self._fd)  # type: ignore[arg-type]
        except OSError:
            return
        with self._cond:
            if self._sync_fd is not None:  # the syncer is behind: the newer descriptor will do
                os.close(self._sync_fd)
            self._sync_fd = fd
            self._cond.notify()

    def _rotate(self) -> None:
        assert self._fd is not None
        os.fsync(self._fd)
        os.close(self._fd)
        self._fd = None
        parts = sorted(self.folder.glob("events.[0-9]*.jsonl"))
        number = int(parts[-1].name.split(".")[1]) + 1 if parts else 1
        os.replace(self.folder / EVENTS, self.folder / f"events.{number:06d}.jsonl")
        parts = sorted(self.folder.glob("events.[0-9]*.jsonl"))
        for old in parts[: max(0, len(parts) - self.keep)]:
            with contextlib.suppress(OSError):
                old.unlink()

    # -- the syncer thread: fsync and the JSON files --------------------------------------------------
    def _syncer_loop(self) -> None:
        failed: dict[str, Any] = {}  # JSON files that could not be written: tried again every RETRY_S
        while True:
            with self._cond:
                while not (self._json or self._sync_fd is not None or self._syncer_stop):
                    if not self._cond.wait(RETRY_S if failed else None):
                        break  # time to try the failed ones again
                pending, self._json = {**failed, **self._json}, {}
                fd, self._sync_fd = self._sync_fd, None
                stopping = self._syncer_stop
            failed = {}
            if fd is not None:
                try:
                    os.fsync(fd)
                    self.syncs += 1
                except OSError as exc:
                    self._failed("sync", exc)
                else:
                    self._recovered("sync")
                finally:
                    os.close(fd)
            for name, data in pending.items():
                try:
                    write_json_atomic(self.folder / name, data)
                except OSError as exc:
                    failed[name] = data
                    self._failed("json", exc)
                except (ValueError, TypeError, RecursionError) as exc:  # not the disk: trying again will not help
                    self._failed("json", exc)
                else:
                    self._recovered("json")
            if stopping:
                with self._cond:
                    if not self._json and self._sync_fd is None:
                        return

    # -- failures -------------------------------------------------------------------------------------
    def _failed(self, what: str, exc: BaseException) -> None:
        """A disk action failed: remember it, say it once, and carry on."""
        message = getattr(exc, "strerror", None) or str(exc)
        with self._error_lock:
            first = not self._errors
            self._errors[what] = message
        if what == "events" and self._outage is None:
            self._outage = {"t": round(self.now(), 4), "message": message, "dropped": 0}
            self.counts["error"] = self.counts.get("error", 0) + 1
        if first:
            self.warn(f"aego: cannot write the session folder {self.folder} ({message}); "
                      "the performance goes on, events are dropped until the disk has room")

    def _recovered(self, what: str) -> None:
        with self._error_lock:
            if what not in self._errors:
                return
            del self._errors[what]
            clear = not self._errors
        if clear:
            self.warn(f"aego: the session folder {self.folder} is writable again ({self.dropped} events dropped)")
