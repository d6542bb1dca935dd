"""Offline rendering: aego render / morph / cross, the frames file, trajectories and timelines."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from aego.errors import UsageError
from aego.render import TimelineEvent, read_csv_trajectory, render_timeline, trajectory
from aego.space import SoundSpace
from aego.synth import SynthConfig
from aego.transform import spectral_convergence, to_db, window_from_name
from tests.synth_support import PeakSpace, tone


@pytest.fixture(scope="module")
def space_file(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("space") / "untrained.space"
    SoundSpace.untrained(seed=3).save(path)
    return str(path)


def _aego(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aego", *args], capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL, cwd=cwd)


def test_render_writes_the_wav_and_the_frames_file(space_file, tmp_path):
    out, frames = tmp_path / "walk.wav", tmp_path / "walk.npz"
    proc = _aego("render", space_file, "-o", str(out), "--seconds", "2", "--save-frames", str(frames))
    assert proc.returncode == 0, proc.stderr
    audio, rate = sf.read(out)
    assert rate == 22050 and len(audio) == 2 * 22050
    assert np.isfinite(audio).all() and audio.std() > 1e-4
    saved = np.load(frames)
    assert {"magnitudes", "sample_rate", "n_fft", "hop", "window"} <= set(saved.files)
    # Anyone can re-analyse the WAV with the saved transform: frames line up with the magnitudes.
    n_fft, hop = int(saved["n_fft"]), int(saved["hop"])
    window = window_from_name(str(saved["window"]), n_fft)
    padded = np.pad(audio, (n_fft // 2, n_fft // 2 + hop))
    m = saved["magnitudes"]
    edge = n_fft // (2 * hop)
    again = np.array([np.abs(np.fft.rfft(padded[i * hop : i * hop + n_fft] * window)) for i in range(len(m))])
    assert again.shape == m.shape
    # Quantised to 16 bits and from an untrained (inconsistent) space: far from perfect, far from random.
    assert to_db(spectral_convergence(m[edge:-edge], again[edge:-edge])) < -3.0


def test_render_is_reproducible_with_a_seed():
    space = SoundSpace.untrained(seed=3)
    config = SynthConfig(sample_rate=22050)
    a, b, c = (render_timeline(space, trajectory(space, "random", 1.0, seed=s), 1.0, config).audio for s in (1, 1, 2))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("kind", ["line", "circle"])
def test_line_and_circle_trajectories(kind):
    space = SoundSpace.untrained()
    events = trajectory(space, kind, 2.0)
    z = np.array([e.value for e in events])
    assert z.shape[1] == 8 and np.isfinite(z).all()
    assert np.linalg.norm(z[-1] - z[0]) > 0 if kind == "line" else np.linalg.norm(z[-1] - z[0]) < 1e-3


def test_csv_trajectory_with_and_without_times(tmp_path):
    with_t = tmp_path / "t.csv"
    with_t.write_text("t,z0,z1\n0,0,0\n0.5,0.5,0\n1.0,-0.5,0\n")
    events = read_csv_trajectory(with_t, 2, 3.0)
    assert [e.t for e in events] == [0.0, 0.5, 1.0]
    plain = tmp_path / "p.csv"
    plain.write_text("0,0\n1,0\n")
    assert [e.t for e in read_csv_trajectory(plain, 2, 3.0)] == [0.0, 3.0]


@pytest.mark.parametrize(
    ("text", "message"),
    [("0,0\n1,x\n", "line 2"), ("0,0,0,0\n", "2 latent coordinates"), ("0,nan\n", "NaN"), ("", "no rows"),
     ("1,0,0\n0,0,0\n", "backwards")],
)
def test_bad_csv_trajectories_are_refused_clearly(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(UsageError, match=message):
        read_csv_trajectory(path, 2, 1.0)


def test_bad_csv_through_the_command_line(space_file, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("1,2,3\n")
    proc = _aego("render", space_file, "-o", str(tmp_path / "x.wav"), "--trajectory", str(path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "line 1" in proc.stderr


def test_morph_and_cross(space_file, tmp_path):
    a, b, c = tmp_path / "a.wav", tmp_path / "b.wav", tmp_path / "c.wav"
    sf.write(a, tone(220, 1.0), 22050)
    sf.write(b, tone(880, 1.0), 22050)
    sf.write(c, tone(440, 0.8, rate=44100), 44100)
    proc = _aego("morph", space_file, str(a), str(b), "-o", str(tmp_path / "m.wav"), "--seconds", "1.5")
    assert proc.returncode == 0, proc.stderr
    audio, rate = sf.read(tmp_path / "m.wav")
    assert len(audio) == int(1.5 * rate) and audio.std() > 1e-4
    proc = _aego("cross", space_file, str(c), "-o", str(tmp_path / "x.wav"))
    assert proc.returncode == 0, proc.stderr
    audio, rate = sf.read(tmp_path / "x.wav")
    assert abs(len(audio) / rate - 0.8) < 0.01 and audio.std() > 1e-4


def test_morph_and_cross_refuse_bad_sounds(space_file, tmp_path):
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF....not audio")
    proc = _aego("cross", space_file, str(junk), "-o", str(tmp_path / "x.wav"))
    assert proc.returncode == 2 and "junk.wav" in proc.stderr and "Traceback" not in proc.stderr


def test_timeline_events_are_applied_at_their_time():
    space = PeakSpace(partials=1)
    timeline = [TimelineEvent(0.0, "target", [-1.0, 0.0]), TimelineEvent(1.0, "target", [1.0, 0.0]),
                TimelineEvent(2.0, "mute", True)]
    r = render_timeline(space, timeline, 3.0, SynthConfig(sample_rate=22050, glide_s=0.005))
    mags = r.transform.stft_magnitudes(r.audio)
    f = r.transform.frequencies()
    frame = lambda t: int(t * 22050 / r.transform.hop)  # noqa: E731
    assert abs(f[np.argmax(mags[frame(0.8)])] - 200) < 15
    assert abs(f[np.argmax(mags[frame(1.2)])] - 800) < 15
    assert r.audio[int(2.2 * 22050) :].std() < 1e-4
    # the frames file's magnitudes follow the same clock
    assert abs(f[np.argmax(r.magnitudes[frame(1.2)])] - 800) < 15
