"""Fuzzing the other files a user hands to ægo: latent trajectories (``aego render --trajectory FILE.csv``)
and sounds (``aego morph``/``cross``, audio folders for ``aego train``/``eval``).

Acceptable outcomes: the data (finite), ``(None, reason)`` for a bad file in a folder, or a one-line
UsageError. The cases that once escaped (huge cells, values beyond float32, raw line breaks, NaN sounds)
are plain tests at the end; the broad fuzzing keeps to cells under 1 kB so it stays fast.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aego.audio_files import read_audio
from aego.errors import UsageError
from aego.render import read_csv_trajectory, read_sound

FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

cell = st.sampled_from(["0", "1", "0.5", "-3", "nan", "inf", "1e30", "t", "z0", "", " ", '"', "#", "1e-300"]) | \
    st.text(max_size=6)
csv_text = st.lists(st.lists(cell, max_size=6), max_size=8).map(lambda rows: "\n".join(",".join(r) for r in rows))


@pytest.mark.timeout(120)
@FUZZ
@given(blob=st.binary(max_size=400) | csv_text.map(lambda t: t.encode("utf-8")), dims=st.integers(1, 4))
def test_trajectory_files(tmp_path: Path, blob: bytes, dims: int) -> None:
    path = tmp_path / "path.csv"
    path.write_bytes(blob)
    try:
        events = read_csv_trajectory(path, dims, 5.0)
    except UsageError as exc:
        assert str(path) in str(exc)  # (one line: see test_refusal_is_one_line below)
        return
    assert events
    times = [e.t for e in events]
    assert times == sorted(times) and all(np.isfinite(times))
    for e in events:
        assert e.kind == "target" and e.value.shape == (dims,) and np.all(np.isfinite(e.value))


@pytest.mark.timeout(120)
@FUZZ
@given(blob=st.binary(max_size=600), header=st.sampled_from([b"", b"RIFF", b"RIFF\x24\x00\x00\x00WAVEfmt ", b"fLaC",
                                                             b"OggS"]))
def test_sound_files(tmp_path: Path, blob: bytes, header: bytes) -> None:
    path = tmp_path / "sound.wav"
    path.write_bytes(header + blob)
    audio, reason = read_audio(path, 22050)
    assert (audio is None) == bool(reason)
    if audio is not None:
        assert audio.ndim == 1 and np.all(np.isfinite(audio))
    try:
        audio, rate = read_sound(path)
    except UsageError as exc:
        assert "\n" not in str(exc)
        return
    assert audio.ndim == 1 and len(audio) > 0 and rate > 0


# -- cases that once escaped, kept as plain tests -----------------------------------------------------------
def test_trajectory_with_a_huge_cell(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text("1," + "2" * 200_000 + "\n")
    with pytest.raises(UsageError):
        read_csv_trajectory(path, 2, 5.0)


def test_trajectory_beyond_float32(tmp_path: Path) -> None:
    path = tmp_path / "far.csv"
    path.write_text("0,0\n1e308,1\n")
    try:
        events = read_csv_trajectory(path, 2, 5.0)
    except UsageError:
        return
    assert all(np.all(np.isfinite(e.value)) for e in events)


def test_sound_with_nan_samples(tmp_path: Path) -> None:
    import soundfile as sf

    path = tmp_path / "nan.wav"
    sf.write(path, np.array([0.1, np.nan, 0.2] * 1000, np.float32), 22050, subtype="FLOAT")
    assert read_audio(path, 22050)[0] is None
    try:
        audio, _rate = read_sound(path)
    except UsageError:
        return
    assert np.all(np.isfinite(audio))


def test_refusal_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "quoted.csv"
    path.write_bytes(b'0,0\n"a\nb",1\n')
    with pytest.raises(UsageError) as info:
        read_csv_trajectory(path, 2, 5.0)
    assert "\n" not in str(info.value)
