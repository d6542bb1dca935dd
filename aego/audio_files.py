"""Reading folders of sounds for training and evaluation.

A musician brings a folder (or several, or single files) of any common audio files: they are found
recursively, decoded with soundfile (WAV, FLAC, OGG/Vorbis, Opus, MP3, AIFF, ...), mixed to mono and
resampled to the space's rate. Files that cannot be read, hold no samples or are silent are skipped
and listed, so a long training run is not stopped by one bad file; a folder with nothing usable is a
:class:`~aego.errors.UsageError`.

Two ways to read:

- :class:`AudioFolder` — lazy: knows the file list up front, decodes one file at a time while you
  iterate (21 250 toy-FM sounds are 0.9 GB as float32; a trainer that turns each into frames as it
  goes never holds them all).
- :func:`load_folder` — eager: ``(sounds, skipped)`` lists, for small folders and tests.

Folders written by ``aego dataset`` also hold ``metadata.csv``; :func:`read_metadata` gives its rows
keyed by file name (the ``name`` of each sound read from that folder).
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from aego.errors import UsageError

AUDIO_EXTENSIONS: frozenset[str] = frozenset(
    {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc", ".au", ".snd",
     ".w64", ".caf", ".rf64"}
)
"""File name endings taken as audio (case-insensitive); every other file is ignored silently."""

SILENCE_PEAK = 1e-4
"""A file whose peak stays below this (−80 dBFS) is silent and skipped."""

METADATA_FILE = "metadata.csv"
"""The per-sound metadata of a folder written by ``aego dataset``."""

FORMATS_HINT = "wav, flac, ogg, mp3, aiff"


@dataclass(frozen=True)
class Skipped:
    """A file that was not used, and why (one line a person can act on)."""

    path: Path
    reason: str


@dataclass
class AudioFolder:
    """The audio files under one or more folders (or single files), read lazily.

    Args:
        paths: folders (searched recursively) and/or files.
        sample_rate: Hz; every sound is resampled to it.

    Attributes:
        files: ``[(name, path)]`` in a stable order; ``name`` is the path relative to the folder it
            was found in (POSIX separators), or the file name for a file given directly — the same
            string as the ``file`` column of a dataset's ``metadata.csv``. Names are unique: a name
            already taken by an earlier folder is prefixed with its folder's name (``fm/x.flac``).
        roots: the folder each file was found in (``files[i]`` came from ``roots[i]``).
        skipped: the files skipped so far, filled while iterating.

    Raises:
        UsageError: a path that does not exist, or no audio file at all.
    """

    paths: Sequence[str | os.PathLike]
    sample_rate: int
    files: list[tuple[str, Path]] = field(init=False)
    roots: list[Path] = field(init=False)
    skipped: list[Skipped] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        if isinstance(self.paths, (str, os.PathLike)):
            self.paths = [self.paths]
        if not self.paths:
            raise UsageError("no sound folder given: name a folder of audio files (e.g. one written by 'aego dataset')")
        self.files, self.roots = [], []
        seen: set[str] = set()
        for given in self.paths:
            root = Path(given)
            for name, path in _find(root):
                if name in seen:  # the same relative name under two folders: tell them apart
                    name = f"{root.name}/{name}"
                    n = 2
                    while name in seen:
                        name, n = f"{root.name}-{n}/{name.split('/', 1)[1]}", n + 1
                seen.add(name)
                self.files.append((name, path))
                self.roots.append(root if root.is_dir() else root.parent)
        if not self.files:
            where = ", ".join(str(p) for p in self.paths)
            raise UsageError(
                f"no audio files in {where}: put {FORMATS_HINT} files there "
                f"(or render some with 'aego dataset toy-additive DIR')"
            )

    def __len__(self) -> int:
        return len(self.files)

    def __iter__(self) -> Iterator[tuple[str, np.ndarray]]:
        """Yield ``(name, audio)`` for each usable file; ``audio`` is ``(samples,)`` float32 mono.

        Unusable files are appended to :attr:`skipped`. Raises UsageError at the end when no file at
        all could be used.
        """
        self.skipped = []
        used = 0
        for name, path in self.files:
            audio, reason = read_audio(path, self.sample_rate)
            if audio is None:
                self.skipped.append(Skipped(path, reason))
                continue
            used += 1
            yield name, audio
        if used == 0:
            raise UsageError(self._nothing_usable())

    def _nothing_usable(self) -> str:
        first = self.skipped[0] if self.skipped else None
        detail = f" (e.g. {first.path}: {first.reason})" if first else ""
        return (
            f"none of the {len(self.files)} audio files in {', '.join(str(p) for p in self.paths)} "
            f"could be used{detail}: give a folder of readable, non-silent {FORMATS_HINT} files"
        )

    def metadata(self) -> dict[str, dict[str, str]]:
        """The ``metadata.csv`` row of each sound that has one, keyed by its :attr:`files` name."""
        tables: dict[Path, dict[str, dict[str, str]]] = {}
        out: dict[str, dict[str, str]] = {}
        for (name, path), root in zip(self.files, self.roots, strict=True):
            if root not in tables:
                tables[root] = read_metadata(root)
            row = tables[root].get(path.relative_to(root).as_posix())
            if row is not None:
                out[name] = row
        return out


def load_folder(
    paths: Sequence[str | os.PathLike] | str | os.PathLike, sample_rate: int
) -> tuple[list[tuple[str, np.ndarray]], list[Skipped]]:
    """Read every usable audio file at once.

    Args:
        paths: folders (recursive) and/or files.
        sample_rate: Hz to resample to.

    Returns:
        ``(sounds, skipped)``: ``sounds`` is ``[(name, audio (samples,) float32 mono)]``; ``skipped``
        lists each unusable file with the reason.

    Raises:
        UsageError: missing path, no audio file, or no usable file.
    """
    folder = AudioFolder(paths if not isinstance(paths, (str, os.PathLike)) else [paths], sample_rate)
    sounds = list(folder)
    return sounds, folder.skipped


def read_audio(path: str | os.PathLike, sample_rate: int) -> tuple[np.ndarray | None, str]:
    """Decode one file to mono float32 at ``sample_rate``.

    Returns:
        ``(audio, "")`` with ``audio`` shaped ``(samples,)``, or ``(None, reason)`` when the file is
        unreadable, empty, silent or holds non-finite samples. Never raises for a bad file.
    """
    import soundfile as sf

    try:
        if os.path.getsize(path) == 0:
            return None, "empty (0 bytes)"
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises LibsndfileError, RuntimeError, TypeError... for bad files
        return None, f"unreadable ({_one_line(exc)})"
    if data.shape[0] == 0:
        return None, "empty (no samples)"
    audio = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if not np.all(np.isfinite(audio)):
        return None, "holds NaN or infinite samples"
    if float(np.max(np.abs(audio))) < SILENCE_PEAK:
        return None, "silent (peak below -80 dBFS)"
    if rate != sample_rate:
        audio = resample(audio, rate, sample_rate)
    return np.ascontiguousarray(audio, dtype=np.float32), ""


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Polyphase resampling (anti-aliased), ``(samples,)`` → ``(≈ samples·to/from,)`` float32."""
    from scipy.signal import resample_poly

    if from_rate == to_rate:
        return audio.astype(np.float32)
    ratio = Fraction(int(to_rate), int(from_rate)).limit_denominator(1000)
    return resample_poly(audio.astype(np.float64), ratio.numerator, ratio.denominator).astype(np.float32)


