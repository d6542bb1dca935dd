"""InputHub: OSC, serial and replayed sensor input, turned into events in a separate process.

Why a process: a busy Python thread in the same process lost 35-65 % of 400 Hz OSC packets (DESIGN
notes). The agent learns in the main process; reception and the IMU → reward pipeline run here, in a
process of their own, and hand events over a pipe. A reader thread in the main process takes them off
the pipe as they come (so the pipe never fills) and stamps their arrival, which gives the
sensor-to-reward latency inside the program: from the datagram's arrival at our socket to the reward's
arrival in the main process.

    hub = InputHub(InputConfig(listen=("127.0.0.1", 8000)))
    hub.start()                    # UsageError if the port cannot be bound
    events = hub.poll()            # list[Control | Reward | SensorEvent], non-blocking
    hub.counters()                 # received, malformed, unknown, dropped, ...
    hub.stop()
"""

from __future__ import annotations

import collections
import contextlib
import math
import multiprocessing as mp
import os
import queue
import selectors
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aego.sensors.events import Control, Event, ImuSample, Reward, SensorEvent
from aego.sensors.reward_mix import MixConfig

from aego.errors import UsageError

LATENCY_SAMPLES = 200_000  # sensor-to-event latencies kept for the figures (the latest ones)
MAX_PENDING = 200_000  # events kept for poll(); beyond that the oldest are dropped (and counted)


@dataclass
class InputConfig:
    """What the input process listens to and how it turns motion into reward.

    Attributes
    ----------
    listen : ``(host, port)`` for OSC (port 0: any free port), or None for no OSC.
    allow : sender IPs accepted (None: all that reach the socket; loopback by default).
    serial : serial port specs: a path, ``auto`` or ``VID:PID``.
    baud : serial speed.
    mix : wrists, calibration, watchdog (see :class:`aego.sensors.reward_mix.MixConfig`).
    record : a file to record raw sensor streams to (``sensors.jsonl`` in the session folder).
    replay : a recording to play back through the pipeline.
    replay_loop : start the recording again when it ends.
    forward_samples : also deliver every ImuSample to poll() (calibration, tests).
    tick_s : watchdog period.
    status_s : how often counters and per-sensor status are sent to the main process.
    """

    listen: tuple[str, int] | None = ("127.0.0.1", 8000)
    allow: list[str] | None = None
    serial: list[str] = field(default_factory=list)
    baud: int = 115200
    mix: MixConfig = field(default_factory=MixConfig)
    record: str | None = None
    replay: str | None = None
    replay_loop: bool = False
    forward_samples: bool = False
    tick_s: float = 0.01
    status_s: float = 0.2
    realtime: bool = True


class LatencyHistogram:
    """Latencies in 10 µs bins up to 100 ms (one overflow bin): percentiles without keeping every sample."""

    BIN_S = 1e-5
    BINS = 10_000

    def __init__(self) -> None:
        self.counts = [0] * (self.BINS + 1)
        self.n = 0
        self.max_s = 0.0

    def add(self, seconds: float) -> None:
        i = int(seconds / self.BIN_S) if seconds > 0 else 0
        self.counts[min(i, self.BINS)] += 1
        self.n += 1
        self.max_s = max(self.max_s, seconds)

    def percentile_ms(self, p: float) -> float:
        if not self.n:
            return math.nan
        target = p * self.n
        acc = 0
        for i, c in enumerate(self.counts):
            acc += c
            if acc >= target:
                return (i + 1) * self.BIN_S * 1000 if i < self.BINS else self.max_s * 1000
        return self.max_s * 1000

    def summary(self) -> dict[str, float]:
        return {"n": self.n, "p50": self.percentile_ms(0.5), "p99": self.percentile_ms(0.99),
                "max": self.max_s * 1000 if self.n else math.nan}


