"""The main loop of ``play``, ``perform``, ``rehearse`` and ``install``: everything together.

Order of work in a run (each step refuses bad input before the next one starts):

1. load and validate the score, resolve and load its spaces (``--space NAME=PATH`` overrides),
   check every section's dims against its space: all before any sound;
2. open the session folder (or reopen it with ``--resume``), start the engine (sound from here on),
   the input hub, the explorer, the visuals and the console;
3. loop: controls and rewards in, score transitions, the fixed-point condition, engine and visuals
   frames, the console, the session's summary and resume state; meanwhile the :class:`Pacer`
   thread makes the explorer act every ``period`` and sends each new position to the engine;
4. end (``--duration``, the score's end, a held fixed point, ``/aego/stop``, SIGINT/SIGTERM):
   fade out, stop everything, write the summary, exit 0.

Explorer positions are normalised coordinates along the first ``k`` axes of the section's projection.
The runner keeps the full normalised position ``u`` ``(d,)``: the explorer moves ``u[:k]``, the other
axes stay where they are, so when the dims grow the new axes open from the current position (no jump),
and when they shrink the dropped axes hold still.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aego.errors import ScoreError, UsageError
from aego.scheduler import Scheduler, Transition
from aego.score import Score, Section, load_score
from aego.session import Session

MODES = ("play", "perform", "rehearse", "install")
AGENT_FILE = "agent.safetensors"
FADE_S = 1.5
STATE_EVERY_S = 0.5  # the resume point is never more than half a second old (written by the session thread)
SUMMARY_EVERY_S = 5.0
AGENT_EVERY_S = 10.0
#: installations rotate their event log past this size and keep this many parts (about 1 GB at most)
ROTATE_BYTES = 64 * 1024 * 1024
ROTATE_KEEP = 16
#: audio queued ahead of the output in the unattended modes, ms: rides over the machine pausing the synthesis
#: for up to this long (seen: 5-60 ms on a busy virtual machine); a performer's modes keep the engine's two blocks
UNATTENDED_BUFFER_MS = 100.0


@dataclass
class RunConfig:
    """Everything a run needs, from the command line (see :func:`from_args`)."""

    mode: str = "play"
    score: str = "aego"
    spaces: list[tuple[str, str]] = field(default_factory=list)
    audio: str = "default"
    window: bool = True
    frames: str | None = None
    display: int = 0
    fullscreen: bool = False
    duration: float | None = None
    time_scale: float = 1.0
    agent: str = "deep-tamer"
    osc_send: tuple[str, int] = ("127.0.0.1", 8001)
    log: str | None = None
    resume: str | None = None
    seed: int | None = None
    midi: str | None = None
    console: str = "auto"
    buffer_ms: float = 0.0
    args: Any = None  # the argparse namespace, for the input hub's own options

    @classmethod
    def from_args(cls, args: Any, mode: str) -> RunConfig:
        score = args.score or ("installation" if mode == "install" else "aego")
        buffer = getattr(args, "buffer_ms", None)
        if buffer is None:
            buffer = UNATTENDED_BUFFER_MS if mode in ("play", "install") else 0.0
        return cls(buffer_ms=buffer, mode=mode, score=score, spaces=list(args.space or []), audio=args.audio,
                   window=not args.no_window, frames=args.frames, display=args.display, fullscreen=args.fullscreen,
                   duration=args.duration, time_scale=args.time_scale, agent=args.agent, osc_send=args.osc_send,
                   log=args.log, resume=args.resume, seed=args.seed, midi=args.midi, console=args.console, args=args)


def resolve_spaces(score: Score, overrides: list[tuple[str, str]]) -> dict[str, str]:
    """Score-local space names -> what to load (bundled name or path), with ``--space NAME=PATH`` applied.

    NAME is a name from the score's ``[spaces]`` table, or the bundled space it stands for (``synthetic``).
    """
    resolved = dict(score.spaces)
    for name, path in overrides:
        keys = [name] if name in resolved else [k for k, v in score.spaces.items() if v == name]
        if not keys:
            names = sorted({*score.spaces, *score.spaces.values()})
            raise UsageError(f"--space {name}={path}: the score '{score.name}' has no space called '{name}' "
                             f"(use one of: {', '.join(names)})")
        if not Path(path).expanduser().is_file():
            raise UsageError(f"--space {name}={path}: no such file; give a sound-space file written by 'aego train'")
        for key in keys:
            resolved[key] = str(Path(path).expanduser())
    return resolved


def _import(module: str, what: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and (exc.name == module or module.startswith(exc.name + ".") or exc.name.startswith("aego")):
            raise UsageError(f"{what} ({module}) is not available in this build, so the piece cannot run") from None
        raise


def _output_device_present() -> bool:
    """Whether PortAudio has a default output device, asked in a throw-away process (a fraction of a
    second; PortAudio stays out of this process, where the engine's device process owns it)."""
    import subprocess

    probe = "import sounddevice as sd, sys; sys.exit(0 if sd.query_devices(kind='output') else 1)"
    try:
        done = subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired):
        return True  # cannot tell: let the engine try
    return done.returncode == 0


def _process_age() -> float:
    """Seconds since this process started (Linux /proc), for the time-to-first-sound figure."""
    try:
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return 0.0


def latent_target(projection: Any, u: np.ndarray, bounds: np.ndarray | None) -> np.ndarray:
    """Normalised coordinates ``u (k,)`` in ``projection`` -> the latent target ``(d,)`` float32, clipped to the
    trained range ``bounds (d, 2)``: the corners of an ICA box lie far outside it on some latent axes (ICA is
    not a rotation), where the decoder has never been and the engine would have to clamp."""
    z = np.asarray(projection.to_latent(projection.denormalise(u)), dtype=np.float32)
    if bounds is not None:
        z = np.clip(z, bounds[:, 0], bounds[:, 1])
    return z