def read_metadata(folder: str | os.PathLike) -> dict[str, dict[str, str]]:
    """The rows of ``folder/metadata.csv`` keyed by their ``file`` column; ``{}`` if there is none.

    Values stay strings (columns differ per dataset; see docs/datasets.md). A metadata file that
    cannot be parsed is reported as a UsageError naming it.
    """
    path = Path(folder) / METADATA_FILE
    if not path.is_file():
        return {}
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"cannot read {path} ({_one_line(exc)}): delete it or re-render the dataset") from None
    if rows and "file" not in rows[0]:
        raise UsageError(f"{path} has no 'file' column: it was not written by 'aego dataset'; rename or remove it")
    return {row["file"]: row for row in rows if row.get("file")}


def number(value: str) -> float | int | str:
    """A metadata value as int or float when it is one, else the string."""
    try:
        return int(value)
    except ValueError:
        pass
    try:
        out = float(value)
        return out if math.isfinite(out) else value
    except ValueError:
        return value


def _find(root: Path) -> Iterable[tuple[str, Path]]:
    if not root.exists():
        raise UsageError(f"{root} does not exist: give a folder of audio files or an audio file")
    if root.is_file():
        if root.suffix.lower() not in AUDIO_EXTENSIONS:
            raise UsageError(f"{root} is not an audio file ({FORMATS_HINT}): give a folder or an audio file")
        return [(root.name, root)]
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for fname in sorted(filenames):
            # Hidden files include the half-written ".name.part" files of an interrupted rendering.
            if fname.startswith(".") or os.path.splitext(fname)[1].lower() not in AUDIO_EXTENSIONS:
                continue
            path = Path(dirpath) / fname
            found.append((path.relative_to(root).as_posix(), path))
    return found


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    # libsndfile repeats the path ("Error opening '/x.wav': Format not recognised."); keep the reason.
    text = re.sub(r"^Error opening '.*?': ", "", text)
    return text[:200]
