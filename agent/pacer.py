"""A drift-free periodic caller on its own thread; the period can change while it runs.

Tick ``k`` is due at ``anchor + k * period`` (not "``period`` after the last call"), so lateness
never accumulates. A tick more than one period late is skipped (counted), not bunched up.
Changing the period re-anchors at the last tick so the next one comes one new period later.

Rules for the called function (it runs on the pacer's thread): return quickly (well under one
period), never block on I/O; exceptions are caught and counted, the pacer keeps going.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

import numpy as np


class Pacer:
    """Calls ``fn(now)`` every ``period`` seconds (``now`` from ``clock``, monotonic seconds)."""

    def __init__(self, fn: Callable[[float], object], period: float, clock: Callable[[], float] = time.monotonic,
                 name: str = "aego-pacer", keep: int = 100000) -> None:
        self._check(period)
        self.fn = fn
        self.clock = clock
        self.name = name
        self._period = float(period)
        self._anchor = 0.0
        self._k = 0
        self.ticks = 0
        self.skipped = 0
        self.errors = 0
        self.last_error: str | None = None
        self.call_times: deque[float] = deque(maxlen=keep)  # when each call actually began
        self.lateness: deque[float] = deque(maxlen=keep)  # seconds after its due time
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @staticmethod
    def _check(period: float) -> None:
        if not (isinstance(period, int | float) and math.isfinite(period) and 0.001 <= period <= 10.0):
            raise ValueError(f"period must be between 0.001 and 10 seconds, got {period!r}")

    @property
    def period(self) -> float:
        return self._period

    def set_period(self, period: float) -> None:
        """Change the period live (seconds, 0.001-10); the next tick comes one new period after the last."""
        self._check(period)
        with self._lock:
            last_due = self._anchor + self._k * self._period
            self._anchor = last_due
            self._k = 0
            self._period = float(period)

    def start(self) -> None:
        self._anchor = self.clock()
        self._k = 0
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                self._k += 1
                due = self._anchor + self._k * self._period
            wait = due - self.clock()
            if wait > 0 and self._stop.wait(wait):
                break
            now = self.clock()
            late = now - due
            if late > self._period:  # fell behind: skip the missed ticks instead of bunching them
                with self._lock:
                    missed = int(late // self._period)
                    self._k += missed
                    self.skipped += missed
            self.call_times.append(now)
            self.lateness.append(late)
            self.ticks += 1
            try:
                self.fn(now)
            except Exception as exc:
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"

    def stats(self) -> dict[str, float]:
        """Timing figures (ms): lateness after the due time, and |interval - period| between calls."""
        late = np.array(self.lateness) * 1e3
        calls = np.array(self.call_times)
        jitter = np.abs(np.diff(calls) - self._period) * 1e3 if len(calls) > 1 else np.zeros(1)
        late = late if len(late) else np.zeros(1)
        return {"ticks": self.ticks, "skipped": self.skipped, "errors": self.errors,
                "late_ms_p50": float(np.percentile(late, 50)), "late_ms_p99": float(np.percentile(late, 99)),
                "jitter_ms_p50": float(np.percentile(jitter, 50)), "jitter_ms_p99": float(np.percentile(jitter, 99)),
                "jitter_ms_max": float(jitter.max())}
