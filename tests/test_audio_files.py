"""Reading folders of sounds: formats, mono, resampling, bad files skipped and listed, clear refusals."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from aego.audio_files import AudioFolder, load_folder, read_audio, read_metadata, resample
from aego.errors import UsageError


def _tone(f: float, rate: int, seconds: float = 0.5, amp: float = 0.5) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * f * np.arange(int(seconds * rate)) / rate)).astype(np.float32)


def _peak_hz(x: np.ndarray, rate: int) -> float:
    mag = np.abs(np.fft.rfft(x * np.hanning(len(x)), 8 * len(x)))
    return float(np.fft.rfftfreq(8 * len(x), 1 / rate)[mag.argmax()])


@pytest.fixture
def mixed_folder(tmp_path):
    root = tmp_path / "sounds"
    (root / "sub" / "deeper").mkdir(parents=True)
    sf.write(root / "a.wav", _tone(440, 22050), 22050)
    sf.write(root / "sub" / "b.flac", _tone(330, 44100), 44100)  # resampled
    stereo = np.stack([_tone(220, 48000), _tone(220, 48000)], axis=1)
    sf.write(root / "sub" / "deeper" / "c.ogg", stereo, 48000, format="OGG", subtype="VORBIS")
    sf.write(root / "silent.wav", np.zeros(4000, np.float32), 22050)
    sf.write(root / "empty.wav", np.zeros(0, np.float32), 22050)
    (root / "zero.flac").write_bytes(b"")
    (root / "corrupt.wav").write_bytes(b"RIFF\x10\0\0\0WAVEfmt garbage that is not audio")
    (root / "notes.txt").write_text("not audio, ignored")
    (root / ".half.flac.part").write_bytes(b"partial")
    return root


def test_reads_usable_files_and_lists_the_bad_ones(mixed_folder):
    sounds, skipped = load_folder(mixed_folder, 22050)
    names = [name for name, _ in sounds]
    assert names == ["a.wav", "sub/b.flac", "sub/deeper/c.ogg"]
    reasons = {s.path.name: s.reason for s in skipped}
    assert set(reasons) == {"silent.wav", "empty.wav", "zero.flac", "corrupt.wav"}
    assert "silent" in reasons["silent.wav"] and "empty" in reasons["empty.wav"] and "empty" in reasons["zero.flac"]
    assert "unreadable" in reasons["corrupt.wav"]
    for _, audio in sounds:
        assert audio.dtype == np.float32 and audio.ndim == 1
    by_name = dict(sounds)
    # Every file at the target rate: same duration, same pitch.
    for name, f in (("a.wav", 440), ("sub/b.flac", 330), ("sub/deeper/c.ogg", 220)):
        assert len(by_name[name]) == pytest.approx(0.5 * 22050, abs=2)
        assert _peak_hz(by_name[name], 22050) == pytest.approx(f, abs=2)


def test_folder_is_lazy_and_knows_its_files_before_reading(mixed_folder):
    folder = AudioFolder([mixed_folder], 22050)
    assert len(folder) == 7 and folder.skipped == []
    it = iter(folder)
    name, _ = next(it)
    assert name == "a.wav" and folder.skipped == []  # nothing else decoded yet
    rest = list(it)
    assert len(rest) == 2 and len(folder.skipped) == 4


def test_stereo_is_mixed_to_mono(tmp_path):
    left = _tone(300, 22050)
    sf.write(tmp_path / "st.wav", np.stack([left, -left], axis=1), 22050)  # cancels when mixed
    audio, reason = read_audio(tmp_path / "st.wav", 22050)
    assert audio is None and "silent" in reason
    sf.write(tmp_path / "st2.wav", np.stack([left, np.zeros_like(left)], axis=1), 22050)
    audio, _ = read_audio(tmp_path / "st2.wav", 22050)
    np.testing.assert_allclose(audio, left / 2, atol=1e-4)


def test_non_finite_samples_are_skipped(tmp_path):
    x = _tone(300, 22050)
    x[100] = np.nan
    sf.write(tmp_path / "nan.wav", x, 22050, subtype="FLOAT")
    audio, reason = read_audio(tmp_path / "nan.wav", 22050)
    assert audio is None and "NaN" in reason


def test_resample_keeps_pitch_and_length():
    x = _tone(1000, 48000, 1.0)
    y = resample(x, 48000, 22050)
    assert len(y) == 22050 and _peak_hz(y, 22050) == pytest.approx(1000, abs=1)
    # Content above the new Nyquist frequency is filtered out, not folded down.
    z = resample(_tone(15000, 48000, 1.0), 48000, 22050)
    assert np.max(np.abs(z[500:-500])) < 0.005  # (away from the tone's abrupt start and end)


def test_single_files_and_several_folders(tmp_path, mixed_folder):
    other = tmp_path / "other"
    other.mkdir()
    sf.write(other / "z.wav", _tone(500, 22050), 22050)
    sounds, _ = load_folder([mixed_folder / "a.wav", other], 22050)
    assert [n for n, _ in sounds] == ["a.wav", "z.wav"]


def test_empty_or_missing_folder_is_a_usage_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match=r"no audio files in .*aego dataset"):
        load_folder(tmp_path / "empty", 22050)
    with pytest.raises(UsageError, match="does not exist"):
        load_folder(tmp_path / "nowhere", 22050)
    (tmp_path / "text.txt").write_text("hello")
    with pytest.raises(UsageError, match="not an audio file"):
        load_folder(tmp_path / "text.txt", 22050)
    with pytest.raises(UsageError, match="no sound folder"):
        load_folder([], 22050)


def test_folder_with_no_usable_file_is_a_usage_error(tmp_path):
    sf.write(tmp_path / "silent.wav", np.zeros(1000, np.float32), 22050)
    (tmp_path / "bad.flac").write_bytes(b"nope")
    with pytest.raises(UsageError, match=r"none of the 2 audio files .* could be used"):
        load_folder(tmp_path, 22050)


def test_same_names_in_two_folders_stay_apart(tmp_path):
    for sub, f in (("one", 300), ("two", 600)):
        (tmp_path / sub).mkdir()
        sf.write(tmp_path / sub / "x.wav", _tone(f, 22050), 22050)
        (tmp_path / sub / "metadata.csv").write_text(f"file,f0\nx.wav,{f}\n")
    folder = AudioFolder([tmp_path / "one", tmp_path / "two"], 22050)
    assert [n for n, _ in folder.files] == ["x.wav", "two/x.wav"]
    assert {n: row["f0"] for n, row in folder.metadata().items()} == {"x.wav": "300", "two/x.wav": "600"}
    assert [round(_peak_hz(a, 22050)) for _, a in folder] == [300, 600]


def test_metadata_of_a_dataset_folder(tmp_path):
    assert read_metadata(tmp_path) == {}
    (tmp_path / "metadata.csv").write_text("file,f0\nx.flac,100.5\ny.flac,200\n")
    assert read_metadata(tmp_path) == {"x.flac": {"file": "x.flac", "f0": "100.5"},
                                       "y.flac": {"file": "y.flac", "f0": "200"}}
    (tmp_path / "metadata.csv").write_text("name,f0\nx.flac,1\n")
    with pytest.raises(UsageError, match="no 'file' column"):
        read_metadata(tmp_path)
