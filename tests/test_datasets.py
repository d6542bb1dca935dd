"""Dataset folders: the plans, metadata round trip, random draws, resuming, refusals and the CLI."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from _pitch import cents, yin_f0

from aego import datasets, toy_sounds
from aego.audio_files import AudioFolder, read_metadata
from aego.datasets import plan, write_dataset
from aego.errors import UsageError
from aego.instruments import BY_NAME, midi_to_hz


def _aego(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aego", *args], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, **kw)


def _folder_content(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# ------------------------------------------------------------------------------------------ plans


def test_full_grids_are_the_thesis_grids():
    add = plan("toy-additive")
    assert len(add) == 3500
    f0 = sorted({float(r["f0"]) for r in add})
    assert len(f0) == 100 and f0[0] == 64.0 and f0[-1] == 1024.0
    assert sorted({int(r["partials"]) for r in add}) == list(range(1, 8))
    assert sorted({float(r["decay"]) for r in add}) == [0.2, 1.15, 2.1, 3.05, 4.0]
    assert len({(r["f0"], r["partials"], r["decay"]) for r in add}) == 3500
    assert all(len(r["phases"].split()) == int(r["partials"]) for r in add)

    fm = plan("toy-fm")
    assert len(fm) == 21250
    assert len({r["f0"] for r in fm}) == 25 and min(float(r["f0"]) for r in fm) == 60.0
    assert max(float(r["f0"]) for r in fm) == 600.0
    assert sorted({float(r["ratio"]) for r in fm}) == pytest.approx(np.linspace(0, 3, 25))
    assert sorted({float(r["index"]) for r in fm}) == pytest.approx(np.linspace(0, 30, 34), abs=1e-4)

    inst = plan("instruments")
    assert len(inst) == 2088 and {r["soundfont"] for r in inst} == {"FluidR3_GM.sf2"}
    assert {r["dynamic"] for r in inst} == {"pp", "p", "mf", "ff"}
    assert len({r["file"] for r in inst}) == len(inst)


@pytest.mark.parametrize("name", ["toy-additive", "toy-fm"])
def test_limit_draws_off_the_grid_within_the_ranges_reproducibly(name):
    grid = plan(name)
    drawn = plan(name, seed=7, limit=300)
    assert len(drawn) == 300
    assert drawn == plan(name, seed=7, limit=300)
    assert drawn != plan(name, seed=8, limit=300)
    assert plan(name, seed=7, limit=20) == drawn[:20]  # sound i does not depend on the limit
    grid_f0 = {r["f0"] for r in grid}
    assert not any(r["f0"] in grid_f0 for r in drawn)
    f0 = np.array([float(r["f0"]) for r in drawn])
    if name == "toy-additive":
        assert f0.min() >= 64 and f0.max() <= 1024
        partials = [int(r["partials"]) for r in drawn]
        assert set(partials) == set(range(1, 8))
        decay = np.array([float(r["decay"]) for r in drawn])
        assert decay.min() >= 0.2 and decay.max() <= 4.0 and len(set(decay)) > 295
    else:
        assert f0.min() >= 60 and f0.max() <= 600
        ratio = np.array([float(r["ratio"]) for r in drawn])
        index = np.array([float(r["index"]) for r in drawn])
        assert ratio.min() >= 0 and ratio.max() <= 3 and index.min() >= 0 and index.max() <= 30
        grid_ratios = {r["ratio"] for r in grid}
        assert not any(r["ratio"] in grid_ratios for r in drawn)
    # Uniform over the range (f0 uniform in pitch): every quarter of the range gets a fair share.
    lo, hi = np.log(f0.min()), np.log(f0.max())
    counts = np.histogram(np.log(f0), bins=4, range=(lo, hi))[0]
    assert counts.min() > 40


# ------------------------------------------------------------------------- written folders


def test_metadata_round_trip_and_audio_match_the_parameters(tmp_path):
    out = tmp_path / "add"
    summary = write_dataset("toy-additive", out, seed=3, limit=6, progress=False)
    assert summary.total == 6 and summary.rendered == 6 and summary.kept == 0
    meta = read_metadata(out)
    rows = plan("toy-additive", seed=3, limit=6)
    assert list(meta.values()) == rows
    assert sorted(p.name for p in out.iterdir()) == sorted([*meta, "metadata.csv"])
    for name, row in meta.items():
        audio, rate = sf.read(out / name, dtype="float32")
        assert rate == 22050 and audio.shape == (11025,) and sf.info(out / name).format == "FLAC"
        params = toy_sounds.AdditiveParams(float(row["f0"]), int(row["partials"]), float(row["decay"]))
        expected = toy_sounds.additive(params, np.array([float(p) for p in row["phases"].split()]))
        assert np.max(np.abs(audio - expected)) < 2 / 32768  # 16-bit
    # The reader finds the same sounds under the same names.
    folder = AudioFolder([out], 22050)
    assert [name for name, _ in folder.files] == [r["file"] for r in rows]
    assert folder.metadata() == meta


def test_fm_dataset_rows_render_the_sound_they_describe(tmp_path):
    out = tmp_path / "fm"
    write_dataset("toy-fm", out, seed=1, limit=4, progress=False)
    for name, row in read_metadata(out).items():
        audio, _ = sf.read(out / name, dtype="float32")
        params = toy_sounds.FMParams(float(row["f0"]), float(row["ratio"]), float(row["index"]))
        assert np.max(np.abs(audio - toy_sounds.fm(params))) < 2 / 32768


def test_instrument_dataset_metadata_and_pitch(tmp_path):
    out = tmp_path / "inst"
    write_dataset("instruments", out, seed=2, limit=5, progress=False)
    meta = read_metadata(out)
    assert len(meta) == 5
    for name, row in meta.items():
        inst = BY_NAME[row["instrument"]]
        assert inst.low <= int(row["pitch"]) <= inst.high and int(row["program"]) == inst.program
        assert float(row["f0"]) == pytest.approx(midi_to_hz(int(row["pitch"])), abs=1e-3)
        assert name.startswith(name[:5]) and row["instrument"] in name and row["dynamic"] in name
        audio, rate = sf.read(out / name)
        assert rate == 22050 and audio.shape == (33075,) and np.max(np.abs(audio)) > 1e-3
        # The note sounds at the pitch its row gives (FluidR3's piano is stretch-tuned: allow 35 cents).
        measured = yin_f0(audio[int(0.25 * rate): int(0.85 * rate)], rate, fmax=5000)
        assert abs(cents(measured, float(row["f0"]))) < 35, f"{name}: {measured:.1f} Hz"


def test_resume_after_an_interruption_gives_the_same_folder(tmp_path, monkeypatch):
    reference = tmp_path / "ref"
    write_dataset("toy-fm", reference, seed=4, limit=12, progress=False)

    out = tmp_path / "resumed"
    real = datasets.renderer
    calls = {"n": 0}

    from contextlib import contextmanager

    @contextmanager
    def interrupted_renderer(name, soundfont=None):
        with real(name, soundfont) as render:
            def render_then_stop(row):
                calls["n"] += 1
                if calls["n"] == 8:
                    raise KeyboardInterrupt
                return render(row)
            yield render_then_stop

    monkeypatch.setattr(datasets, "renderer", interrupted_renderer)
    with pytest.raises(KeyboardInterrupt):
        write_dataset("toy-fm", out, seed=4, limit=12, progress=False)
    monkeypatch.setattr(datasets, "renderer", real)
    assert len(read_metadata(out)) == 7
    # What a kill at a bad moment leaves: a half-written sound, a finished file whose row was not
    # written yet, a half-written last line of metadata.
    (out / ".fm_00007.flac.part").write_bytes(b"fLaC\0\0half")
    lines = (out / "metadata.csv").read_text().splitlines(keepends=True)
    (out / "metadata.csv").write_text("".join(lines[:-1]) + lines[-1][:9])
    summary = write_dataset("toy-fm", out, seed=4, limit=12, progress=False)
    assert summary.kept == 6 and summary.rendered == 6
    assert _folder_content(out) == _folder_content(reference)


def test_resume_after_a_real_kill(tmp_path):
    out = tmp_path / "killed"
    n = 250
    proc = subprocess.Popen([sys.executable, "-m", "aego", "dataset", "toy-additive", str(out), "--limit", str(n)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    meta = out / "metadata.csv"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if meta.exists() and meta.read_text().count("\n") > 20:
            break
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    written = meta.read_text().count("\n") - 1
    assert 0 < written < n, "the rendering should have been killed part-way"
    summary = write_dataset("toy-additive", out, limit=n, progress=False)
    assert summary.kept >= written - 1 and summary.rendered + summary.kept == n
    reference = tmp_path / "ref"
    write_dataset("toy-additive", reference, limit=n, progress=False)
    assert _folder_content(out) == _folder_content(reference)


def test_a_finished_dataset_is_not_rendered_again(tmp_path):
    out = tmp_path / "add"
    write_dataset("toy-additive", out, limit=3, progress=False)
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    again = write_dataset("toy-additive", out, limit=3, progress=False)
    assert again.rendered == 0 and again.kept == 3
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.suffix == ".flac"} == {
        k: v for k, v in before.items() if k.endswith(".flac")}


def test_another_dataset_or_seed_in_the_folder_is_refused(tmp_path):
    out = tmp_path / "add"
    write_dataset("toy-additive", out, seed=1, limit=3, progress=False)
    content = _folder_content(out)
    with pytest.raises(UsageError, match="another dataset"):
        write_dataset("toy-fm", out, seed=1, limit=3, progress=False)
    with pytest.raises(UsageError, match="seed 1"):
        write_dataset("toy-additive", out, seed=2, limit=3, progress=False)
    with pytest.raises(UsageError, match="other options"):
        write_dataset("toy-additive", out, seed=1, progress=False)
    assert _folder_content(out) == content  # nothing was touched


def test_a_folder_of_other_files_is_refused(tmp_path):
    (tmp_path / "mine.wav").write_bytes(b"RIFF")
    with pytest.raises(UsageError, match="not empty"):
        write_dataset("toy-fm", tmp_path, limit=2, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.wav"]


def test_metadata_columns_are_documented():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "datasets.md").read_text()
    for columns in datasets.COLUMNS.values():
        for col in columns:
            assert f"`{col}`" in doc


# -------------------------------------------------------------------------------------- the CLI


def test_cli_writes_a_dataset(tmp_path):
    out = _aego("dataset", "toy-fm", str(tmp_path / "fm"), "--limit", "3", "--seed", "9")
    assert out.returncode == 0, out.stderr
    assert "3 sounds" in out.stdout
    with open(tmp_path / "fm" / "metadata.csv", newline="") as f:
        assert [r["seed"] for r in csv.DictReader(f)] == ["9", "9", "9"]


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["instruments", "{tmp}/i", "--limit", "2", "--soundfont", "{tmp}/missing.sf2"], "missing.sf2 not found"),
        (["instruments", "{tmp}/i", "--limit", "2", "--soundfont", "{tmp}/file"], "not a SoundFont"),
        (["toy-fm", "{tmp}/file", "--limit", "2"], "is a file"),
        (["toy-fm", "{tmp}/file/sub", "--limit", "2"], "cannot create"),
        (["toy-additive", "{tmp}/busy", "--limit", "2"], "not empty"),
        (["toy-additive", "{tmp}/o", "--limit", "2", "--soundfont", "{tmp}/file"], "instruments dataset only"),
        (["toy-additive", "{tmp}/o", "--limit", "0"], "above 0"),
        (["toy-additive", "{tmp}/o", "--limit", "2", "--seed", "-3"], "negative"),
        (["toy-strings", "{tmp}/o"], "invalid choice"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(tmp_path, args, expect):
    (tmp_path / "file").write_text("not a soundfont\n")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    out = _aego("dataset", *[a.format(tmp=tmp_path) for a in args])
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and expect in lines[0], out.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_cli_unwritable_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    out = _aego("dataset", "toy-fm", str(ro), "--limit", "2")
    assert out.returncode == 2 and "cannot write" in out.stderr