def _try_realtime() -> bool:
    """Ask for real-time (FIFO) scheduling: granted to root or users with an rtprio limit (the audio group
    on most Linux audio set-ups); elsewhere the process keeps normal scheduling."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
        return True
    except (AttributeError, OSError, PermissionError):
        return False


# --------------------------------------------------------------------------------------------------
# The input process
# --------------------------------------------------------------------------------------------------
def _replay(path: str, loop: bool, put: Any, stop: threading.Event) -> None:
    from aego.sensors.recording import read_recording

    while not stop.is_set():
        start = time.monotonic()
        for t, kind, payload in read_recording(path):
            if kind != "bad":
                delay = start + t - time.monotonic()
                if delay > 0 and stop.wait(delay):
                    return
            put((kind, payload))
        if not loop:
            return


def _serve(config: InputConfig, conn: Any, shared: Any) -> None:
    """Body of the input process: bind, then loop until told to stop or the parent goes away.

    ``shared`` (4 doubles: value, sample time, publish time, sequence) holds the latest wrist reward,
    readable by the main process at any moment without waiting for the event pipe.
    """
    from aego.sensors.osc_server import OscReceiver
    from aego.sensors.pipeline import InputPipeline
    from aego.sensors.recording import SensorRecorder
    from aego.sensors.serial_imu import SerialReader

    receiver = None
    if config.listen is not None:
        try:
            receiver = OscReceiver(config.listen[0], config.listen[1], config.allow)
        except (OSError, ValueError) as exc:
            conn.send(("error", f"cannot listen for OSC on {config.listen[0]}:{config.listen[1]}: "
                                f"{getattr(exc, 'strerror', None) or exc}; choose another with --osc-listen HOST:PORT"))
            return
    try:
        recorder = SensorRecorder(config.record) if config.record else None
    except OSError as exc:
        conn.send(("error", f"cannot record sensors to {config.record}: {exc.strerror}"))
        return
    pipeline = InputPipeline(config.mix, recorder, config.forward_samples)
    realtime = _try_realtime() if config.realtime else False
    latency = LatencyHistogram()

    def publish(reward: Reward) -> None:
        now = time.monotonic()
        shared[0], shared[1], shared[2] = reward.value, reward.t, now
        shared[3] += 1.0
        latency.add(now - reward.t)

    pipeline.on_reward = publish
    conn.send(("ready", receiver.address if receiver else None, receiver.rcvbuf if receiver else 0,
               {"realtime": realtime, "kernel_timestamps": bool(receiver and receiver.kernel_timestamps)}))

    # Port readers and the replay run in threads; they hand their input to this loop through a queue
    # and wake it with a byte on a socket pair, so the loop alone touches the pipeline.
    inbox: queue.SimpleQueue = queue.SimpleQueue()
    wake_r, wake_w = socket.socketpair()
    wake_r.setblocking(False)
    wake_w.setblocking(False)

    def put(item: Any) -> None:
        inbox.put(item)
        with contextlib.suppress(BlockingIOError, OSError):
            wake_w.send(b"\0")

    stop = threading.Event()
    readers = []
    for spec in config.serial:
        r = SerialReader(spec, config.baud,
                         lambda line, port, t: put(("line", (line, port, t))),
                         lambda ev: put(("event", ev)), stop)
        r.start()
        readers.append(r)
    if config.replay:
        threading.Thread(target=_replay, args=(config.replay, config.replay_loop, put, stop), daemon=True).start()

    sel = selectors.DefaultSelector()
    if receiver is not None:
        sel.register(receiver.fileno(), selectors.EVENT_READ, "osc")
    sel.register(wake_r, selectors.EVENT_READ, "wake")
    sel.register(conn.fileno(), selectors.EVENT_READ, "parent")
    next_tick = next_status = time.monotonic()
    overlong_seen = 0
    running = True
    try:
        while running:
            now = time.monotonic()
            for key, _ in sel.select(max(0.0, min(next_tick, next_status) - now)):
                if key.data == "osc":
                    for data, sender, t in receiver.drain():
                        try:
                            pipeline.datagram(data, sender, t, receiver.allowed(sender[0]))
                        except Exception as exc:  # a bug must cost one datagram, not the input process
                            pipeline.internal_error(exc, time.monotonic())
                elif key.data == "wake":
                    with contextlib.suppress(BlockingIOError):
                        wake_r.recv(4096)
                    while True:
                        try:
                            kind, payload = inbox.get_nowait()
                        except queue.Empty:
                            break
                        try:
                            if kind == "line":
                                pipeline.serial_line(*payload)
                            elif kind == "event":
                                pipeline.event(payload)
                            elif kind == "osc":
                                pipeline.message(payload[0], payload[1], payload[2], time.monotonic())
                            elif kind == "serial":
                                pipeline.serial_line(payload[1], payload[0], time.monotonic())
                            else:
                                pipeline.counters["malformed"] += 1
                        except Exception as exc:
                            pipeline.internal_error(exc, time.monotonic())
                else:
                    try:
                        if conn.recv() == "stop":
                            running = False
                    except (EOFError, OSError):
                        running = False  # the main process is gone
            pipeline.flush_reward()
            now = time.monotonic()
            if now >= next_tick:
                pipeline.tick(now)
                next_tick = now + config.tick_s
            events = pipeline.take()
            if events:
                conn.send(("events", events))
            if now >= next_status:
                overlong = sum(r.splitter.overlong for r in readers)
                if overlong > overlong_seen:
                    pipeline.dropped(overlong - overlong_seen)
                    overlong_seen = overlong
                conn.send(("status", dict(pipeline.counters, lost_serial_lines=pipeline.lost_serial_lines),
                           pipeline.status(), pipeline.current_reward(), latency.summary()))
                next_status = now + config.status_s
                if recorder is not None:
                    recorder.flush()
    except (BrokenPipeError, EOFError, OSError):
        pass  # the main process went away: nothing left to deliver to
    finally:
        stop.set()
        if recorder is not None:
            recorder.close()
        if receiver is not None:
            receiver.close()
        with contextlib.suppress(Exception):
            conn.send(("status", dict(pipeline.counters, lost_serial_lines=pipeline.lost_serial_lines),
                       pipeline.status(), pipeline.current_reward(), latency.summary()))
            conn.send(("stopped",))


# --------------------------------------------------------------------------------------------------
# The main-process side
# --------------------------------------------------------------------------------------------------
class InputHub:
    """Starts the input process and delivers its events. ``poll()`` never blocks."""

    def __init__(self, config: InputConfig | None = None) -> None:
        self.config = config or InputConfig()
        self.address: tuple[str, int] | None = None  # where OSC is actually received (port 0 resolved)
        self.rcvbuf = 0
        self._proc: Any = None
        self._conn: Any = None
        self._reader: threading.Thread | None = None
        self._pending: collections.deque = collections.deque()
        self._counters: dict[str, int] = {}
        self._status: list[dict] = []
        self._reward: float | None = None
        # The latest samples only: an installation streams IMUs for days, and memory must stay flat.
        self._latency: collections.deque[float] = collections.deque(maxlen=LATENCY_SAMPLES)
        self._publish_latency: dict[str, float] = {}
        self._shared: Any = None
        self.info: dict[str, bool] = {}
        self._dropped_main = 0
        self._stopped = threading.Event()
        self._base_counters: dict[str, int] = {}  # totals of input processes that ended
        self._running = False
        self._last_restart = 0.0
        self.restarts = 0

    def start(self, timeout: float = 20.0) -> None:
        """Start the input process; returns once it listens. UsageError if it cannot."""
        from aego.sensors.osc_server import listen_warning

        if self.config.replay:
            from aego.sensors.recording import check_replay_file

            self.config.replay = str(check_replay_file(self.config.replay))
        if self.config.listen is not None:
            warning = listen_warning(self.config.listen[0])
            if warning and not self.config.allow:
                print(warning, file=sys.stderr)
        self._launch(timeout)
        self._running = True

    def _launch(self, timeout: float) -> None:
        ctx = mp.get_context("spawn")  # fork would copy the main process's threads' locks (torch, audio)
        self._conn, child = ctx.Pipe(duplex=True)
        self._shared = ctx.RawArray("d", 4)
        self._proc = ctx.Process(target=_serve, args=(self.config, child, self._shared), name="aego-input",
                                 daemon=True)
        self._proc.start()
        child.close()
        if not self._conn.poll(timeout):
            self.stop()
            raise UsageError("the sensor input process did not start; see the messages above")
        try:
            msg = self._conn.recv()
        except EOFError:
            self.stop()
            raise UsageError("the sensor input process ended at start; see the messages above") from None
        if msg[0] == "error":
            self.stop()
            raise UsageError(msg[1])
        self.address, self.rcvbuf, self.info = msg[1], msg[2], msg[3]
        self._stopped = threading.Event()
        self._reader = threading.Thread(target=self._read, args=(self._conn, self._stopped),
                                        name="aego-input-reader", daemon=True)
        self._reader.start()

    def _restart_if_dead(self) -> None:
        """The input process should never die; if it does (killed, a crash in a library), start another
        one, at most once a second, so the stage never needs a restart."""
        if not self._running or self._proc is None or self._proc.is_alive():
            return
        now = time.monotonic()
        if now - self._last_restart < 1.0:
            return
        self._last_restart = now
        code = self._proc.exitcode
        for k, v in self._counters.items():
            self._base_counters[k] = self._base_counters.get(k, 0) + v
        self._counters = {}
        with contextlib.suppress(Exception):
            self._conn.close()
        self.restarts += 1
        self._pending.append(SensorEvent("input", "error", now, f"the input process ended (exit code {code}); "
                                                                 "restarting it"))
        if self.config.listen is not None and self.address is not None:
            self.config.listen = (self.config.listen[0], self.address[1])  # same port as before
        try:
            self._launch(10.0)
            self._pending.append(SensorEvent("input", "port", time.monotonic(), "input process restarted"))
        except UsageError as exc:
            self._pending.append(SensorEvent("input", "error", time.monotonic(), f"restart failed: {exc}"))

    def _read(self, conn: Any, stopped: threading.Event) -> None:
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                break
            now = time.monotonic()
            kind = msg[0]
            if kind == "events":
                for ev in msg[1]:
                    if isinstance(ev, Reward) and ev.continuous and ev.source in ("imu", "serial"):
                        self._latency.append(now - ev.t)
                    self._pending.append(ev)
                while len(self._pending) > MAX_PENDING:
                    self._pending.popleft()
                    self._dropped_main += 1
            elif kind == "status":
                self._counters, self._status, self._reward, self._publish_latency = msg[1], msg[2], msg[3], msg[4]
            elif kind == "stopped":
                break
        stopped.set()

    def poll(self) -> list[Event | ImuSample]:
        """Every event that arrived since the last call, oldest first."""
        self._restart_if_dead()
        out = []
        pending = self._pending
        while pending:
            out.append(pending.popleft())
        return out

    def counters(self) -> dict[str, int]:
        """The input counters (see :mod:`aego.sensors.pipeline`), as of the last status (≤ 0.2 s old)."""
        c = dict(self._base_counters)
        for k, v in self._counters.items():
            c[k] = c.get(k, 0) + v
        c["dropped"] = c.get("dropped", 0) + self._dropped_main
        c["restarts"] = self.restarts
        return c

    def sensors(self) -> list[dict]:
        """Per-sensor status rows (id, format, role, rate_hz, age_s, twist_deg, value, battery, ...)."""
        return list(self._status)

    def reward(self) -> float | None:
        """The latest mixed wrist reward (as of the last status)."""
        return self._reward

    def latest_reward(self) -> tuple[float, float] | None:
        """The latest wrist reward and the arrival time of the sensor data behind it (monotonic s),
        read from shared memory: always current, whatever the main thread was busy with."""
        if self._shared is None:
            return None
        for _ in range(5):
            seq = self._shared[3]
            value, t = self._shared[0], self._shared[1]
            if seq == self._shared[3]:  # not overwritten while we read
                return None if seq == 0 else (value, t)
        return None

    def publish_latency_ms(self) -> dict[str, float]:
        """Sensor-to-reward latency to the shared reward: from the datagram's arrival (kernel time stamp)
        to the reward being readable by the main process; n, p50, p99, max in milliseconds."""
        return dict(self._publish_latency)

    def latency_ms(self) -> dict[str, float]:
        """Sensor-to-event latency: from the datagram's arrival (kernel time stamp) to the reward event's
        arrival in the main process (so it includes the main process's own load); n, p50, p99, max (ms)."""
        lat = sorted(self._latency)
        if not lat:
            return {"n": 0, "p50": math.nan, "p99": math.nan, "max": math.nan}

        def pct(p: float) -> float:
            return 1000 * lat[min(len(lat) - 1, int(p * (len(lat) - 1) + 0.5))]

        return {"n": len(lat), "p50": pct(0.5), "p99": pct(0.99), "max": 1000 * lat[-1]}

    def reset_latency(self) -> None:
        """Start the main-process latency figures afresh (the input process keeps its own)."""
        self._latency.clear()

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    def stop(self, timeout: float = 3.0) -> None:
        """Stop the input process (final counters are kept)."""
        self._running = False
        if self._proc is None:
            return
        with contextlib.suppress(Exception):
            self._conn.send("stop")
        if self._reader is not None:
            self._stopped.wait(timeout)
        self._proc.join(timeout)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(1.0)
        with contextlib.suppress(Exception):
            self._conn.close()
        self._proc = None

    def __enter__(self) -> InputHub:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def config_from_args(args: Any, session_dir: str | Path | None = None) -> InputConfig:
    """The InputConfig for a run's command-line options (``--osc-listen``, ``--osc-allow``, ``--serial``,
    ``--replay-sensors``), with the user's sensor settings and saved calibration when there are some;
    with ``session_dir``, raw sensor streams are recorded to ``sensors.jsonl`` in it.
    UsageError for broken settings, calibration or recording."""
    from aego.sensors import calibration, settings
    from aego.sensors.recording import FILE_NAME

    mix = calibration.apply(settings.load(), calibration.load())
    replay = getattr(args, "replay_sensors", None)
    return InputConfig(
        listen=tuple(getattr(args, "osc_listen", None) or ("127.0.0.1", 8000)),  # type: ignore[arg-type]
        allow=getattr(args, "osc_allow", None),
        serial=list(getattr(args, "serial", None) or []),
        mix=mix,
        record=str(Path(session_dir) / FILE_NAME) if session_dir is not None and not replay else None,
        replay=str(load_replay_path(replay)) if replay else None,
    )


def load_replay_path(path: str) -> Path:
    """Check a ``--replay-sensors`` argument before anything starts (UsageError if unusable)."""
    from aego.sensors.recording import check_replay_file

    return check_replay_file(path)


__all__ = ["Control", "InputConfig", "InputHub", "Reward", "SensorEvent"]
