"""Training a (tiny) sound space end to end: loss goes down, files are written, bad input is handled."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from aego.errors import UsageError
from aego.space import SoundSpace
from aego.toy_sounds import AdditiveParams, additive
from aego.training import (
    EQ_POINTS_HZ,
    TrainConfig,
    folder_weights,
    frame_magnitudes,
    load_frames,
    pick_frames,
    random_eq,
    split_by_sound,
    train,
    workdir_for,
)
from aego.transform import Transform

TINY = {"enc_channels": (4,), "enc_hidden": 32, "dec_hidden": (64,), "dec_stages": ()}


def _write_sounds(folder: Path, n: int, seed: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        partials = int(rng.integers(1, 8))
        p = AdditiveParams(float(rng.uniform(100, 800)), partials, float(rng.uniform(0.2, 4)))
        sf.write(folder / f"tone{i:02d}.wav", additive(p, rng.uniform(0, 2 * np.pi, partials)), 22050)


@pytest.fixture(scope="module")
def sounds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sounds")
    _write_sounds(folder, 12, seed=0)
    (folder / "broken.wav").write_bytes(b"RIFF not really a wave file")
    sf.write(folder / "silent.wav", np.zeros(4000, np.float32), 22050)
    return folder


def _config(**kw) -> TrainConfig:
    return TrainConfig(**{"epochs": 6, "batch_size": 32, "lr": 3e-3, "warmup_epochs": 2, "previews": 1,
                          "preview_iterations": 4,
                          "arch": TINY, **kw})


def test_training_lowers_the_loss_and_writes_plot_previews_and_space(sounds: Path, tmp_path: Path) -> None:
    lines: list[str] = []
    out = tmp_path / "tiny.space"
    space = train([sounds], out, _config(), progress=False, log=lines.append)
    work = workdir_for(out)
    history = json.loads((work / "history.json").read_text())
    assert len(history) == 6
    assert history[-1]["train_loss"] < 0.8 * history[0]["train_loss"]
    assert history[-1]["val_rec"] < history[0]["val_rec"]
    assert (work / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    previews = sorted(p.name for p in (work / "previews").glob("*.wav"))
    assert "test-0-reconstruction.wav" in previews and "test-0-original.wav" in previews
    assert {f"axis-{i}.wav" for i in range(8)} <= set(previews)
    audio, rate = sf.read(work / "previews" / "axis-0.wav")
    assert rate == 22050 and len(audio) > rate and np.abs(audio).max() > 0.1
    # bad files are skipped, listed, and training went on
    skipped = " ".join(space.info["skipped"])
    assert "broken.wav" in skipped and "silent.wav" in skipped
    assert any("broken.wav" in line for line in lines)
    assert space.info["sounds"] == 12 and space.info["training_sounds"] + space.info["validation_sounds"] == 12
    loaded = SoundSpace.load(out)
    assert loaded.info["validation"]["vae"]["sc"] > 0 and loaded.points.shape[1] == 8


def test_training_resumes_from_its_checkpoint_and_is_reproducible(sounds: Path, tmp_path: Path) -> None:
    out = tmp_path / "a.space"

    def interrupt_in_epoch_2(line: str) -> None:  # Ctrl-C while epoch 2 finishes
        if line.startswith("epoch 2/"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train([sounds], out, _config(epochs=4, previews=0), progress=False, log=interrupt_in_epoch_2)
    assert len(json.loads((workdir_for(out) / "history.json").read_text())) == 1
    lines: list[str] = []
    resumed = train([sounds], out, _config(epochs=4, previews=0), progress=False, log=lines.append)
    assert any("continuing" in line and "after epoch 1" in line for line in lines)
    assert len(json.loads((workdir_for(out) / "history.json").read_text())) == 4
    # the same seed in a fresh folder gives the same weights as the interrupted-and-resumed run
    again = train([sounds], tmp_path / "b.space", _config(epochs=4, previews=0), progress=False, log=lambda _l: None)
    z = np.random.default_rng(0).standard_normal((4, 8)).astype(np.float32)
    np.testing.assert_allclose(again.decode(z), resumed.decode(z), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(again.points, resumed.points, rtol=1e-4, atol=1e-5)


def test_split_is_by_sound_and_frames_include_attack_and_release() -> None:
    train_ids, val_ids = split_by_sound(20, 0.1, seed=1)
    assert len(val_ids) == 2 and not set(train_ids) & set(val_ids) and len(train_ids) + len(val_ids) == 20
    assert list(pick_frames(22, 5)) == [0, 5, 10, 16, 21]
    assert list(pick_frames(3, 5)) == [0, 1, 2]
    drawn = pick_frames(22, 4, np.random.default_rng(0))
    assert len(set(drawn)) == 4 and drawn.min() >= 0 and drawn.max() < 22


def test_selected_frames_are_the_transforms_frames() -> None:
    t = Transform()
    audio = np.random.default_rng(0).standard_normal(11025).astype(np.float32)
    full = t.stft_magnitudes(audio)
    rows = np.array([0, 3, len(full) - 1])
    np.testing.assert_allclose(frame_magnitudes(audio, t, rows), full[rows], rtol=1e-4, atol=1e-3)


def test_empty_folder_and_too_few_sounds_are_usage_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no audio files"):
        train([tmp_path / "empty"], tmp_path / "x.space", _config(), progress=False, log=lambda _l: None)
    _write_sounds(tmp_path / "one", 1, seed=3)
    with pytest.raises(UsageError, match="at least 2"):
        train([tmp_path / "one"], tmp_path / "x.space", _config(), progress=False, log=lambda _l: None)


def test_cli_exits_2_with_one_line_on_an_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = subprocess.run([sys.executable, "-m", "aego", "train", str(tmp_path / "empty"), "-o",
                             str(tmp_path / "x.space")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "no audio files" in result.stderr


def test_mmd_regularisation_trains_too(sounds: Path, tmp_path: Path) -> None:
    out = tmp_path / "mmd.space"
    space = train([sounds], out, _config(regularization="mmd", previews=0), progress=False, log=lambda _l: None)
    history = json.loads((workdir_for(out) / "history.json").read_text())
    assert history[-1]["train_rec"] < 0.8 * history[0]["train_rec"]
    assert space.info["training"]["regularization"] == "mmd" and space.info["training"]["beta"] == 100.0


def test_every_folder_weighs_the_same_whatever_its_size(tmp_path: Path) -> None:
    _write_sounds(tmp_path / "few", 2, seed=5)
    _write_sounds(tmp_path / "many", 6, seed=6)
    frames = load_frames([tmp_path / "few", tmp_path / "many"], Transform(), 3, progress=False)
    folder_of = np.array([str(f) for f in frames.folders])[frames.sound]
    assert sorted(set(folder_of)) == [str(tmp_path / "few"), str(tmp_path / "many")]
    w = folder_weights(folder_of)
    assert w[folder_of == str(tmp_path / "few")].sum() == pytest.approx(w[folder_of == str(tmp_path / "many")].sum())
    assert (folder_of == str(tmp_path / "few")).sum() == 6 and (folder_of == str(tmp_path / "many")).sum() == 18


def test_the_random_equaliser_is_smooth_with_the_spread_asked_for() -> None:
    freqs = Transform().frequencies()
    assert np.array_equal(random_eq(freqs, 0.0, np.random.default_rng(0)), np.ones(len(freqs), np.float32))
    rng = np.random.default_rng(1)
    curves = np.stack([20 * np.log10(random_eq(freqs, 6.0, rng)) for _ in range(2000)])
    at = [int(np.argmin(np.abs(freqs - f))) for f in EQ_POINTS_HZ[1:-1]]
    assert np.all(np.abs(curves[:, at].std(axis=0) - 6.0) < 0.6)
    low = freqs <= EQ_POINTS_HZ[0]
    assert low.sum() > 1 and np.all(curves[:, low] == curves[:, :1])  # flat below the first point
    # between two control points the gain moves along a straight line in log frequency: no ripple
    for lo, hi in itertools.pairwise(EQ_POINTS_HZ):
        inside = np.flatnonzero((freqs > lo) & (freqs < hi))
        slopes = np.diff(curves[:, inside], axis=1) / np.diff(np.log(freqs[inside]))
        assert np.allclose(slopes, slopes[:, :1], atol=1e-2)


def test_training_through_an_equaliser_keeps_it_in_the_provenance(sounds: Path, tmp_path: Path) -> None:
    out = tmp_path / "eq.space"
    plain = train([sounds], tmp_path / "plain.space", _config(previews=0), progress=False, log=lambda _l: None)
    space = train([sounds], out, _config(previews=0, eq_db=6.0), progress=False, log=lambda _l: None)
    assert space.info["training"]["eq_db"] == 6.0
    # the training frames (and so the normalisation) went through the equalisers, the validation ones did not
    assert not np.allclose(space.norm.mean, plain.norm.mean)
    assert SoundSpace.load(out).info["training"]["eq_db"] == 6.0


@pytest.mark.parametrize("value", ["-1", "30", "nan"])
def test_cli_refuses_an_equaliser_out_of_range(value: str, tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "aego", "train", str(tmp_path), "-o", str(tmp_path / "x.space"),
                             "--eq-db", value], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "--eq-db" in result.stderr
