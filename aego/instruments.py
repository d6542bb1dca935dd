"""The orchestral plan of the thesis, rendered from a General MIDI soundfont with FluidSynth.

Twelve instruments, each over its real tessitura, at four dynamics (pp, p, mf, ff): one note per
(instrument, pitch, dynamic), held for :data:`HOLD` seconds, then released, with :data:`RELEASE`
seconds of release tail kept. The soundfont is loaded once and every note is rendered in-process
(libfluidsynth through pyfluidsynth), dry (no reverb, no chorus), at a fixed synthesiser gain so the
dynamics stay audible in the levels.

Ranges are the usual orchestration ranges (written pitch for the transposing instruments),
converted to sounding MIDI notes (C4 = 60):

==============  ===  =====================  =======================  =========
instrument      GM   written range          transposition            sounding
==============  ===  =====================  =======================  =========
English horn    70   B3–G6                  F, a fifth down          E3–C6
French horn     61   F#2–C6                 F, a fifth down          B1–F5
tenor trombone  58   E2–F5                  in C                     E2–F5
trumpet in C    57   F#3–D6                 in C                     F#3–D6
piano           1    A0–C8                  in C                     A0–C8
violin          41   G3–E7                  in C                     G3–E7
cello           43   C2–A5                  in C                     C2–A5
alto sax        66   Bb3–F6                 Eb, a major sixth down   Db3–Ab5
bassoon         71   Bb1–E5                 in C                     Bb1–E5
clarinet in Bb  72   E3–C7                  Bb, a major second down  D3–Bb6
flute           74   C4–D7                  in C                     C4–D7
oboe            69   Bb3–A6                 in C                     Bb3–A6
==============  ===  =====================  =======================  =========

(GM program numbers 1-based as in the GM table; the code stores them 0-based.)
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aego.errors import UsageError

SAMPLE_RATE = 22050
HOLD = 1.0
"""Seconds between note-on and note-off."""
RELEASE = 0.5
"""Seconds rendered after note-off (the release tail)."""
GAIN = 1.0
"""FluidSynth master gain, the same for every note (ff notes of FluidR3_GM peak at about -8 dBFS)."""

DEFAULT_SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")

DYNAMICS: dict[str, int] = {"pp": 33, "p": 49, "mf": 80, "ff": 112}
"""MIDI velocity of each dynamic (the common notation-software mapping: pp 33, p 49, mf 80, ff 112)."""


@dataclass(frozen=True)
class Instrument:
    """An instrument of the plan.

    Attributes:
        name: short identifier used in file names and metadata.
        program: GM program number, 0-based (0 = Acoustic Grand Piano).
        low, high: sounding range, MIDI notes, inclusive.
        written: the written range and transposition, for people.
    """

    name: str
    program: int
    low: int
    high: int
    written: str

    @property
    def pitches(self) -> range:
        return range(self.low, self.high + 1)


INSTRUMENTS: tuple[Instrument, ...] = (
    Instrument("english_horn", 69, 52, 84, "B3-G6 written, in F"),
    Instrument("french_horn", 60, 35, 77, "F#2-C6 written, in F"),
    Instrument("tenor_trombone", 57, 40, 77, "E2-F5"),
    Instrument("trumpet_c", 56, 54, 86, "F#3-D6, in C"),
    Instrument("piano", 0, 21, 108, "A0-C8"),
    Instrument("violin", 40, 55, 100, "G3-E7"),
    Instrument("cello", 42, 36, 81, "C2-A5"),
    Instrument("alto_sax", 65, 49, 80, "Bb3-F6 written, in Eb"),
    Instrument("bassoon", 70, 34, 76, "Bb1-E5"),
    Instrument("clarinet_bb", 71, 50, 94, "E3-C7 written, in Bb"),
    Instrument("flute", 73, 60, 98, "C4-D7"),
    Instrument("oboe", 68, 58, 93, "Bb3-A6"),
)
BY_NAME: dict[str, Instrument] = {i.name: i for i in INSTRUMENTS}


@dataclass(frozen=True)
class Note:
    """One sound of the orchestral set."""

    instrument: str
    program: int
    pitch: int
    dynamic: str
    velocity: int

    @property
    def f0(self) -> float:
        """Nominal fundamental, Hz (equal temperament, A4 = 440 Hz)."""
        return midi_to_hz(self.pitch)


def midi_to_hz(pitch: float) -> float:
    """Equal-tempered frequency of a MIDI note, A4 (69) = 440 Hz."""
    return 440.0 * 2.0 ** ((pitch - 69) / 12)


def note_name(pitch: int) -> str:
    """``60`` → ``"C4"`` (sharps)."""
    names = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
    return f"{names[pitch % 12]}{pitch // 12 - 1}"


def full_plan() -> list[Note]:
    """Every instrument × every pitch of its range × every dynamic, in that order."""
    return [
        Note(inst.name, inst.program, pitch, dyn, vel)
        for inst in INSTRUMENTS
        for pitch in inst.pitches
        for dyn, vel in DYNAMICS.items()
    ]


def random_plan(count: int, seed: int) -> list[Note]:
    """``count`` notes, each a uniformly random instrument, pitch within its range and dynamic."""
    rng = np.random.default_rng(seed)
    dyns = list(DYNAMICS)
    notes = []
    for _ in range(count):
        inst = INSTRUMENTS[int(rng.integers(len(INSTRUMENTS)))]
        pitch = int(rng.integers(inst.low, inst.high + 1))
        dyn = dyns[int(rng.integers(len(dyns)))]
        notes.append(Note(inst.name, inst.program, pitch, dyn, DYNAMICS[dyn]))
    return notes


def check_soundfont(path: str | os.PathLike | None) -> Path:
    """The soundfont to use, checked to exist, be readable and look like a SoundFont 2 file.

    Raises:
        UsageError: naming the path and how to fix it.
    """
    sf2 = Path(path) if path else DEFAULT_SOUNDFONT
    fix = "install the Debian package fluid-soundfont-gm (make setup) or pass --soundfont PATH.sf2"
    if not sf2.is_file():
        raise UsageError(f"soundfont {sf2} not found: {fix}")
    try:
        with open(sf2, "rb") as f:
            head = f.read(12)
    except OSError as exc:
        raise UsageError(f"soundfont {sf2} cannot be read ({exc.strerror}): {fix}") from None
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise UsageError(f"{sf2} is not a SoundFont 2 file: {fix}")
    return sf2


class NoteRenderer:
    """A FluidSynth synthesiser with one soundfont loaded, rendering single notes offline.

    Args:
        soundfont: path of a .sf2 file (checked with :func:`check_soundfont`).
        sample_rate: Hz.
        hold: seconds from note-on to note-off.
        release: seconds kept after note-off.
        gain: FluidSynth master gain.

    Use as a context manager, or call :meth:`close`. Not thread-safe.
    """

    def __init__(
        self,
        soundfont: str | os.PathLike | None = None,
        sample_rate: int = SAMPLE_RATE,
        hold: float = HOLD,
        release: float = RELEASE,
        gain: float = GAIN,
    ) -> None:
        self.soundfont = check_soundfont(soundfont)
        self.sample_rate = int(sample_rate)
        self.hold_samples = round(hold * sample_rate)
        self.release_samples = round(release * sample_rate)
        try:
            import fluidsynth
        except ImportError as exc:  # the module raises ImportError when libfluidsynth is missing
            raise UsageError(
                f"FluidSynth is not available ({exc}): install the Debian package libfluidsynth3 (make setup)"
            ) from None
        self._fl = fluidsynth
        self._synth = fluidsynth.Synth(
            gain=float(gain),
            samplerate=float(sample_rate),
            channels=16,
            **{"synth.reverb.active": 0, "synth.chorus.active": 0, "synth.cpu-cores": 1},
        )
        self._write_float = fluidsynth._fl.fluid_synth_write_float
        self._write_float.restype = ctypes.c_int
        self._write_float.argtypes = [
            ctypes.c_void_p, ctypes.c_int,
            ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
            ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
        ]
        self._sfid = self._synth.sfload(str(self.soundfont))
        if self._sfid < 0:
            self.close()
            raise UsageError(
                f"FluidSynth could not load the soundfont {self.soundfont}: "
                "install fluid-soundfont-gm (make setup) or pass --soundfont PATH.sf2"
            )
        self._program: int | None = None
        self._rendered = 0  # samples rendered so far, to keep notes on block boundaries

    def __enter__(self) -> NoteRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        synth = getattr(self, "_synth", None)
        if synth is not None:
            synth.delete()
            self._synth = None

    def render(self, note: Note) -> np.ndarray:
        """One note: note-on, ``hold`` seconds, note-off, ``release`` seconds.

        Returns:
            ``(hold_samples + release_samples,)`` float32 mono (mean of FluidSynth's stereo pair),
            not normalised (the velocity sets the level).

        Raises:
            UsageError: the soundfont has no preset for the note's GM program.
        """
        chan = 0
        if note.program != self._program:
            if self._synth.program_select(chan, self._sfid, 0, note.program) < 0:
                raise UsageError(
                    f"soundfont {self.soundfont} has no GM program {note.program + 1} ({note.instrument}): "
                    "use a complete General MIDI soundfont"
                )
            self._program = note.program
        self._synth.noteon(chan, note.pitch, note.velocity)
        sustain = self._samples(self.hold_samples)
        self._synth.noteoff(chan, note.pitch)
        tail = self._samples(self.release_samples)
        # Cut whatever still sounds so the next note starts from silence, and realign to FluidSynth's
        # 64-sample block: events take effect at the next block, so every note must start on a block
        # boundary to come out sample-identical whatever was rendered before it.
        self._synth.all_sounds_off(chan)
        self._samples(256 + (-(self._rendered + 256)) % 64)
        return np.concatenate([sustain, tail])

    def _samples(self, n: int) -> np.ndarray:
        left = np.zeros(n, dtype=np.float32)
        right = np.zeros(n, dtype=np.float32)
        # FluidSynth renders in 64-sample blocks internally; one call renders them all.
        status = self._write_float(
            self._synth.synth, n, left.ctypes.data, 0, 1, right.ctypes.data, 0, 1
        )
        if status != 0:
            raise RuntimeError("fluid_synth_write_float failed")
        self._rendered += n
        return 0.5 * (left + right)
