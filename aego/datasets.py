"""Writing a dataset folder: the audio files plus one ``metadata.csv`` of generating parameters.

A dataset is a *plan* — an ordered list of rows, one per sound, each naming its file and every
parameter that generated it — and a renderer that turns a row into audio. The plan is a pure
function of (dataset, seed, limit, soundfont), so a folder can be checked against it:

- an interrupted rendering is continued by running the same command again: sounds whose file and
  metadata row are both there are kept, the rest are rendered;
- a folder holding another dataset (other name, seed, limit or soundfont) is refused.

Crash safety: each sound is written to a hidden ``.NAME.part`` file and renamed when complete,
then its row is appended to ``metadata.csv`` and flushed. A kill at any moment leaves at worst a
stray ``.part`` file (removed on the next run), a finished file without its row (rendered again)
or a half-written last line (dropped). When the plan is complete, ``metadata.csv`` is rewritten in
plan order, so an interrupted-and-continued folder ends up identical to an uninterrupted one.
"""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aego import instruments, toy_sounds
from aego.audio_files import METADATA_FILE
from aego.errors import UsageError

DATASETS: tuple[str, ...] = ("toy-additive", "toy-fm", "instruments")
AUDIO_FORMAT = "FLAC"
AUDIO_SUBTYPE = "PCM_16"
AUDIO_EXTENSION = ".flac"

# The thesis' grids (DESIGN.md). Frequencies are spaced evenly in pitch, the other axes linearly.
ADDITIVE_F0 = (64.0, 1024.0, 100)
ADDITIVE_PARTIALS = (1, 7)
ADDITIVE_DECAY = (0.2, 4.0, 5)
FM_F0 = (60.0, 600.0, 25)
FM_RATIO = (0.0, 3.0, 25)
FM_INDEX = (0.0, 30.0, 34)

COLUMNS: dict[str, tuple[str, ...]] = {
    "toy-additive": ("file", "dataset", "seed", "f0", "partials", "decay", "phases"),
    "toy-fm": ("file", "dataset", "seed", "f0", "ratio", "index"),
    "instruments": ("file", "dataset", "seed", "instrument", "program", "pitch", "note", "f0", "dynamic",
                    "velocity", "soundfont"),
}
"""The columns of ``metadata.csv`` per dataset (documented in docs/datasets.md)."""

Row = dict[str, str]


@dataclass(frozen=True)
class Summary:
    """What :func:`write_dataset` did.

    Attributes:
        out: the dataset folder.
        total: sounds in the plan.
        rendered: sounds rendered by this call.
        kept: sounds already there from an earlier, interrupted call.
        seconds: wall time of this call.
        clipped: sounds whose peak reached full scale (clipped when written).
    """

    out: Path
    total: int
    rendered: int
    kept: int
    seconds: float
    clipped: int = 0


# --------------------------------------------------------------------------------------------- plans


def plan(name: str, seed: int = 0, limit: int | None = None, soundfont: str | os.PathLike | None = None) -> list[Row]:
    """The ordered rows of a dataset; every value a string as written to ``metadata.csv``.

    Args:
        name: one of :data:`DATASETS`.
        seed: seeds the random phases of toy-additive and the draws of ``limit``.
        limit: ``None`` for the full grid/plan; else that many sounds drawn at random (off the grid).
        soundfont: instruments only, its file name goes in the ``soundfont`` column.
    """
    if seed < 0:
        raise UsageError(f"--seed {seed} is negative: give a whole number 0 or above")
    if name == "toy-additive":
        return _additive_plan(seed, limit)
    if name == "toy-fm":
        return _fm_plan(seed, limit)
    if name == "instruments":
        sf2 = Path(soundfont) if soundfont else instruments.DEFAULT_SOUNDFONT
        return _instrument_plan(seed, limit, sf2.name)
    raise UsageError(f"unknown dataset '{name}': choose one of {', '.join(DATASETS)}")


def _rng(seed: int, index: int) -> np.random.Generator:
    # One stream per sound: sound i is the same whatever the limit, and a re-run reproduces it.
    return np.random.default_rng([seed, index])


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _additive_plan(seed: int, limit: int | None) -> list[Row]:
    f_lo, f_hi, n_f = ADDITIVE_F0
    d_lo, d_hi, n_d = ADDITIVE_DECAY
    l_lo, l_hi = ADDITIVE_PARTIALS
    if limit is None:
        grid = [(f0, L, d) for f0 in np.geomspace(f_lo, f_hi, n_f) for L in range(l_lo, l_hi + 1)
                for d in np.linspace(d_lo, d_hi, n_d)]
        draws: Iterator[tuple[float, int, float]] | list = grid
    else:
        draws = []
        for i in range(limit):
            rng = _rng(seed, i)
            draws.append((_log_uniform(rng, f_lo, f_hi), int(rng.integers(l_lo, l_hi + 1)),
                          float(rng.uniform(d_lo, d_hi))))
    rows = []
    for i, (f0, L, d) in enumerate(draws):
        phases = np.random.default_rng([seed, i, 1]).uniform(0, 2 * np.pi, L)
        rows.append({
            "file": f"additive_{i:05d}{AUDIO_EXTENSION}", "dataset": "toy-additive", "seed": str(seed),
            "f0": f"{f0:.6f}", "partials": str(L), "decay": f"{d:.6f}",
            "phases": " ".join(f"{p:.5f}" for p in phases),
        })
    return rows


