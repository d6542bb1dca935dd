"""The synthesis engine: a separate process that turns latent targets into sound, out of reach of the
rest of the program's Python work.

Processes and data (all exchanges are lock-free shared-memory rings, see :mod:`aego.ring`):

    main process (Engine)            engine process (engine_main)              device process (audio_out)
    set_target, set_space ... ──cmd ring──▶ synthesis thread: Synth.next_hop ──audio ring──▶ PortAudio callback
    spectra()  ◀──────────────────spectrum ring── (one frame per analysis hop)
    events()   ◀──────────────────event ring───── supervisor thread: device lost/back, spaces, errors
    stats()    ◀──────────────────stats slots ─── (and the device's own counters)

- The main process never blocks on the engine: a command is one record written into a ring (dropped and
  counted if the engine stopped reading).
- The synthesis thread keeps the audio ring ``buffer_blocks`` device blocks ahead of the callback and
  no more (that bounds the control-to-sound latency), running with SCHED_FIFO priority when allowed.
  Its per-hop work (decode, RTPGHI, inverse FFT, overlap-add) runs in NumPy, numba and scipy code.
- Space files are loaded on a loader thread; a file that fails leaves the previous space playing.
- Device outputs live in their own process (:class:`aego.audio_out.DeviceProcess`). When the device is
  lost (the stream stops, or no callback for a second), the engine reports it, kills that process,
  keeps synthesising against a clock (so the visuals go on), and retries every second; when the device
  is back it reports it and resumes output there.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import gc
import json
import math
import multiprocessing as mp
import os
import queue
import sys
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from aego.audio_out import (
    LOST,
    NO_DEVICE,
    RUNNING,
    SLOT_NAMES,
    ClockOutput,
    DeviceProcess,
    DeviceUnavailableError,
    OutputSpec,
    Slots,
    last_block,
    set_realtime,
)
from aego.ring import Ring, RingSpec

CMD_DTYPE = np.dtype([("kind", "i4"), ("n", "i4"), ("time", "f8"), ("values", "f8", (64,)), ("text", "S1024")])
EVENT_DTYPE = np.dtype([("text", "S2048")])
(TARGET, SPACE, GAIN, MUTE, PANIC, FADE_OUT, FADE_IN, STOP) = range(1, 9)

ENGINE_SLOTS = (
    "state", "sample_rate", "hop", "n_fft", "hops", "frame_ms_p50", "frame_ms_p99", "load", "ring_level",
    "fill_target", "latency_ms_p50", "latency_ms_max", "refused", "clamped", "decode_errors", "clipped",
    "spectra_dropped", "realtime", "device_lost", "device_back", "heartbeat", "spectrum_bins", "spectrum_hop_s",
    "latent_dim", "latency_count", "latency_estimated", "latency_dac_ms_p50", "latency_dac_ms_max", "synth_tid",
    "frame_ms_max", "gap_ms_max", "stalls", "spectrum_lead_ms",
)
SYNTH_PRIORITY = 60  # SCHED_FIFO priority of the synthesis thread (below the device callback's 70)
MARKS = 256  # latency marks in flight at most (targets whose first sample has not been played yet)
# engine states
STARTING, READY, FAILED, STOPPED = 1, 2, 3, 4

AUDIO_RING = 1 << 17  # samples: 2.7 s at 48 kHz, far more than is ever queued


@dataclass
class EngineConfig:
    """Configuration of the engine (loadable from a TOML table).

    Attributes:
        audio: ``default``, ``jack``, ``null`` or ``file:PATH``.
        sample_rate: rate for ``null``/``file:`` (device outputs use the device's rate), Hz.
        redundancy: synthesis ``n_fft / hop`` (see :class:`aego.synth.SynthConfig`).
        lookahead: RTPGHI with one frame of look-ahead.
        glide_s: glide time constant, seconds.
        gain: initial output gain.
        buffer_blocks: device blocks kept queued ahead of the callback after each refill (latency vs. safety,
            see docs/engine.md, "Control-to-sound latency").
        buffer_ms: if larger, the queue is instead at least this long, milliseconds, in whole blocks. An
            installation trades latency for a margin that rides over the machine pausing the synthesis.
        block: block size of the clock outputs (``null``/``file:``), samples.
        realtime: ask for SCHED_FIFO for the callback and the synthesis thread.
        start_timeout: seconds to wait for the engine (and the device) at start.
        fade_in_s: fade-in at start, seconds.
    """

    audio: str = "default"
    sample_rate: int = 48000
    redundancy: int = 32
    lookahead: bool = True
    glide_s: float = 0.03
    gain: float = 0.8
    buffer_blocks: int = 2
    buffer_ms: float = 0.0
    block: int = 256
    realtime: bool = True
    start_timeout: float = 60.0
    fade_in_s: float = 0.05


def buffer_samples(config: EngineConfig, block: int, sample_rate: int) -> int:
    """Samples the synthesis keeps queued ahead of the output: ``buffer_blocks`` blocks of ``block`` samples,
    or more when ``buffer_ms`` asks for more (rounded up to whole blocks)."""
    blocks = max(int(config.buffer_blocks), math.ceil(config.buffer_ms * 1e-3 * sample_rate / block))
    return max(1, blocks) * block


@dataclass(frozen=True)
class _Shared:
    cmd: RingSpec
    events: RingSpec
    spectra: RingSpec
    audio: RingSpec
    stats: str
    device: str


class Engine:
    """The synthesis engine as seen from the main process.

    Args:
        config: :class:`EngineConfig`.
        space: a bundled space name, a ``.space`` path, or a :class:`aego.space.SoundSpace`.

    All methods but :meth:`start` and :meth:`stop` return at once and never raise on bad values: the engine
    reports them as events.
    """

    def __init__(self, config: EngineConfig | None = None, space: Any = "synthetic") -> None:
        self.config = config or EngineConfig()
        self.output = OutputSpec.parse(self.config.audio)
        self.space = space
        self._process: mp.process.BaseProcess | None = None
        self._rings: dict[str, Ring] = {}
        self._slots: Slots | None = None
        self._device: Slots | None = None
        self.commands_dropped = 0
        self._pending_events: list[dict[str, Any]] = []

    # -- life cycle ------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the engine process and wait until sound flows.

        Raises:
            aego.errors.SpaceFileError: the space does not load.
            DeviceUnavailableError: the audio output cannot be opened.
            RuntimeError: the engine did not come up within ``start_timeout``.
        """
        from aego.errors import SpaceFileError

        space = self.space
        bins = space.transform.bins if hasattr(space, "transform") else None
        if bins is None:
            from aego.space import SoundSpace

            bins = SoundSpace.load(space).transform.bins  # a clear error here, before any process starts
        self._rings = {
            "cmd": Ring.create(512, (), CMD_DTYPE),
            "events": Ring.create(512, (), EVENT_DTYPE),
            "spectra": Ring.create(512, (bins,), "float32"),
            "audio": Ring.create(AUDIO_RING, (), "float32"),
        }
        self._slots = Slots(ENGINE_SLOTS)
        self._device = Slots(SLOT_NAMES)
        shared = _Shared(*(self._rings[k].spec for k in ("cmd", "events", "spectra", "audio")),
                         stats=self._slots.name, device=self._device.name)
        ctx = mp.get_context("spawn")
        # One BLAS thread: a decode is a few small products; more threads only add wake-up jitter.
        saved = {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
        os.environ.update({k: "1" for k in saved})
        try:
            self._process = ctx.Process(target=engine_main, args=(asdict(self.config), shared, space),
                                        name="aego-engine", daemon=False)  # it starts the device process
            self._process.start()
            atexit.register(self.stop)
        finally:
            for k, val in saved.items():
                if val is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = val
        deadline = time.monotonic() + self.config.start_timeout
        while time.monotonic() < deadline:
            state = int(self._slots["state"])
            if state == READY:
                return
            if state == FAILED or not self._process.is_alive():
                events = self.events()
                reason = next((e for e in reversed(events) if e.get("type") == "error"), {})
                self.stop()
                if reason.get("what") == "space not loaded":
                    raise SpaceFileError(reason.get("detail", "the space did not load"))
                if reason.get("what") == "no audio device":
                    raise DeviceUnavailableError(reason.get("detail", "no audio device"))
                raise RuntimeError(f"the synthesis engine did not start: {reason.get('detail', 'it exited')}")
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"the synthesis engine did not start within {self.config.start_timeout:g} s")

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the engine (output ends, a ``file:`` output is closed) and free the shared memory."""
        p, self._process = self._process, None
        if p is not None:
            atexit.unregister(self.stop)
            self._send(STOP)
            p.join(timeout)
            if p.is_alive():
                p.kill()
                p.join(2.0)
        if self._rings:
            self._pending_events.extend(self._read_events())
            self._final_stats = self.stats()
        for ring in self._rings.values():
            ring.close()
        self._rings = {}
        for slots in (self._slots, self._device):
            if slots is not None:
                slots.close()
        self._slots = self._device = None

    def __enter__(self) -> Engine:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.is_alive()

    # -- controls -----------------------------------------------------------------------------------------

    def _send(self, kind: int, values: Any = (), text: str = "") -> bool:
        ring = self._rings.get("cmd")
        if ring is None:
            return False
        rec = np.zeros((), CMD_DTYPE)
        rec["kind"] = kind
        vals = np.asarray(values, dtype=np.float64).reshape(-1)[:64]
        rec["n"] = len(np.asarray(values).reshape(-1)) if np.ndim(values) else len(vals)
        rec["values"][: len(vals)] = vals
        rec["time"] = time.monotonic()
        rec["text"] = text.encode("utf-8")[:1024]
        if not ring.push(rec):
            self.commands_dropped += 1
            return False
        return True

    def set_target(self, latent: Any) -> bool:
        """Glide to ``latent`` ``(d,)``; NaN/inf or a wrong size is refused by the engine (an event)."""
        try:
            values = np.asarray(latent, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            values = np.full(1, np.nan)
        return self._send(TARGET, values)

    def set_space(self, name_or_path: str, crossfade_s: float = 2.0, latent: Any = None) -> bool:
        """Crossfade to another space (loaded in the engine; on failure the current one keeps playing)."""
        values = [float(crossfade_s)]
        if latent is not None:
            values += list(np.asarray(latent, dtype=np.float64).reshape(-1))
        return self._send(SPACE, values, str(name_or_path))

    def set_gain(self, gain: float) -> bool:
        return self._send(GAIN, [gain])

    def set_mute(self, muted: bool) -> bool:
        return self._send(MUTE, [1.0 if muted else 0.0])

    def panic(self) -> bool:
        """Silence at once (within one hop); ``set_mute(False)`` brings the sound back."""
        return self._send(PANIC)

    def fade_out(self, seconds: float) -> bool:
        return self._send(FADE_OUT, [seconds])

    def fade_in(self, seconds: float) -> bool:
        return self._send(FADE_IN, [seconds])

    # -- outputs ----------------------------------------------------------------------------------------

    def spectra(self) -> np.ndarray:
        """Spectrum frames produced since the last call, ``(n, bins)`` float32 linear magnitudes in the first
        space's transform, one per analysis hop (``stats()["spectrum_hop_s"]``), scaled by the output level."""
        ring = self._rings.get("spectra")
        if ring is None:
            return np.zeros((0, 0), np.float32)
        return ring.read()

    def _read_events(self) -> list[dict[str, Any]]:
        ring = self._rings.get("events")
        if ring is None:
            return []
        out = []
        for rec in ring.read():
            with contextlib.suppress(ValueError, UnicodeDecodeError):
                out.append(json.loads(rec["text"].decode("utf-8")))
        return out

    def events(self) -> list[dict[str, Any]]:
        """Engine-side events since the last call (``{"type": "error"|"audio"|"info", "what": ..., ...}``)."""
        out, self._pending_events = self._pending_events + self._read_events(), []
        return out

    def stats(self) -> dict[str, Any]:
        """Figures: ``backend, sample_rate, blocks, frames, underflows`` (xruns + starved blocks), ``xruns``,
        ``starved``, ``errors``, ``load`` (fraction of one core spent synthesising), ``frame_ms_p50/p99/max``,
        ``latency_ms_p50/max`` (control to sound: from ``set_target`` to the first sample that carries it
        leaving a device with one block of output buffer, over the whole run for the max),
        ``latency_dac_ms_p50/max`` (the same with the output delay the device itself reports,
        ``device_delay_ms``), ``gap_ms_max`` (longest the synthesis loop was away), ``stalls`` (times it was away
        longer than a block), ``device`` (state) ..."""
        if self._slots is None or self._device is None:
            return dict(getattr(self, "_final_stats", {}))
        e = self._slots.as_dict()
        d = self._device.as_dict()
        from aego.audio_out import STATE_NAMES

        return {
            "backend": str(self.output),
            "sample_rate": int(e["sample_rate"]),
            "blocks": int(d["blocks"]),
            "frames": int(d["frames"]),
            "underflows": int(d["xruns"] + d["starved"]),
            "xruns": int(d["xruns"]),
            "starved": int(d["starved"]),
            "errors": int(d["callback_errors"] + e["decode_errors"]),
            "callback_errors": int(d["callback_errors"]),
            "decode_errors": int(e["decode_errors"]),
            "refused": int(e["refused"]),
            "clamped": int(e["clamped"]),
            "clipped": int(e["clipped"]),
            "load": round(e["load"], 4),
            "hops": int(e["hops"]),
            "hop": int(e["hop"]),
            "n_fft": int(e["n_fft"]),
            "frame_ms_p50": round(e["frame_ms_p50"], 4),
            "frame_ms_p99": round(e["frame_ms_p99"], 4),
            "latency_ms_p50": round(e["latency_ms_p50"], 3),
            "latency_ms_max": round(e["latency_ms_max"], 3),
            "latency_dac_ms_p50": round(e["latency_dac_ms_p50"], 3),
            "latency_dac_ms_max": round(e["latency_dac_ms_max"], 3),
            "latency_count": int(e["latency_count"]),
            "latency_estimated": int(e["latency_estimated"]),
            "device_delay_ms": round(d["dac_delay"] * 1e3, 3),
            "frame_ms_max": round(e["frame_ms_max"], 4),
            "gap_ms_max": round(e["gap_ms_max"], 3),
            "stalls": int(e["stalls"]),
            "synth_tid": int(e["synth_tid"]),
            "callback_tid": int(d["callback_tid"]) if self.output.is_device else 0,
            "ring_level": int(e["ring_level"]),
            "fill_target": int(e["fill_target"]),
            "spectrum_lead_ms": round(e["spectrum_lead_ms"], 3),
            "device": STATE_NAMES.get(int(d["state"]), "?") if self.output.is_device else "clock",
            "device_lost": int(e["device_lost"]),
            "device_back": int(e["device_back"]),
            "blocksize": int(d["blocksize"]) if self.output.is_device else self.config.block,
            "realtime": bool(e["realtime"]),
            "spectra_dropped": int(e["spectra_dropped"]),
            "commands_dropped": self.commands_dropped,
            "spectrum_bins": int(e["spectrum_bins"]),
            "spectrum_hop_s": e["spectrum_hop_s"],
            "latent_dim": int(e["latent_dim"]),
            "engine_pid": self._process.pid if self._process is not None else 0,
            "device_pid": int(d["pid"]) if self.output.is_device else 0,
        }


# -- the engine process --------------------------------------------------------------------------------

class _EngineProcess:
    """State of the engine process: rings, synth, output, threads."""

    def __init__(self, config: EngineConfig, shared: _Shared) -> None:
        self.config = config
        self.cmd = Ring.attach(shared.cmd)
        self.event_ring = Ring.attach(shared.events)
        self.spectra = Ring.attach(shared.spectra)
        self.audio = Ring.attach(shared.audio)
        self.stats = Slots(ENGINE_SLOTS, shared.stats)
        self.device = Slots(SLOT_NAMES, shared.device)
        self.output = OutputSpec.parse(config.audio)
        self.stop_event = threading.Event()
        self.loaded: queue.SimpleQueue = queue.SimpleQueue()
        self.to_load: queue.SimpleQueue = queue.SimpleQueue()
        self.synth = None
        self.clock: ClockOutput | None = None
        self.dev: DeviceProcess | None = None
        self.frame_times = np.zeros(2048)
        self.latencies = np.zeros((4096, 2))  # recent latencies, seconds: nominal, device-reported
        self.n_lat = 0
        self.latency_max = np.zeros(2)
        self.latency_estimated = 0
        # Targets waiting to be heard: stream position of the first sample that carries each, and the time
        # set_target was called (monotonic, the same clock in every process).
        self.mark_pos = np.zeros(MARKS, dtype=np.int64)
        self.mark_time = np.zeros(MARKS)
        self.marks_in = 0
        self.marks_out = 0
        self.spectrum_every = 1
        self.sample_rate = config.sample_rate
        self.starved_told = 0  # starved blocks already reported (note_starvation)
        self.starved_at = -1.0

    def event(self, event: dict[str, Any]) -> None:
        event = {"monotonic": round(time.monotonic(), 4), **event}
        text = json.dumps(event, default=str).encode("utf-8")[:2048]
        rec = np.zeros((), EVENT_DTYPE)
        rec["text"] = text
        self.event_ring.push(rec)

    # -- outputs --------------------------------------------------------------------------------------------

    def open_output(self) -> int:
        """Open the output; returns its sample rate. Raises DeviceUnavailableError."""
        cfg = self.config
        if not self.output.is_device:
            path = self.output.path if self.output.kind == "file" else None
            try:
                # Real time for the null clock (it paces the latency measurement), not for a file writer doing I/O.
                self.clock = ClockOutput(self.audio, self.device, cfg.sample_rate, cfg.block, path,
                                         cfg.realtime and path is None)
            except Exception as exc:
                raise DeviceUnavailableError(f"cannot write the audio file '{path}': {exc}") from None
            self.device["blocksize"] = cfg.block
            self.device["sample_rate"] = cfg.sample_rate
            return cfg.sample_rate
        self.dev = DeviceProcess(self.output.kind, self.audio, self.device, cfg.sample_rate, cfg.realtime)
        self.dev.start()
        deadline = time.monotonic() + max(5.0, cfg.start_timeout / 2)
        while time.monotonic() < deadline:
            state = self.dev.state()
            if state == RUNNING:
                return int(self.device["sample_rate"])
            if state in (NO_DEVICE, LOST):
                break
            time.sleep(0.02)
        self.dev.stop()
        what = "no JACK server is running (start one, e.g. 'jackd -d dummy')" if self.output.kind == "jack" \
            else "no default audio output device"
        raise DeviceUnavailableError(f"{what}; use --audio null or --audio file:PATH.wav to run without one")

    def start_output(self) -> None:
        if self.clock is not None:
            self.clock.start()
        else:
            self.device["go"] = 1.0

    def fill_target(self) -> int:
        block = int(self.device["blocksize"]) or self.config.block
        return buffer_samples(self.config, block, self.sample_rate)

    # -- synthesis --------------------------------------------------------------------------------------

    def synth_config(self, rate: int) -> Any:
        from aego.synth import SynthConfig

        cfg = self.config
        return SynthConfig(sample_rate=rate, redundancy=cfg.redundancy, lookahead=cfg.lookahead,
                           glide_s=cfg.glide_s, gain=cfg.gain)

    def build_synth(self, space: Any, rate: int) -> Any:
        from aego.synth import Synth

        return Synth(space, self.synth_config(rate), report=self.event)

    def apply(self, rec: np.void) -> None:
        kind = int(rec["kind"])
        n = int(rec["n"])
        values = rec["values"][: min(n, 64)]
        synth = self.synth
        if kind == TARGET:
            if n > 64:
                values = np.full(n, np.nan)  # too long: the synth refuses it with a clear message
            if synth.set_target(values) and self.marks_in - self.marks_out < MARKS:
                # The next hop decodes the new position; with look-ahead its frame is output one hop later.
                lead = synth.hop if self.config.lookahead else 0
                i = self.marks_in % MARKS
                self.mark_pos[i] = int(self.audio.counters[0]) + lead
                self.mark_time[i] = float(rec["time"])
                self.marks_in += 1
        elif kind == SPACE:
            latent = values[1:] if n > 1 else None
            self.to_load.put((rec["text"].decode("utf-8", "replace"), float(values[0]) if n else 2.0, latent))
        elif kind == GAIN:
            synth.set_gain(float(values[0]) if n else float("nan"))
        elif kind == MUTE:
            synth.set_mute(bool(values[0]) if n else True)
        elif kind == PANIC:
            synth.panic()
        elif kind == FADE_OUT:
            synth.fade_out(float(values[0]) if n and math.isfinite(values[0]) else 1.0)
        elif kind == FADE_IN:
            synth.fade_in(float(values[0]) if n and math.isfinite(values[0]) else 1.0)
        elif kind == STOP:
            self.stop_event.set()

    def note_starvation(self, now: float, gap_ms_max: float) -> bool:
        """Tell (an ``audio`` event, at most once a second) that the output took blocks the ring could not fill,
        with what explains it: how many since the last report, the ring's level and target, and the longest
        absence of the synthesis loop meanwhile (``gap_ms_max``); so an installation's log says when and why.
        Returns whether it told."""
        starved = int(self.device["starved"])
        if starved <= self.starved_told or now - self.starved_at < 1.0:
            return False
        self.event({"type": "audio", "what": "audio starved", "blocks": starved - self.starved_told,
                    "total": starved, "ring_level": int(self.audio.available()), "fill_target": self.fill_target(),
                    "gap_ms_max": round(gap_ms_max, 2)})
        self.starved_told, self.starved_at = starved, now
        return True

    def resolve_marks(self) -> None:
        """Turn the marks whose sample an output has taken into latencies.

        The output publishes the position and time of each block it takes (:func:`aego.audio_out.last_block`);
        a sample ``i`` samples into a block taken at ``t`` leaves a device with one block of output buffer at
        ``t + block / rate + i / rate`` (the nominal figure), or at ``t + dac_delay + i / rate`` by the
        device's own account. A mark already older than the last block (this loop was away for more than a
        block) is placed on the regular block clock and counted as estimated.
        """
        if self.marks_in == self.marks_out:
            return
        last = last_block(self.device.values)
        if last is None:
            return
        first, taken, count = last
        rate = float(self.sample_rate)
        block = float(self.device["blocksize"]) or float(self.config.block)
        dac = self.device["dac_delay"]
        while self.marks_out < self.marks_in:
            i = self.marks_out % MARKS
            pos = float(self.mark_pos[i])
            if pos >= first + count:
                break  # not taken yet (a starved block took fewer than a block)
            if pos >= first:
                t_out = taken + (pos - first) / rate
            else:
                back = math.ceil((first - pos) / block)
                t_out = taken - back * block / rate + (pos - (first - back * block)) / rate
                self.latency_estimated += 1
            nominal = t_out + block / rate - self.mark_time[i]
            reported = t_out + (dac if dac > 0.0 else block / rate) - self.mark_time[i]
            row = self.latencies[self.n_lat % len(self.latencies)]
            row[0], row[1] = nominal, reported
            self.latency_max[0] = max(self.latency_max[0], nominal)
            self.latency_max[1] = max(self.latency_max[1], reported)
            self.n_lat += 1
            self.marks_out += 1

    def loader(self) -> None:
        """Load spaces asked for by SPACE commands, off the synthesis thread."""
        from aego.space import SoundSpace

        if self.config.realtime:  # see supervise(): no GIL holder may be preempted by ordinary processes
            set_realtime(0, 10)
        while not self.stop_event.is_set():
            try:
                name, crossfade, latent = self.to_load.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                space = SoundSpace.load(name)
                synth = self.synth
                voice = synth.prepare_voice(space) if synth is not None else None  # off the audio path
            except Exception as exc:
                self.event({"type": "error", "what": "space not loaded", "space": name,
                            "detail": str(exc).splitlines()[0] if str(exc) else type(exc).__name__})
                continue
            self.loaded.put((space, crossfade, latent, voice))
            self.event({"type": "info", "what": "space loaded", "space": name})

    def synth_loop(self) -> None:
        """Keep the audio ring at least ``fill_target`` samples ahead of the consumer, one hop at a time.

        Wake-up policy: with the ring full, sleep until just after the output's next block is due (known from
        the last block it took), so the refill follows each block within a fraction of a millisecond; never
        more than 2 ms at a time, so controls and stop requests are seen.
        """
        self.stats["synth_tid"] = threading.get_native_id()  # real-time already (engine_main)
        busy = 0.0
        window_start = time.perf_counter()
        hops = 0
        analysis_hop_s = None
        next_spectrum = 0.0
        device = self.device.values
        last_pass = time.perf_counter()
        frame_max = gap_max = 0.0
        slept = dt = 0.0  # what the previous pass did: seconds asked to sleep, seconds of synthesis
        last_stall_event = 0.0
        loop_start = last_pass
        recent_gap = 0.0  # longest absence since starvation was last told, ms
        held: collections.deque | None = None  # spectrum frames waiting for their sound: (stream position, frame)
        while not self.stop_event.is_set():
            now = time.perf_counter()
            gap = now - last_pass
            last_pass = now
            if gap > gap_max:
                gap_max = gap
                self.stats["gap_ms_max"] = gap * 1e3
            recent_gap = max(recent_gap, gap * 1e3)
            block = float(device[Slots.BLOCKSIZE]) or float(self.config.block)
            if gap > block / self.sample_rate:
                self.stats.add("stalls")
                # Every stall longer than the ring's margin is told (it may have cost an underflow); shorter
                # ones at most once a second.
                if gap > 2 * block / self.sample_rate or now - last_stall_event > 1.0:
                    last_stall_event = now
                    self.event({"type": "info", "what": "synthesis stalled", "gap_ms": round(gap * 1e3, 2),
                                "slept_ms": round(slept * 1e3, 2), "hop_ms": round(dt * 1e3, 2),
                                "after_s": round(now - loop_start, 2)})
            slept = dt = 0.0
            # Controls first, in order, then at most one space change per hop.
            while self.cmd.available():
                rec = self.cmd.read(1)[0]
                self.apply(rec)
            with contextlib.suppress(queue.Empty):
                space, crossfade, latent, voice = self.loaded.get_nowait()
                self.synth.set_space(space, crossfade, latent, voice)
            self.resolve_marks()
            if self.note_starvation(now, recent_gap):
                recent_gap = 0.0
            synth = self.synth
            level = self.audio.available()
            target = self.fill_target()
            base_target = max(1, self.config.buffer_blocks) * int(block)
            if target > base_target:
                # A deep queue (an installation's) would show each spectrum long before it is heard: hold the
                # frames until the output is as near them as with the default queue.
                held = held if held is not None else collections.deque()
                consumed = int(self.audio.counters[1])
                while held and held[0][0] - consumed <= base_target:
                    self.publish_spectrum(*reversed(held.popleft()))
            elif held is not None:
                while held:
                    self.publish_spectrum(*reversed(held.popleft()))
                held = None
            self.stats["ring_level"] = level
            self.stats["fill_target"] = target
            if level >= target:
                last = last_block(device)
                wait = 0.0005
                if last is not None:
                    wait = last[1] + block / self.sample_rate - time.monotonic() + 0.0002
                slept = min(max(wait, 0.00025), 0.002)
                time.sleep(slept)
                continue
            t0 = time.perf_counter()
            out = synth.next_hop()
            dt = time.perf_counter() - t0
            self.audio.write(out)
            busy += dt
            if dt > frame_max:
                frame_max = dt
                self.stats["frame_ms_max"] = dt * 1e3
            self.frame_times[hops % len(self.frame_times)] = dt
            hops += 1
            # one spectrum frame per analysis hop of the display transform
            if analysis_hop_s is None:
                analysis_hop_s = synth.display.hop / synth.display.sample_rate
                self.stats["spectrum_hop_s"] = analysis_hop_s
            clock = hops * synth.hop / synth.sample_rate
            if clock >= next_spectrum:
                next_spectrum += analysis_hop_s
                if held is None:
                    self.publish_spectrum(synth.spectrum, int(self.audio.counters[0]))
                else:
                    held.append((int(self.audio.counters[0]), synth.spectrum.copy()))
            now = time.perf_counter()
            if now - window_start >= 1.0:
                self.stats["load"] = busy / (now - window_start)
                busy, window_start = 0.0, now
                k = min(hops, len(self.frame_times))
                p50, p99 = np.percentile(self.frame_times[:k], [50, 99])
                self.stats["frame_ms_p50"] = p50 * 1e3
                self.stats["frame_ms_p99"] = p99 * 1e3
                if self.n_lat:
                    lat = self.latencies[: min(self.n_lat, len(self.latencies))]
                    p50s = np.median(lat, axis=0)
                    self.stats["latency_ms_p50"] = float(p50s[0]) * 1e3
                    self.stats["latency_dac_ms_p50"] = float(p50s[1]) * 1e3
                    self.stats["latency_ms_max"] = float(self.latency_max[0]) * 1e3
                    self.stats["latency_dac_ms_max"] = float(self.latency_max[1]) * 1e3
                    self.stats["latency_count"] = self.n_lat
                    self.stats["latency_estimated"] = self.latency_estimated
            st = synth.stats
            self.stats["hops"] = hops
            self.stats["refused"] = st.refused
            self.stats["clamped"] = st.clamped
            self.stats["decode_errors"] = st.decode_errors
            self.stats["clipped"] = st.clipped

    def finish_output(self) -> None:
        """Let the output play what is queued (the end of a fade-out), then stop it taking from the ring: an
        output left running while the process winds down would count every block after the last as starved."""
        block = int(self.device["blocksize"]) or self.config.block
        self.audio.write(np.zeros((-self.audio.available()) % block + 2 * block, np.float32))
        deadline = time.monotonic() + self.audio.available() / self.sample_rate + 0.5
        while self.audio.available() > block and time.monotonic() < deadline:
            time.sleep(0.001)
        self.device["go"] = 0.0
        if self.clock is not None:
            self.clock.stop()

    def publish_spectrum(self, frame: np.ndarray, end: int) -> None:
        """Hand one spectrum frame to the visuals; ``end``: stream position of the hop that made it, samples."""
        if not self.spectra.push(frame):
            self.stats.add("spectra_dropped")
        # how far ahead of the sound the picture is (samples not yet taken by the output)
        self.stats["spectrum_lead_ms"] = (end - int(self.audio.counters[1])) / self.sample_rate * 1e3

    # -- supervision -----------------------------------------------------------------------------------

    def supervise(self) -> None:
        """Watch the device: lost → report, clock drain, retry every second; back → report, resume."""
        lost_since = None
        next_try = 0.0
        probing = False
        parent = os.getppid()
        if self.config.realtime:
            # Every thread of this process takes the GIL at times; one preempted by an ordinary process
            # while holding it would stall the real-time synthesis thread behind it (priority inversion).
            set_realtime(0, 50)
        while not self.stop_event.wait(0.05):
            self.stats["heartbeat"] = time.monotonic()
            if os.getppid() != parent:  # the main process died without stopping us
                self.stop_event.set()
                break
            if self.clock is not None and self.clock.error:
                self.event({"type": "error", "what": "audio file", "detail": self.clock.error})
                self.clock.error = None
            if self.dev is None:
                continue
            if lost_since is None:
                state = self.dev.state()
                if state != RUNNING or self.dev.stalled(1.0):
                    lost_since = time.monotonic()
                    self.stats.add("device_lost")
                    self.event({"type": "audio", "what": "device lost", "backend": self.output.kind,
                                "detail": "the stream stopped" if state != RUNNING else "no callback for 1 s"})
                    self.dev.stop()
                    self.clock = ClockOutput(self.audio, self.device, self.sample_rate, 256,
                                             realtime=self.config.realtime)
                    self.clock.start()
                    next_try = time.monotonic() + 1.0
                    probing = False
                continue
            now = time.monotonic()
            if not probing and now >= next_try:
                self.dev.start()
                probing = True
                continue
            if probing:
                state = self.dev.state()
                if state == RUNNING:
                    rate = int(self.device["sample_rate"])
                    if rate != self.sample_rate:
                        self.event({"type": "error", "what": "device rate changed",
                                    "detail": f"the device came back at {rate} Hz instead of {self.sample_rate} Hz; "
                                              "waiting for it at the original rate"})
                        self.dev.stop()
                        probing = False
                        next_try = now + 1.0
                        continue
                    self.clock.stop()  # one consumer at a time: the clock stops before the callback consumes
                    self.clock = None
                    self.device["go"] = 1.0
                    self.stats.add("device_back")
                    self.event({"type": "audio", "what": "device back", "backend": self.output.kind,
                                "after_s": round(now - lost_since, 2)})
                    lost_since = None
                    probing = False
                elif state in (NO_DEVICE, LOST) or now - next_try > 15.0:  # gone, or a probe hanging in PortAudio
                    self.dev.stop()
                    probing = False
                    next_try = now + 1.0

    def close(self) -> None:
        if self.clock is not None:
            self.clock.close()
            self.clock = None
        if self.dev is not None:
            self.dev.stop()
        for r in (self.cmd, self.event_ring, self.spectra, self.audio):
            r.close()
        self.device.close()


def engine_main(config_dict: dict[str, Any], shared: _Shared, space_arg: Any) -> None:
    """Body of the engine process."""
    sys.setswitchinterval(0.0005)  # the synthesis thread must get the GIL back quickly from the others
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # single-frame decodes: BLAS threads would only add wake-up jitter
    config = EngineConfig(**config_dict)
    proc = _EngineProcess(config, shared)
    proc.stats["state"] = STARTING
    try:
        from aego.space import SoundSpace
        from aego.synth import warm_up

        try:
            space = space_arg if hasattr(space_arg, "frame_decoder") else SoundSpace.load(space_arg)
        except Exception as exc:
            proc.event({"type": "error", "what": "space not loaded", "detail": str(exc)})
            proc.stats["state"] = FAILED
            return
        try:
            rate = proc.open_output()
        except DeviceUnavailableError as exc:
            proc.event({"type": "error", "what": "no audio device", "detail": str(exc)})
            proc.stats["state"] = FAILED
            return
        proc.sample_rate = rate
        # Numba loads its cache or compiles, BLAS and FFT plans are made: for both kinds of space, as a space of
        # the other kind may come later in the piece.
        warm_up(space, proc.synth_config(rate))
        proc.synth = proc.build_synth(space, rate)
        proc.synth.fade.value = 0.0
        proc.synth.fade_in(config.fade_in_s)
        tf = proc.synth.transform
        proc.stats["sample_rate"] = rate
        proc.stats["hop"] = tf.hop
        proc.stats["n_fft"] = tf.n_fft
        proc.stats["spectrum_bins"] = space.transform.bins
        proc.stats["latent_dim"] = space.latent_dim
        proc.stats["fill_target"] = proc.fill_target()
        # Everything loaded so far is permanent: garbage collections scan only what is new (milliseconds
        # otherwise, with numba and NumPy loaded, enough to starve the ring).
        gc.collect()
        gc.freeze()
        # This thread is the synthesis thread from here on: real-time before the consumer starts, so that
        # the first blocks do not wait behind ordinary processes.
        if config.realtime and set_realtime(0, SYNTH_PRIORITY):
            proc.stats["realtime"] = 1.0
        elif config.realtime:
            proc.event({"type": "info", "what": "no real-time priority",
                        "detail": "running at normal priority (grant rtprio to the user for safer audio)"})
        loader = threading.Thread(target=proc.loader, name="aego-loader", daemon=True)
        supervisor = threading.Thread(target=proc.supervise, name="aego-supervisor", daemon=True)
        loader.start()
        supervisor.start()
        while proc.audio.available() < proc.fill_target():  # prefill, then let the consumer in
            proc.audio.write(proc.synth.next_hop())
        proc.start_output()
        proc.stats["state"] = READY
        proc.synth_loop()
        proc.stop_event.set()
        proc.finish_output()
        supervisor.join(2.0)
        loader.join(2.0)
    except Exception as exc:  # report, never hang the main process
        proc.event({"type": "error", "what": "engine failed", "detail": f"{type(exc).__name__}: {exc}"})
        proc.stats["state"] = FAILED
    finally:
        if proc.stats["state"] != FAILED:
            proc.stats["state"] = STOPPED
        proc.close()
