"""Audio outputs: a PortAudio device (default or JACK) in its own process, or a clock (null, WAV file).

Every output consumes mono float32 samples from one shared-memory :class:`aego.ring.Ring` and
counts what it does in a shared :class:`Slots` array (blocks, frames, underflows ...), so the engine
reads the figures without talking to the output.

**Device outputs** (``default``, ``jack``) run PortAudio (python-sounddevice) in a separate small process
whose only job is the callback. Why a process: when a JACK server dies, PortAudio's close and terminate
calls can block for minutes; a process is simply killed and a new one started when the device returns.
The callback rules (python-sounddevice style):

- it only copies samples from the preallocated ring (:func:`aego.ring.read_audio`, numba, no allocation,
  no lock, no I/O); samples missing are zeros and counted as a starved block;
- underflows reported by PortAudio (``status.output_underflow``) are counted;
- nothing escapes it: any exception gives a silent block and is counted;
- until the engine sets ``GO`` (after it stopped any other consumer) it outputs silence and leaves the
  ring alone, so there is never more than one consumer.

**Clock outputs** (``null``, ``file:PATH``) take one block every ``block / rate`` seconds on a thread of
the engine process; ``file:`` writes each block to a 16-bit WAV and flushes it every second (a crash
loses at most the last second).
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing as mp
import os
import threading
import time
from dataclasses import dataclass
from multiprocessing import shared_memory
from pathlib import Path

import numpy as np

from aego.ring import Ring, RingSpec, read_audio

JACK_API = "JACK Audio Connection Kit"

# Device states (the STATE slot).
IDLE, OPENING, RUNNING, LOST, NO_DEVICE = 0, 1, 2, 3, 4
STATE_NAMES = {IDLE: "idle", OPENING: "opening", RUNNING: "running", LOST: "lost", NO_DEVICE: "no device"}

SLOT_NAMES = (
    "state", "go", "sample_rate", "blocksize", "blocks", "frames", "xruns", "starved", "starved_samples",
    "callback_errors", "last_callback", "callback_tid", "pid", "channels", "cb_seq", "cb_read", "cb_time",
    "cb_count", "dac_delay",
)
# cb_seq, cb_read, cb_time, cb_count: a consistent record of the last block taken from the ring (its first
# sample's position in the stream, the time it was taken, how many samples it took), odd cb_seq while it is
# being written (a seqlock, read
# with :func:`last_block`); dac_delay: seconds from a callback to its first sample at the converter, as the
# device reports it (0 for clock outputs).


class DeviceUnavailableError(Exception):
    """The requested audio output cannot be opened (no device, no JACK server)."""


class Slots:
    """Named float64 values in shared memory (counters, states), each written by one side only.

    Args:
        names: the slot names, in order (default: the device slots :data:`SLOT_NAMES`).
        name: the shared-memory block to attach to (``None``: create one, owned by this object).

    Index constants ``Slots.BLOCKS`` ... name the device slots, for :attr:`values` in the callback.
    """

    def __init__(self, names: tuple[str, ...] = SLOT_NAMES, name: str | None = None) -> None:
        self.names = tuple(names)
        self._index = {n: i for i, n in enumerate(self.names)}
        size = 8 * len(self.names)
        if name is None:
            self._shm = shared_memory.SharedMemory(create=True, size=size)
            self._owner = True
        else:
            self._shm = shared_memory.SharedMemory(name=name, create=False)
            self._owner = False
        self.name = self._shm.name
        self.values = np.ndarray((len(self.names),), dtype=np.float64, buffer=self._shm.buf)
        if self._owner:
            self.values[:] = 0.0

    def __getitem__(self, key: str) -> float:
        return float(self.values[self._index[key]])

    def __setitem__(self, key: str, value: float) -> None:
        self.values[self._index[key]] = value

    def add(self, key: str, value: float = 1.0) -> None:
        self.values[self._index[key]] += value

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in zip(self.names, self.values, strict=True)}

    def close(self) -> None:
        if not hasattr(self, "values"):
            return
        del self.values
        with contextlib.suppress(BufferError):
            self._shm.close()
        if self._owner:
            with contextlib.suppress(FileNotFoundError):
                self._shm.unlink()


for _i, _n in enumerate(SLOT_NAMES):
    setattr(Slots, _n.upper(), _i)


def last_block(values: np.ndarray) -> tuple[float, float, float] | None:
    """``(stream position of its first sample, monotonic time, samples taken)`` of the last block an output
    took from the ring, read consistently from device slot ``values``; ``None`` if no block yet (or it kept
    changing)."""
    for _ in range(4):
        seq = values[Slots.CB_SEQ]
        read, taken, count = values[Slots.CB_READ], values[Slots.CB_TIME], values[Slots.CB_COUNT]
        if seq == values[Slots.CB_SEQ] and seq % 2.0 == 0.0:
            return (float(read), float(taken), float(count)) if seq > 0.0 else None
    return None


@dataclass(frozen=True)
class OutputSpec:
    """What ``--audio`` asked for: ``kind`` is ``default``, ``jack``, ``null`` or ``file``; ``path`` for ``file``."""

    kind: str
    path: str | None = None

    @classmethod
    def parse(cls, text: str) -> OutputSpec:
        if text in ("default", "jack", "null"):
            return cls(text)
        if text.startswith("file:") and len(text) > 5:
            return cls("file", text[5:])
        raise ValueError(f"'{text}' is not an audio output: use default, jack, null or file:PATH.wav")

    @property
    def is_device(self) -> bool:
        return self.kind in ("default", "jack")

    def __str__(self) -> str:
        return f"file:{self.path}" if self.kind == "file" else self.kind


# -- device process --------------------------------------------------------------------------------

def _find_device(sd, kind: str) -> int:
    """The PortAudio output device index for ``kind``; -1 when there is none."""
    if kind == "jack":
        for i, api in enumerate(sd.query_hostapis()):
            if api["name"] == JACK_API:
                return int(sd.query_hostapis(i)["default_output_device"])
        return -1
    try:
        return int(sd.query_devices(kind="output")["index"])
    except Exception:
        return -1


def device_main(kind: str, ring_spec: RingSpec, slots_name: str, sample_rate: int, realtime: bool) -> None:
    """Body of the device process: open the device, run the callback, report, exit when the device is lost.

    Never closes the stream on loss (PortAudio can hang there); the process exits and the engine starts
    another one.
    """
    os.environ.setdefault("JACK_NO_START_SERVER", "1")  # never let libjack start a server of its own
    # Started from a real-time thread (the engine's supervisor, when the device comes back), this process
    # would inherit its priority: open the device at normal priority, raise only the running parts below.
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    slots = Slots(SLOT_NAMES, slots_name)
    v = slots.values
    v[Slots.PID] = os.getpid()
    v[Slots.STATE] = OPENING
    ring = Ring.attach(ring_spec)
    data, counters = ring.data, ring.counters
    parent = os.getppid()
    try:
        import sounddevice as sd
    except OSError:  # PortAudio missing
        v[Slots.STATE] = NO_DEVICE
        return
    device = _find_device(sd, kind)
    if device < 0:
        v[Slots.STATE] = NO_DEVICE
        return
    info = sd.query_devices(device)
    channels = max(1, min(2, int(info["max_output_channels"])))
    rate = int(info["default_samplerate"]) if kind == "jack" or not sample_rate else int(sample_rate)
    read_audio(np.zeros(4, np.float32), np.zeros(2, np.int64), np.zeros((8, channels), np.float32), True)

    def callback(outdata, frames, _time, status):  # the real-time callback: copy, count, never raise
        try:
            now = time.monotonic()
            go = v[Slots.GO] != 0.0
            if go and status.output_underflow:  # only while we feed it (not the silence before GO)
                v[Slots.XRUNS] += 1
            n = read_audio(data, counters, outdata, go)
            if go:
                v[Slots.CB_SEQ] += 1.0  # odd: being written
                v[Slots.CB_READ] = counters[1] - n
                v[Slots.CB_TIME] = now
                v[Slots.CB_COUNT] = n
                v[Slots.CB_SEQ] += 1.0
            v[Slots.BLOCKSIZE] = frames
            if go and n < frames:
                v[Slots.STARVED] += 1
                v[Slots.STARVED_SAMPLES] += frames - n
            v[Slots.BLOCKS] += 1
            v[Slots.FRAMES] += frames
            v[Slots.LAST_CALLBACK] = now
            delay = _time.outputBufferDacTime - _time.currentTime
            if delay > 0.0:
                v[Slots.DAC_DELAY] = delay
            if v[Slots.CALLBACK_TID] == 0.0:
                v[Slots.CALLBACK_TID] = threading.get_native_id()
        except BaseException:
            v[Slots.CALLBACK_ERRORS] += 1
            with contextlib.suppress(BaseException):
                outdata.fill(0)

    # No cyclic garbage is made from here on; a collection started by the callback's own small
    # allocations would scan every module object (numba, numpy) and take milliseconds.
    gc.freeze()
    gc.disable()
    try:
        stream = sd.OutputStream(device=device, samplerate=rate, channels=channels, dtype="float32",
                                 callback=callback, blocksize=0, latency="low")
        stream.start()
    except Exception:
        v[Slots.STATE] = NO_DEVICE
        return
    v[Slots.SAMPLE_RATE] = stream.samplerate
    v[Slots.CHANNELS] = channels
    v[Slots.STATE] = RUNNING
    if realtime:
        # This thread holds the GIL now and then: at normal priority it could be preempted while holding
        # it, and the callback would wait behind every busy process on the machine. Raised only now, so
        # that opening the device (PortAudio's set-up is long) never runs at real-time priority.
        set_realtime(0, 60)
    raised = False
    while True:
        time.sleep(0.05)
        if os.getppid() != parent:  # the engine is gone: leave quietly
            os._exit(0)
        if realtime and not raised and v[Slots.CALLBACK_TID] != 0.0:
            raised = True
            raise_realtime(int(v[Slots.CALLBACK_TID]), CALLBACK_PRIORITY)
        if not stream.active:
            v[Slots.STATE] = LOST
            os._exit(0)  # no close: it can block for minutes after a JACK server died


CALLBACK_PRIORITY = 70  # SCHED_FIFO priority of the device callback (the engine's synthesis thread has 60)


def raise_realtime(tid: int, priority: int) -> bool:
    """Give thread ``tid`` SCHED_FIFO ``priority`` unless it already runs real-time at least that high (a
    real-time JACK server starts its clients' process threads at its own priority minus 5)."""
    try:
        if os.sched_getscheduler(tid) in (os.SCHED_FIFO, os.SCHED_RR) and \
                os.sched_getparam(tid).sched_priority >= priority:
            return True
    except OSError:
        return False
    return set_realtime(tid, priority)


def set_realtime(tid: int, priority: int) -> bool:
    """Give thread ``tid`` (0: the caller) SCHED_FIFO ``priority``; ``False`` when not permitted."""
    try:
        os.sched_setscheduler(tid, os.SCHED_FIFO, os.sched_param(priority))
        return True
    except (OSError, AttributeError):
        return False


class DeviceProcess:
    """Owns one device process at a time: start it, watch it, kill it."""

    def __init__(self, kind: str, ring: Ring, slots: Slots, sample_rate: int, realtime: bool = True) -> None:
        self.kind = kind
        self.ring = ring
        self.slots = slots
        self.sample_rate = sample_rate
        self.realtime = realtime
        self.process: mp.process.BaseProcess | None = None
        self._ctx = mp.get_context("spawn")

    def start(self) -> None:
        self.slots["state"] = IDLE
        self.slots["go"] = 0.0
        self.slots["callback_tid"] = 0.0
        self.slots["last_callback"] = 0.0
        self.process = self._ctx.Process(
            target=device_main, name="aego-audio",
            args=(self.kind, self.ring.spec, self.slots.name, self.sample_rate, self.realtime), daemon=True,
        )
        self.process.start()

    def state(self) -> int:
        """The device state; ``LOST`` when the process died without saying so."""
        s = int(self.slots["state"])
        if self.process is not None and not self.process.is_alive() and s in (IDLE, OPENING, RUNNING):
            return LOST if s == RUNNING else NO_DEVICE
        return s

    def stalled(self, seconds: float) -> bool:
        """Running but no callback for ``seconds`` (an unplugged interface can just stop calling back)."""
        last = self.slots["last_callback"]
        return last > 0.0 and time.monotonic() - last > seconds

    def stop(self) -> None:
        """Stop consuming, end the process (killed if it does not go within 1 s)."""
        self.slots["go"] = 0.0
        p, self.process = self.process, None
        if p is None:
            return
        if p.is_alive():
            p.terminate()
            p.join(1.0)
            if p.is_alive():
                p.kill()
                p.join(1.0)


# -- clock outputs ---------------------------------------------------------------------------------

class ClockOutput:
    """Consumes the ring in real time on a thread: ``null`` (discard) or a WAV file.

    Args:
        ring: the audio ring (this becomes its consumer while running).
        slots: counters (blocks, frames, starved ...).
        sample_rate: Hz.
        block: samples per block.
        path: WAV file to write (``None``: discard).
        realtime: run the clock thread with SCHED_FIFO (when permitted), like a device's callback.
    """

    def __init__(self, ring: Ring, slots: Slots, sample_rate: int, block: int = 512, path: str | None = None,
                 realtime: bool = False):
        self.ring = ring
        self.realtime = realtime
        self.slots = slots
        self.sample_rate = sample_rate
        self.block = block
        self.path = path
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._file = None
        self.error: str | None = None
        # Compiled (or loaded from numba's cache) now, not on the clock's first tick: a first compile there
        # (a fresh checkout) made the clock late by a few hundred ms, and its catching up emptied the queue.
        read_audio(np.zeros(4, np.float32), np.zeros(2, np.int64), np.zeros((8, 1), np.float32), True)
        if path is not None:
            import soundfile as sf

            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._file = sf.SoundFile(str(path), "w", samplerate=int(sample_rate), channels=1, subtype="PCM_16")

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="aego-clock-out", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        if self.realtime:
            set_realtime(0, CALLBACK_PRIORITY)
        out = np.zeros((self.block, 1), np.float32)
        period = self.block / self.sample_rate
        v = self.slots.values
        counters = self.ring.counters
        deadline = time.monotonic()
        last_flush = deadline
        while not self._stop.is_set():
            deadline += period
            delay = deadline - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -0.5:  # suspended (or a debugger): do not burst to catch up
                deadline = time.monotonic()
            now = time.monotonic()
            n = read_audio(self.ring.data, counters, out, True)
            v[Slots.CB_SEQ] += 1.0
            v[Slots.CB_READ] = counters[1] - n
            v[Slots.CB_TIME] = now
            v[Slots.CB_COUNT] = n
            v[Slots.CB_SEQ] += 1.0
            if n < self.block:
                v[Slots.STARVED] += 1
                v[Slots.STARVED_SAMPLES] += self.block - n
            v[Slots.BLOCKS] += 1
            v[Slots.FRAMES] += self.block
            v[Slots.LAST_CALLBACK] = now
            if self._file is not None:
                try:
                    self._file.write(out[:, 0])
                    if deadline - last_flush >= 1.0:
                        self._file.flush()
                        last_flush = deadline
                except Exception as exc:  # a full disk stops the file, not the run
                    self.error = f"writing {self.path}: {exc}"
                    with contextlib.suppress(Exception):
                        self._file.close()
                    self._file = None

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
            self._thread = None

    def close(self) -> None:
        self.stop()
        if self._file is not None:
            with contextlib.suppress(Exception):
                self._file.close()
            self._file = None