def _fm_plan(seed: int, limit: int | None) -> list[Row]:
    f_lo, f_hi, n_f = FM_F0
    m_lo, m_hi, n_m = FM_RATIO
    a_lo, a_hi, n_a = FM_INDEX
    if limit is None:
        draws = [(f0, m, a) for f0 in np.geomspace(f_lo, f_hi, n_f) for m in np.linspace(m_lo, m_hi, n_m)
                 for a in np.linspace(a_lo, a_hi, n_a)]
    else:
        draws = []
        for i in range(limit):
            rng = _rng(seed, i)
            draws.append((_log_uniform(rng, f_lo, f_hi), float(rng.uniform(m_lo, m_hi)),
                          float(rng.uniform(a_lo, a_hi))))
    return [
        {"file": f"fm_{i:05d}{AUDIO_EXTENSION}", "dataset": "toy-fm", "seed": str(seed),
         "f0": f"{f0:.6f}", "ratio": f"{m:.6f}", "index": f"{a:.6f}"}
        for i, (f0, m, a) in enumerate(draws)
    ]


def _instrument_plan(seed: int, limit: int | None, soundfont_name: str) -> list[Row]:
    notes = instruments.full_plan() if limit is None else instruments.random_plan(limit, seed)
    rows = []
    for i, n in enumerate(notes):
        note = instruments.note_name(n.pitch)
        rows.append({
            "file": f"{i:05d}_{n.instrument}_{note.replace('#', 's')}_{n.dynamic}{AUDIO_EXTENSION}",
            "dataset": "instruments", "seed": str(seed), "instrument": n.instrument, "program": str(n.program),
            "pitch": str(n.pitch), "note": note, "f0": f"{n.f0:.4f}", "dynamic": n.dynamic,
            "velocity": str(n.velocity), "soundfont": soundfont_name,
        })
    return rows


# ----------------------------------------------------------------------------------------- renderers


@contextmanager
def renderer(name: str, soundfont: str | os.PathLike | None = None) -> Iterator[Callable[[Row], np.ndarray]]:
    """A function ``row -> audio (samples,) float32`` for the dataset; instruments load the soundfont once."""
    if name == "toy-additive":
        yield _render_additive
    elif name == "toy-fm":
        yield _render_fm
    elif name == "instruments":
        with instruments.NoteRenderer(soundfont) as synth:
            def render(row: Row) -> np.ndarray:
                return synth.render(instruments.Note(row["instrument"], int(row["program"]), int(row["pitch"]),
                                                     row["dynamic"], int(row["velocity"])))
            yield render
    else:
        raise UsageError(f"unknown dataset '{name}': choose one of {', '.join(DATASETS)}")


def _render_additive(row: Row) -> np.ndarray:
    params = toy_sounds.AdditiveParams(float(row["f0"]), int(row["partials"]), float(row["decay"]))
    phases = np.array([float(p) for p in row["phases"].split()])
    return toy_sounds.additive(params, phases)


def _render_fm(row: Row) -> np.ndarray:
    return toy_sounds.fm(toy_sounds.FMParams(float(row["f0"]), float(row["ratio"]), float(row["index"])))


def sample_rate_of(name: str) -> int:
    """Hz of the dataset's audio files."""
    return instruments.SAMPLE_RATE if name == "instruments" else toy_sounds.SAMPLE_RATE


# ------------------------------------------------------------------------------------------- writing