class Runner:
    """One run of the piece. ``Runner(config).run()`` returns the exit status (0)."""

    def __init__(self, config: RunConfig) -> None:
        if config.mode not in MODES:
            raise ValueError(f"unknown mode {config.mode}")
        self.config = config
        self.t_process = time.monotonic() - _process_age()
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self.ended_by: str | None = None
        self.notices: list[str] = []
        self.first_sound_s: float | None = None
        self.actions = 0
        self.rewards = 0
        self.sections_played: list[str] = []
        self.last_reward: tuple[float, str] | None = None
        self.engine: Any = None
        self.hub: Any = None
        self.explorer: Any = None
        self.pacer: Any = None
        self.visuals: Any = None
        self.console: Any = None
        self.midi: Any = None
        self.osc: Any = None
        self.session: Session | None = None
        self._previous: dict = {}
        self._frame_keys: list[Any] = []
        self.operator_gain = 1.0
        self._visuals_stats: dict = {}
        self._nonfinite: set[str] = set()  # reward sources that sent NaN or inf (logged once each)
        self._engine_said: set[str] = set()  # engine errors already said to the operator

    # -- preparation: nothing sounds until all of this has passed ----------------------------------
    def prepare(self) -> None:
        cfg = self.config
        state = None
        if cfg.resume:
            state = self._read_resume(cfg.resume)
            self._previous = state
            score_ref = state.get("score_path") or cfg.score
            overrides = [tuple(x) for x in state.get("overrides", [])] + list(cfg.spaces)
        else:
            score_ref, overrides = cfg.score, list(cfg.spaces)
        self.score: Score = load_score(score_ref)
        self.overrides = overrides
        self.space_paths = resolve_spaces(self.score, overrides)  # type: ignore[arg-type]
        self.engine_mod = _import("aego.engine", "the synthesis engine")
        for key, path in self.space_paths.items():
            if path not in ("synthetic", "orchestral") and not Path(path).is_file():
                raise UsageError(f"the space '{key}' of the score is not a file: {path}")
        self.sensors_mod = _import("aego.sensors.hub", "the sensor input") if cfg.args is not None else None
        auto_cue = cfg.mode in ("play", "install")
        loop = True if cfg.mode == "install" else None
        # an installation runs for days: a held fixed point moves a section on (until = "fixed-point") but
        # never ends the run
        self.scheduler = Scheduler(self.score, cfg.time_scale, auto_cue=auto_cue, loop=loop,
                                   ending=cfg.mode != "install")
        self._resume_state = state
        if cfg.resume:
            self.folder = Path(cfg.resume)
        else:
            from aego.paths import new_session_dir

            self.folder = Path(cfg.log) if cfg.log else new_session_dir()
        self.seed = int(cfg.seed) if cfg.seed is not None else int.from_bytes(os.urandom(4), "little") % 2**31
        if state is not None and cfg.seed is None:
            self.seed = int(state.get("seed", self.seed))

    def load_spaces(self) -> None:
        """Load every space of the score and check each section's dims against it (before any sound)."""
        space_mod = _import("aego.space", "the sound spaces")
        self.spaces: dict[str, Any] = {}
        for key in dict.fromkeys(s.space for s in self.score.sections):
            self.spaces[key] = space_mod.SoundSpace.load(self.space_paths[key])
        for i, s in enumerate(self.score.sections):
            d = self.spaces[s.space].latent_dim
            if s.dims > d:
                raise ScoreError(f"{self.score.path}: 'section[{i}] ({s.name}).dims' must be at most {d}, the latent "
                                 f"size of the space '{s.space}' ({self.space_paths[s.space]}), got {s.dims}")
        self.agent_mod = _import("aego.agent", "the explorer")
        self.max_dims = self.agent_mod.AgentConfig().max_dims
        for i, s in enumerate(self.score.sections):
            if s.dims > self.max_dims:
                raise ScoreError(f"{self.score.path}: 'section[{i}] ({s.name}).dims' must be at most "
                                 f"{self.max_dims} (the explorer's limit), got {s.dims}")

    def _read_resume(self, folder: str) -> dict:
        import json

        path = Path(folder) / "state.json"
        if not Path(folder).is_dir():
            raise UsageError(f"--resume {folder}: no such folder; give the session folder of the interrupted run")
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError(f"--resume {folder}: no state.json in it, so it is not a session folder ægo can "
                             "continue") from None
        except (OSError, ValueError) as exc:
            raise UsageError(f"--resume {folder}: state.json is unreadable ({exc}); start a new session") from None
        if not isinstance(state, dict) or "scheduler" not in state:
            raise UsageError(f"--resume {folder}: state.json is not a resume state; start a new session")
        return state

    # -- the run ---------------------------------------------------------------------------------
    def run(self) -> int:
        self.prepare()
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        in_main = threading.current_thread() is threading.main_thread()
        if in_main:
            signal.signal(signal.SIGINT, self._on_signal)
            signal.signal(signal.SIGTERM, self._on_signal)
        try:
            self._start()
            self._loop()
        finally:
            self._finish()
            if in_main:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
        return 0

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self.ended_by is None:
            self.ended_by = "signal"
        self._stop.set()

    def request_stop(self, ended_by: str = "stop") -> None:
        if self.ended_by is None:
            self.ended_by = ended_by
        self._stop.set()

    def say(self, message: str) -> None:
        """A notice for the operator: stderr (when there is no console) and the console."""
        self.notices.append(message)
        del self.notices[:-20]
        if self.console is None or not self.console.enabled:
            print(f"aego {self.config.mode}: {message}", file=sys.stderr, flush=True)

    def _disk_warning(self, message: str) -> None:
        """A session-folder problem: always on stderr, and in the console when there is one."""
        print(message, file=sys.stderr, flush=True)
        if self.console is not None and self.console.enabled:
            self.say(message)

    def _start(self) -> None:
        cfg = self.config
        first = self.score.sections[0] if self._resume_state is None else self._resume_section()
        # The engine process takes seconds to come up: start it now, silent (gain 0), and load and
        # check the spaces meanwhile; it is heard only once all of that passed.
        box: dict[str, Any] = {}
        box["lock"] = threading.Lock()
        wav_existed = cfg.audio.startswith("file:") and Path(cfg.audio[5:]).exists()
        starter = threading.Thread(target=self._engine_thread, args=(first, cfg.audio, box), name="aego-engine-start",
                                   daemon=True)
        starter.start()
        try:
            self.load_spaces()
        except BaseException:
            # refused: say so now, not once the engine is up; the engine thread stops what it started
            # (and if this process ends first, its daemon processes go with it)
            with box["lock"]:
                box["abandoned"] = True
            # the engine may still be coming up: end its process as soon as there is one (quietly), so that
            # start() gives up at once and nothing more is written; then stop whatever did start
            deadline = time.monotonic() + 60.0
            while starter.is_alive() and time.monotonic() < deadline:
                process = getattr(box.get("starting"), "_process", None)
                if process is not None and box.get("engine") is None:
                    with contextlib.suppress(Exception):
                        process.terminate()
                starter.join(0.05)
            if box.get("engine") is not None:
                with contextlib.suppress(Exception):
                    box["engine"].stop()
            wav = cfg.audio[5:] if cfg.audio.startswith("file:") else None
            if wav and not wav_existed:
                with contextlib.suppress(OSError):
                    Path(wav).unlink()  # only the silence written while the checks ran
            raise
        starter.join()
        self.engine = box.get("engine")
        self.audio = box.get("audio", cfg.audio)
        if "no_device" in box:
            self.say(f"no audio device: writing the sound to {box['no_device'][5:]}")
        if "error" in box:
            self._engine_failed(box["error"], first)
        rotate = ROTATE_BYTES if cfg.mode == "install" else None
        self.session = Session(self.folder, resume=cfg.resume is not None, rotate_bytes=rotate, keep=ROTATE_KEEP,
                               warn=self._disk_warning)
        for notice in self.notices:
            self.session.log("cue", what="notice", message=notice)
        self._sound_on()
        # the explorer is made after the sound is on: making it costs seconds of CPU (torch's optimiser
        # imports its compiler on first use) that would otherwise slow the engine's start on a small machine
        agent_config = self.agent_mod.AgentConfig(period=first.period, step=first.step)
        self.explorer = self.agent_mod.make_explorer(cfg.agent, agent_config, self.seed)
        from aego.osc_out import OscOut

        self.osc = OscOut(*cfg.osc_send)
        self._start_hub()
        agent_restored = False
        if self._resume_state is not None:
            agent_restored = bool(self.explorer.load(self.folder / AGENT_FILE))
            for message in self.explorer.messages:
                self.say(message)
        self._start_visuals()
        from aego.console import Console
        from aego.operator import KEY_HELP, MidiInput, Operator, OperatorState
        from aego.sensors.keyboard import KeyboardReward

        self.console = Console(cfg.console)
        self._console_keys = list(KEY_HELP)
        if cfg.mode == "rehearse":
            self._console_keys = [("↑ + p", "like"), ("↓ - m", "dislike"), *KEY_HELP]
        self.operator = Operator(OperatorState(period=first.period, gain=self.operator_gain),
                                 [s.name for s in self.score.sections])
        self.keyboard = KeyboardReward()
        want_midi = cfg.midi or ("auto" if cfg.mode == "perform" else None)
        self.midi = MidiInput(want_midi, time.monotonic)
        ok, reason = self.midi.open()
        if ok or cfg.midi:
            self.say(reason)
        self.console.start()
        # the position: full normalised coordinates in the current space's projection
        d = self.spaces[first.space].latent_dim
        self.space_key: str | None = None
        self.projection = None
        self.u = np.full(d, 0.5, dtype=np.float64)
        self.dims = first.dims
        self.latent = np.zeros(d, dtype=np.float32)
        self.section: Section = first
        now = time.monotonic()
        self.t_start = now
        if self._resume_state is not None:
            st = self._resume_state
            self.actions = int(st.get("actions", 0))
            self.rewards = int(st.get("rewards", 0))
            self.sections_played = list(st.get("sections", []))
            u = np.asarray(st.get("u", []), dtype=np.float64)
            if st.get("space_key") in self.spaces and u.shape == (self.spaces[st["space_key"]].latent_dim,):
                self.space_key = st["space_key"]
                self.projection = self.spaces[self.space_key].projection(st.get("projection", first.projection))
                self.u = np.clip(u, 0.0, 1.0)
            self.session.log("cue", what="resume", from_t=round(self.session.t_offset, 4),
                             section=st["scheduler"].get("section"), agent_restored=agent_restored)
            self.agent_restored = agent_restored
            transition = self.scheduler.start(now, st["scheduler"])
        else:
            self.agent_restored = False
            self.session.log("cue", what="start", mode=cfg.mode, score=self.score.name, score_path=self.score.path,
                             seed=self.seed, agent=cfg.agent, time_scale=cfg.time_scale,
                             spaces={k: self.space_paths[k] for k in self.spaces},
                             sample_rate=self._audio_stats().get("sample_rate"), audio=self.audio,
                             first_sound_s=self.first_sound_s)
            transition = self.scheduler.start(now)
        self._apply(transition, now)
        # What is made by now lives as long as the run (torch, numba, the spaces, the explorer): a full garbage
        # collection would scan it all, 0.1-0.2 s holding the GIL, and with it the explorer's pacer, every
        # few tens of seconds (0.5 s pauses of the explorer in the hour-long soak). Frozen, collections scan
        # only what is new.
        gc.collect()
        gc.freeze()
        pacer_cls = self.agent_mod.Pacer
        self.pacer = pacer_cls(self._tick, self.section.period)
        self.pacer.start()
        self._save_agent()
        self._write_state(now)

    def _resume_section(self) -> Section:
        st = self._resume_state["scheduler"]  # type: ignore[index]
        try:
            return self.score.sections[self.score.index_of(st.get("section", ""))]
        except KeyError:
            return self.score.sections[min(int(st.get("index", 0)), len(self.score.sections) - 1)]

    def _engine_thread(self, first: Section, audio: str, box: dict) -> None:
        try:
            if self.config.mode == "play" and audio == "default" and not _output_device_present():
                # no device: write the sound into the session folder straight away (a failed device start
                # would cost a whole engine start)
                self._made_folder = not self.folder.exists()
                self.folder.mkdir(parents=True, exist_ok=True)
                audio = f"file:{self.folder / 'audio.wav'}"
                box["no_device"] = audio
            box["audio"] = audio
            engine = self._make_engine(self.engine_mod, audio, first, box)
            with box["lock"]:
                abandoned = box.get("abandoned", False)
                box["engine"] = engine
            if abandoned:
                engine.stop()
        except BaseException as exc:  # handed to the main thread, which decides
            box["error"] = exc

    def _engine_failed(self, exc: BaseException, first: Section) -> None:
        """The engine did not start: fall back to a file (play, no device) or say why in one line."""
        cfg = self.config
        no_device = type(exc).__name__.startswith("DeviceUnavailable")
        if isinstance(exc, UsageError):
            raise exc
        fallback = cfg.mode == "play" and cfg.audio == "default" and isinstance(exc, RuntimeError | OSError)
        if not (no_device or fallback):
            raise UsageError(f"the synthesis engine did not start ({exc})") from None
        if cfg.mode != "play" or cfg.audio != "default":
            raise UsageError(f"the audio output '{cfg.audio}' cannot be opened ({exc}); choose another with "
                             "--audio default|jack|null|file:OUT.wav") from None
        self.folder.mkdir(parents=True, exist_ok=True)
        wav = self.folder / "audio.wav"
        self.say(f"no audio device ({exc}); writing the sound to {wav}")
        self.audio = f"file:{wav}"
        try:
            self.engine = self._make_engine(self.engine_mod, self.audio, first)
        except Exception as again:
            raise UsageError(f"the synthesis engine did not start ({again})") from None

    def _sound_on(self) -> None:
        """Raise the gain from 0 and note when the first non-silent frame comes out."""
        self.engine.set_gain(self.operator_gain)
        deadline = time.monotonic() + 3.0
        while self.first_sound_s is None and time.monotonic() < deadline:
            spectra = self.engine.spectra()
            if len(spectra) and float(np.max(spectra)) > 1e-6:
                self.first_sound_s = time.monotonic() - self.t_process
            else:
                time.sleep(0.005)

    def _make_engine(self, mod: Any, audio: str, first: Section, box: dict | None = None) -> Any:
        config_cls = mod.EngineConfig
        names = {f.name for f in dataclasses.fields(config_cls)} if dataclasses.is_dataclass(config_cls) else set()
        kwargs: dict[str, Any] = {"audio": audio}
        if "buffer_ms" in names:
            kwargs["buffer_ms"] = self.config.buffer_ms
        if "gain" in names:
            self.operator_gain = float(config_cls().gain)
            kwargs["gain"] = 0.0  # silent until the spaces and the score are checked (see _start)
        engine = mod.Engine(config_cls(**kwargs), space=self.space_paths[first.space])
        if box is not None:
            box["starting"] = engine
        try:
            engine.start()
        except BaseException:
            with contextlib.suppress(Exception):
                engine.stop()
            raise
        return engine

    def _start_hub(self) -> None:
        args = self.config.args
        if args is None:
            self.hub = None
            return
        mod = self.sensors_mod
        # raw sensor streams are recorded for performances; an installation runs for days and would fill the
        # disk (about 1.7 GB a day for two IMUs at 200 Hz), so it records none
        record_in = None if self.config.mode == "install" else self.folder
        self.hub = mod.InputHub(mod.config_from_args(args, session_dir=record_in))
        self.hub.start()

    def _start_visuals(self) -> None:
        cfg = self.config
        self.visuals = None
        if not cfg.window and not cfg.frames:
            return
        visuals_mod = _import("aego.visuals", "the visuals")
        space = self.spaces[self.section.space] if hasattr(self, "section") else next(iter(self.spaces.values()))
        stats = self._audio_stats()
        # the engine's spectrum frames are in the first space's transform
        vc = visuals_mod.VisualsConfig(window=cfg.window, display=cfg.display, fullscreen=cfg.fullscreen,
                                       frames_dir=cfg.frames, sample_rate=float(space.transform.sample_rate),
                                       bins=int(stats.get("spectrum_bins") or space.transform.bins))
        self.visuals = visuals_mod.Visuals(vc)
        ok, reason = self.visuals.open()
        if not ok and cfg.window:
            self.say(reason)
        self._visuals_mod = visuals_mod

    # -- score transitions -------------------------------------------------------------------------
    def _apply(self, transition: Transition, now: float) -> None:
        if transition.kind == "end":
            self.request_stop(transition.ended_by or "duration")
            return
        sec = transition.section
        space = self.spaces[sec.space]
        d = space.latent_dim
        with self._lock:
            new_space = sec.space != self.space_key
            projection = space.projection(sec.projection)
            if new_space:
                u = np.full(d, 0.5)
                n = min(d, len(self.u))
                u[:n] = self.u[:n]
            elif self.projection is None or projection.kind != self.projection.kind:
                u = projection.normalise(projection.to_coords(self.latent)).astype(np.float64)
            else:
                u = self.u.copy()
            u = np.clip(u, 0.0, 1.0)
            dims = min(self.scheduler.dims, d, self.max_dims)
            self.u, self.projection, self.dims, self.section = u, projection, dims, sec
            previous_key, self.space_key = self.space_key, sec.space
            self.latent = self._to_latent(u)
            latent = self.latent.copy()
        if new_space and previous_key is not None:
            self.engine.set_space(self.space_paths[sec.space], sec.crossfade)
        if self.explorer is not None:
            if new_space:
                self.explorer.set_space(sec.space)
            self.explorer.configure(dims, position=u[:dims], step=sec.step)
            self.explorer.set_period(sec.period)
        if self.pacer is not None:
            self.pacer.set_period(sec.period)
        self.operator.state.period = sec.period
        self.engine.set_target(latent)
        if not (transition.reason == "resume" and self.sections_played[-1:] == [sec.name]):
            self.sections_played.append(sec.name)
        assert self.session is not None
        self.session.log("section", name=sec.name, space=getattr(space, "name", sec.space), dims=dims,
                         projection=sec.projection, index=transition.index, reason=transition.reason,
                         space_key=sec.space, path=self.space_paths[sec.space], crossfade=sec.crossfade,
                         period=sec.period, step=sec.step, latent=np.round(latent.astype(np.float64), 6),
                         z=np.round(u[:dims], 6))
        self.osc.section(sec.name, dims)
        if self.visuals is not None:
            self._set_map(space, projection)
        self._save_agent()

    def _set_map(self, space: Any, projection: Any) -> None:
        with contextlib.suppress(Exception):
            points = np.asarray(space.points)[:2000]
            coords = projection.normalise(projection.to_coords(points))
            if coords.shape[1] >= 2:
                self.visuals.set_map(np.clip(coords[:, :2], 0, 1))

    def _to_latent(self, u: np.ndarray) -> np.ndarray:
        space = self.spaces.get(self.space_key) if self.space_key is not None else None
        return latent_target(self.projection, u, space.latent_bounds if space is not None else None)

    # -- the pacer thread: one action ----------------------------------------------------------------
    def _tick(self, now: float) -> None:
        """Runs on the pacer's thread every period: act, move, send (no disk or blocking work)."""
        action = self.explorer.act(now)
        if action is None:
            return
        with self._lock:
            k = len(action.position)
            if k > self.dims or k > len(self.u):
                return  # a stale action from before a dims change
            self.u[:k] = action.position
            self.latent = self._to_latent(self.u)
            latent = self.latent.copy()
            z = self.u[:k].copy()
            name = self.section.name
            self.actions += 1
        self.engine.set_target(latent)
        assert self.session is not None
        self.session.log("action", dim=int(action.dim), dir=int(action.direction), z=np.round(z, 6),
                         latent=np.round(latent.astype(np.float64), 6), section=name)
        self.osc.action(action.dim, action.direction, z, latent)

    def _jump(self, position: np.ndarray, what: str) -> None:
        """The explorer jumped (explore, back, forward): move there and log it."""
        with self._lock:
            k = min(len(position), self.dims)
            self.u[:k] = np.asarray(position, dtype=np.float64)[:k]
            self.latent = self._to_latent(self.u)
            latent = self.latent.copy()
            z = self.u[:k].copy()
        self.engine.set_target(latent)
        self.session.log("cue", what=what, z=np.round(z, 6),  # type: ignore[union-attr]
                         latent=np.round(latent.astype(np.float64), 6))

    # -- inputs -------------------------------------------------------------------------------------
    def _reward(self, value: float, source: str, continuous: bool, now: float) -> None:
        v = float(value)
        if not np.isfinite(v):
            # checked before clipping: min(1.0, nan) is 1.0, which would turn a broken value into praise
            if source not in self._nonfinite:
                self._nonfinite.add(source)
                self.session.log("error", source=source, message=f"a reward that is not a number ({v}) "  # type: ignore
                                 "was dropped (said once per source)")
            return
        v = max(-1.0, min(1.0, v))
        used = self.explorer.stream(v, now) if continuous else self.explorer.feedback(v, now, source)
        if not used:
            return
        self.rewards += 1
        self.last_reward = (v, source)
        fields: dict[str, Any] = {"value": round(v, 4), "source": source}
        if continuous:
            fields["continuous"] = True
        self.session.log("reward", **fields)  # type: ignore[union-attr]
        self.osc.reward(v)

    def _control(self, address: str, args: tuple, now: float) -> None:
        name = address.rsplit("/", 1)[-1]
        log = self.session.log  # type: ignore[union-attr]
        try:
            if name == "reward":
                self._reward(float(args[0]), "osc", False, now)
                return
            if name == "zone":
                self.explorer.zone(float(args[0]), now)
            elif name == "explore":
                self._jump(self.explorer.explore(now), "explore")
                return
            elif name == "back":
                self._jump(self.explorer.back(), "back")
                return
            elif name == "forward":
                self._jump(self.explorer.forward(), "forward")
                return
            elif name == "pause":
                paused = bool(int(args[0]))
                self.explorer.pause(paused)
                self.operator.state.paused = paused
                if self.scheduler.fixed_point is not None:
                    self.scheduler.fixed_point.reset()
            elif name == "cue":
                log("cue", what="cue")
                self._apply(self.scheduler.cue(now), now)
                return
            elif name == "section":
                try:
                    transition = self.scheduler.goto(str(args[0]), now)
                except KeyError:
                    names = ", ".join(s.name for s in self.score.sections)
                    log("error", source="control", message=f"/aego/section: no section '{args[0]}' ({names})")
                    self.say(f"no section '{args[0]}' in the score")
                    return
                log("cue", what="section", value=str(args[0]))
                self._apply(transition, now)
                return
            elif name == "dims":
                self._set_dims(int(args[0]), now)
                return
            elif name == "period":
                period = min(10.0, max(0.005, float(args[0])))
                self.pacer.set_period(period)
                self.explorer.set_period(period)
                self.operator.state.period = period
                args = (period,)
            elif name == "mute":
                muted = bool(int(args[0]))
                self.engine.set_mute(muted)
                self.operator.state.muted = muted
            elif name == "gain":
                gain = min(4.0, max(0.0, float(args[0])))
                self.engine.set_gain(gain)
                self.operator.state.gain = gain
                args = (gain,)
            elif name == "stop":
                log("cue", what="stop")
                self.request_stop("stop")
                return
            elif name == "notice":
                self.say(str(args[0]))
                return
            else:
                log("error", source="control", message=f"unknown control {address}")
                return
        except (IndexError, TypeError, ValueError) as exc:
            log("error", source="control", message=f"{address} {list(args)!r}: {exc}")
            return
        log("cue", what=name, value=args[0] if len(args) == 1 else list(args))

    def _set_dims(self, dims: int, now: float) -> None:
        d = len(self.u)
        n = max(1, min(int(dims), d, self.max_dims))
        self.scheduler.set_dims(n)
        with self._lock:
            self.dims = n
            position = self.u[:n].copy()
        self.explorer.configure(n, position=position)
        self.session.log("cue", what="dims", value=n)  # type: ignore[union-attr]

    def _inputs(self, now: float) -> None:
        from aego.sensors.events import Control, Reward, SensorEvent

        items: list[Any] = []
        if self.hub is not None:
            items.extend(self.hub.poll())
        keys: list[tuple[str, float]] = []
        if self.visuals is not None:
            for ev in self._frame_keys:
                if ev.key == "quit":
                    self.request_stop("stop")
                elif ev.down:
                    keys.append((ev.key, ev.t))
                else:
                    items.extend(self.keyboard.release(ev.key, ev.t))
            self._frame_keys = []
        if self.console is not None:
            keys.extend(self.console.keys())
        for key, t in keys:
            if self.keyboard.handles(key):
                items.extend(self.keyboard.press(key, t))
                if self.visuals is None or not self.visuals.window_open:
                    # a terminal sends no key releases: a tap is a tap
                    self.keyboard.release(key, t)
            else:
                items.extend(self.operator.key(key, t))
        items.extend(self.keyboard.tick(now))
        if self.midi is not None:
            for message, t in self.midi.poll():
                items.extend(self.operator.midi(message, t))
        for item in items:
            if isinstance(item, Reward):
                self._reward(item.value, item.source, item.continuous, now)
            elif isinstance(item, Control):
                self._control(item.address, tuple(item.args), now)
            elif isinstance(item, SensorEvent):
                self.session.log("sensor", id=item.sensor_id, state=item.state,  # type: ignore[union-attr]
                                 detail=item.detail)
                self.say(f"sensor {item.sensor_id}: {item.state} {item.detail}".strip())

    # -- the main loop --------------------------------------------------------------------------------
    def _loop(self) -> None:
        cfg = self.config
        next_state = next_summary = time.monotonic()
        next_agent = time.monotonic() + AGENT_EVERY_S
        saved_rewards = self.rewards
        frame_s = 1 / 60 if self.visuals is not None and self.visuals.window_open else 0.02
        while not self._stop.is_set():
            now = time.monotonic()
            try:
                self._inputs(now)
                if self._stop.is_set():
                    break
                for transition in self.scheduler.update(now):
                    self._apply(transition, now)
                if not self.explorer.paused:
                    with self._lock:
                        position = self.u[: self.dims].copy()
                    held = self.scheduler.observe(position, now)
                    if held is not None:
                        self.session.log("cue", what="fixed-point", z=position)  # type: ignore[union-attr]
                        self._apply(held, now)
                if cfg.duration is not None and now - self.t_start >= cfg.duration:
                    self.request_stop("duration")
                self._engine_and_visuals(now)
                self._check_pacer()
                self._update_console(now)
                if now >= next_state:
                    self._write_state(now)
                    next_state = now + STATE_EVERY_S
                if now >= next_summary:
                    self.session.write_summary(self.summary())  # type: ignore[union-attr]
                    next_summary = now + SUMMARY_EVERY_S
                # what the explorer learned is saved within 2 s of a reward, its wandering every 10 s
                if now >= next_agent or (self.rewards != saved_rewards and now >= next_agent - AGENT_EVERY_S + 2.0):
                    saved_rewards = self.rewards
                    self._save_agent()
                    next_agent = now + AGENT_EVERY_S
                # paced even with a window: a display without vsync (Xvfb, some projectors) would let the
                # loop spin and take the interpreter from the pacer and the learner
                self._stop.wait(max(0.0, frame_s - (time.monotonic() - now)))
            except Exception as exc:  # a bug in one step must not end the performance: log it, go on
                self._loop_error(exc)
                self._stop.wait(0.02)

    def _check_pacer(self) -> None:
        """An action that failed on the pacer thread is counted there; log each new failure once here."""
        errors = self.pacer.errors
        if errors != getattr(self, "_pacer_errors", 0):
            self._pacer_errors = errors
            message = self.pacer.last_error
            if message != getattr(self, "_last_pacer_error", None):
                self._last_pacer_error = message
                self.session.log("error", source="pacer", message=message)  # type: ignore[union-attr]

    def _loop_error(self, exc: Exception) -> None:
        import traceback

        where = traceback.extract_tb(exc.__traceback__)[-1]
        message = f"{type(exc).__name__}: {exc} ({Path(where.filename).name}:{where.lineno})"
        if message != getattr(self, "_last_loop_error", None):  # the same failure every frame is logged once
            self._last_loop_error = message
            self.session.log("error", source="runner", message=message)  # type: ignore[union-attr]
            self.say(f"error: {message}")

    def _engine_and_visuals(self, now: float) -> None:
        spectra = self.engine.spectra()
        if self.first_sound_s is None and len(spectra) and float(np.max(spectra)) > 1e-6:
            self.first_sound_s = now - self.t_process
        for event in self.engine.events():
            self._log_external(event, "engine")
        if self.visuals is not None:
            overlay = self._overlay(now)
            self._frame_keys = self.visuals.frame(spectra, overlay)
            for event in self.visuals.events():
                self._log_external(event, "visuals")

    def _log_external(self, event: Any, source: str) -> None:
        if not isinstance(event, dict):
            event = {"type": "error", "message": str(event)}
        fields = {k: v for k, v in event.items() if k not in ("t", "type")}
        kind = str(event.get("type", "error"))
        fields.setdefault("source", source)
        self.session.log(kind, **fields)  # type: ignore[union-attr]
        what = str(fields.get("what", kind))
        once = kind == "error" or what == "audio starved"  # said once per kind: these can come every second
        if source == "engine" and (kind == "audio" or kind == "error") and not (once and what in self._engine_said):
            # the operator must know the sound card went away (or came back), not only the log; an engine
            # error is said once per kind (a refused target could come every period)
            self._engine_said.add(what)
            detail = f" ({fields['detail']})" if fields.get("detail") else ""
            extra = {"device lost": "; the piece goes on and the output is tried again every second",
                     "device back": f" after {fields.get('after_s', '?')} s",
                     "audio starved": f" ({fields.get('blocks', '?')} blocks; every one is in the session log; "
                                      "a longer --buffer-ms rides over a busy computer)"}.get(what, "")
            self.say(f"audio: {what}{detail}{extra}")

    def _overlay(self, now: float) -> Any:
        vm = self._visuals_mod
        sec = self.section
        stats = self._audio_stats()
        last = self.explorer.last_action
        reward = self.last_reward
        status = []
        if self.explorer.paused:
            status.append("paused")
        if self.operator.state.muted:
            status.append("muted")
        keys: tuple[str, ...] = ()
        if self.config.mode == "rehearse":
            from aego.sensors.keyboard import LEGEND

            keys = tuple(f"{k}  {v}" for k, v in LEGEND)
        extra = {}
        with contextlib.suppress(Exception):
            info = self.explorer.overlay()
            if "novelty" in info:
                extra["novelty"] = float(info["novelty"])
            if "estimates" in info:
                extra["estimates"] = tuple(float(x) for x in info["estimates"])
        return vm.OverlayState(
            mode=self.config.mode, elapsed=now - self.t_start, space=sec.space, section=sec.name,
            projection=sec.projection, dims=self.dims, period=self.pacer.period if self.pacer else sec.period,
            step=self.actions, action=(last.dim, last.direction) if last is not None else None,
            position=tuple(float(x) for x in self.u[: self.dims]),
            reward=reward[0] if reward else None, reward_source=reward[1] if reward else "",
            sensors=self._sensor_text(), audio_load=stats.get("load") if isinstance(stats.get("load"), float)
            else None, underflows=int(stats.get("underflows", 0) or 0), status=tuple(status), keys=keys, **extra)

    def _sensor_text(self) -> str:
        if self.hub is None:
            return ""
        rows = self.hub.sensors()
        return " · ".join(f"{r.get('id')} {'stale' if r.get('stale') else 'ok'}" for r in rows[:4])

    def _update_console(self, now: float) -> None:
        if self.console is None or not self.console.enabled:
            return
        from aego.console import ConsoleState

        sec = self.section
        remaining = self.scheduler.remaining(now)
        fp = self.scheduler.fixed_point
        hold = fp.progress(now) if fp is not None and (
            sec.name in (self.score.end.sections if self.score.end else ()) or sec.until) else 0.0
        reward = self.last_reward
        state = ConsoleState(
            mode=self.config.mode, score=self.score.name, section=sec.name, section_index=self.scheduler.index,
            sections=len(self.score.sections), elapsed=self.scheduler.elapsed(now), remaining=remaining,
            waiting_cue=remaining is None, space=f"{sec.space} ({Path(self.space_paths[sec.space]).stem})",
            projection=sec.projection, dims=self.dims, period=self.pacer.period, position=tuple(self.u[: self.dims]),
            actions=self.actions, reward=reward[0] if reward else None, reward_source=reward[1] if reward else "",
            rewards=self.rewards, sensors=[{"id": r.get("id"), "state": "stale" if r.get("stale") else r.get("role"),
                                            "rate_hz": r.get("rate_hz") or 0.0} for r in
                                           (self.hub.sensors() if self.hub else [])],
            audio=self._audio_stats(), paused=self.explorer.paused, muted=self.operator.state.muted,
            gain=self.operator.state.gain, hold=hold, run_time=now - self.t_start, notices=list(self.notices),
            session=str(self.folder) + (f"  [red]{self.session.error}[/red]" if self.session.error else ""),
            keys=self._console_keys)
        self.console.update(state)

    # -- state, summary, end ------------------------------------------------------------------------
    def _audio_stats(self) -> dict:
        if self.engine is None:
            return {}
        try:
            return dict(self.engine.stats())
        except Exception:
            return {}

    def _save_agent(self) -> None:
        if self.explorer is None:
            return
        try:
            self.explorer.save(self.folder / AGENT_FILE)
        except Exception as exc:
            self.session.log("error", source="agent", message=f"cannot save the explorer: {exc}")  # type: ignore

    def _write_state(self, now: float) -> None:
        with self._lock:
            u = self.u.copy()
            space_key = self.space_key
            projection = self.projection.kind if self.projection is not None else None
        self.session.write_state({  # type: ignore[union-attr]
            "version": 1, "t": self.session.now(), "mode": self.config.mode,  # type: ignore[union-attr]
            "score_path": self.score.path, "overrides": [list(x) for x in self.overrides],
            "spaces": {k: self.space_paths[k] for k in self.spaces}, "seed": self.seed, "agent": self.config.agent,
            "scheduler": self.scheduler.state(now), "space_key": space_key, "projection": projection, "u": u,
            "dims": self.dims, "actions": self.actions, "rewards": self.rewards, "sections": self.sections_played,
            "agent_file": AGENT_FILE,
        })

    def summary(self) -> dict:
        """The session's summary.json (CONTRACT §3 keys, plus details)."""
        stats = self._audio_stats()
        audio = {k: stats.get(k) for k in ("backend", "sample_rate", "blocks", "frames", "underflows")}
        audio.update({k: v for k, v in stats.items() if k not in audio and isinstance(v, int | float | str)})
        counters = self.hub.counters() if self.hub is not None else {}
        osc = {"received": int(counters.get("received", 0)), "malformed": int(counters.get("malformed", 0)),
               **{k: v for k, v in counters.items() if k not in ("received", "malformed")}}
        agent = {}
        with contextlib.suppress(Exception):
            agent = self.explorer.summary()
        session = self.session
        return {
            "duration_s": round(session.now(), 3) if session else 0.0,
            "actions": self.actions,
            "rewards": self.rewards,
            "sections": list(self.sections_played),
            "ended_by": self.ended_by,
            "audio": audio,
            "osc": osc,
            "agent": agent,
            "mode": self.config.mode,
            "score": self.score.name,
            "seed": self.seed,
            "time_scale": self.config.time_scale,
            "first_sound_s": self.first_sound_s,
            "errors": session.counts.get("error", 0) if session else 0,
            "pacer": self.pacer.stats() if self.pacer is not None else {},
            "osc_out": self.osc.counters() if self.osc is not None else {},
            "log": session.status() if session else {},
            "resumed": self.config.resume is not None,
            "visuals": self._visuals_stats or (self.visuals.stats() if self.visuals is not None else {"window": False}),
        }

    def _finish(self) -> None:
        if self.ended_by is None:
            self.ended_by = "signal" if sys.exc_info()[0] is KeyboardInterrupt else "stop"
        if self.pacer is not None:
            self.pacer.stop()
        if self.session is not None and self.engine is not None:
            self.session.log("end", ended_by=self.ended_by, fade_s=FADE_S)
        if self.engine is not None and self.session is not None:
            with contextlib.suppress(Exception):
                self.engine.fade_out(FADE_S)
                deadline = time.monotonic() + FADE_S + 0.1
                while time.monotonic() < deadline:
                    self.engine.spectra()
                    time.sleep(0.05)
        if self.session is not None:
            with contextlib.suppress(Exception):
                self._write_state(time.monotonic())
            self._save_agent()
        if self.visuals is not None:
            with contextlib.suppress(Exception):
                self._visuals_stats = self.visuals.stats()
        for part in (self.console, self.midi, self.visuals):
            if part is not None:
                with contextlib.suppress(Exception):
                    part.close() if hasattr(part, "close") else part.stop()
        if self.hub is not None:
            with contextlib.suppress(Exception):
                self.hub.stop()
        if self.session is None and getattr(self, "_made_folder", False):
            # the run never started: leave no half-made session folder behind
            with contextlib.suppress(Exception):
                self.engine.stop()
            with contextlib.suppress(OSError):
                (self.folder / "audio.wav").unlink(missing_ok=True)
                self.folder.rmdir()
        summary = self.summary() if self.session is not None else None
        if self.engine is not None:
            with contextlib.suppress(Exception):
                self.engine.stop()
            if summary is not None:
                stats = self._audio_stats()
                for k in ("blocks", "frames", "underflows"):
                    if k in stats:
                        summary["audio"][k] = stats[k]
        if self.explorer is not None:
            with contextlib.suppress(Exception):
                self.explorer.close()
        if self.osc is not None:
            self.osc.close()
        if self.session is not None:
            self.session.write_summary(summary)  # type: ignore[arg-type]
            self.session.close()
            print(f"aego {self.config.mode}: ended by {self.ended_by}; session in {self.folder}", file=sys.stderr)


def run_mode(args: Any, mode: str) -> int:
    """The body of ``aego play|perform|rehearse|install``."""
    return Runner(RunConfig.from_args(args, mode)).run()