def write_dataset(
    name: str,
    out: str | os.PathLike,
    seed: int = 0,
    limit: int | None = None,
    soundfont: str | os.PathLike | None = None,
    progress: bool = True,
) -> Summary:
    """Render the dataset into ``out``, continuing an interrupted rendering of the same dataset.

    Raises:
        UsageError: unknown dataset, unusable soundfont, a folder that cannot be written or that holds
            something else (another dataset, or files that are not an ægo dataset).
    """
    import soundfile as sf
    from tqdm import tqdm

    start = time.perf_counter()
    if name not in DATASETS:
        raise UsageError(f"unknown dataset '{name}': choose one of {', '.join(DATASETS)}")
    if name == "instruments":
        soundfont = instruments.check_soundfont(soundfont)
    rows = plan(name, seed, limit, soundfont)
    columns = COLUMNS[name]
    folder = _prepare_folder(Path(out))
    meta_path = folder / METADATA_FILE
    by_file = {row["file"]: row for row in rows}

    existing = _read_rows(meta_path, columns, folder)
    if not existing:
        _refuse_foreign_files(folder, by_file)
    for row in existing:
        if by_file.get(row.get("file", "")) != row:
            wanted = f"{_describe(rows[0])}, " + (f"{len(rows)} sounds drawn at random" if limit else "the full plan")
            what = "the same dataset with other options (--limit?)" if _describe(row) == _describe(rows[0]) \
                else "another dataset"
            raise UsageError(
                f"{folder} already holds {what} ({_describe(row)}), not {wanted}: "
                "choose a new folder or delete this one"
            )
    for stale in folder.glob(".*.part"):
        stale.unlink(missing_ok=True)
    done = {row["file"] for row in existing if (folder / row["file"]).is_file()}
    kept = [row for row in rows if row["file"] in done]
    _write_rows_atomically(meta_path, columns, kept)
    todo = [row for row in rows if row["file"] not in done]

    clipped = 0
    if todo:
        sample_rate = sample_rate_of(name)
        with (
            renderer(name, soundfont) as render,
            open(meta_path, "a", newline="", encoding="utf-8") as meta,
            tqdm(total=len(rows), initial=len(kept), unit="sound", desc=name, disable=not progress,
                 dynamic_ncols=True, smoothing=0.05) as bar,
        ):
            writer = csv.DictWriter(meta, fieldnames=columns, lineterminator="\n")
            for row in todo:
                audio = render(row)
                if float(np.max(np.abs(audio))) >= 1.0:
                    clipped += 1
                    audio = np.clip(audio, -1.0, 1.0)
                final = folder / row["file"]
                part = folder / f".{row['file']}.part"
                try:
                    sf.write(part, audio, sample_rate, format=AUDIO_FORMAT, subtype=AUDIO_SUBTYPE)
                    os.replace(part, final)
                except OSError as exc:
                    raise UsageError(f"cannot write {final} ({exc.strerror or exc}): free some disk space "
                                     "or choose another folder, then run the same command again") from None
                writer.writerow(row)
                meta.flush()
                bar.update(1)
    _write_rows_atomically(meta_path, columns, rows)
    return Summary(folder, len(rows), len(todo), len(kept), time.perf_counter() - start, clipped)


def _prepare_folder(folder: Path) -> Path:
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder} is a file, not a folder: give the path of a new or empty folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the folder {folder} ({exc.strerror or exc}): choose a place you can write to"
                         ) from None
    probe = folder / ".aego-write-test"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"cannot write into {folder} ({exc.strerror or exc}): choose a folder you can write to"
                         ) from None
    return folder


def _refuse_foreign_files(folder: Path, by_file: dict[str, Row]) -> None:
    """With no metadata yet, only this plan's own files (from a run killed at once) may be there."""
    for entry in folder.iterdir():
        if entry.name.startswith("."):  # our .part files, and a desktop's hidden files
            continue
        if entry.name in by_file or entry.name == METADATA_FILE:
            continue
        raise UsageError(
            f"{folder} is not empty and holds no ægo dataset ({entry.name} ...): choose a new or empty folder"
        )


def _read_rows(path: Path, columns: tuple[str, ...], folder: Path) -> list[Row]:
    """The rows of an existing ``metadata.csv``, dropping a half-written last line."""
    if not path.exists():
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path} ({exc}): choose a new folder or delete this one") from None
    if not text.strip():
        return []
    if not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        return []
    if tuple(header) != columns:
        kind = "another dataset" if "file" in header and "dataset" in header else "a metadata.csv not written by aego"
        raise UsageError(f"{folder} already holds {kind} (columns {','.join(header)}): "
                         "choose a new folder or delete this one")
    rows = []
    for values in reader:
        if len(values) != len(columns):
            raise UsageError(f"{path} is damaged (a line has {len(values)} fields, not {len(columns)}): "
                             "delete the folder and render again")
        rows.append(dict(zip(columns, values, strict=True)))
    return rows


def _write_rows_atomically(path: Path, columns: tuple[str, ...], rows: list[Row]) -> None:
    tmp = path.with_name(f".{path.name}.part")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def _describe(row: Row) -> str:
    extra = f", soundfont {row['soundfont']}" if row.get("soundfont") else ""
    return f"{row.get('dataset', '?')}, seed {row.get('seed', '?')}{extra}"
