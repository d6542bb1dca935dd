"""`aego eval`: the CONTRACT §7 figures, on the bundled space and held-out toy sounds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from aego.evaluation import evaluate_folder, evaluate_frames, table
from aego.space import SoundSpace
from aego.toy_sounds import AdditiveParams, FMParams, additive, fm


@pytest.fixture(scope="module")
def held_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few toy sounds with parameters off the training grid (no space has seen them)."""
    folder = tmp_path_factory.mktemp("held-out")
    rng = np.random.default_rng(2024)
    for i in range(4):
        partials = int(rng.integers(2, 8))
        p = AdditiveParams(float(rng.uniform(70, 1000)), partials, float(rng.uniform(0.3, 3.9)))
        sf.write(folder / f"additive{i}.wav", additive(p, rng.uniform(0, 2 * np.pi, partials)), 22050)
        q = FMParams(float(rng.uniform(65, 590)), float(rng.uniform(0.1, 2.9)), float(rng.uniform(0.5, 29)))
        sf.write(folder / f"fm{i}.wav", fm(q), 22050)
    (folder / "notes.txt").write_text("not audio: ignored")
    return folder


def test_metrics_follow_their_definitions() -> None:
    space = SoundSpace.untrained(seed=5)
    rng = np.random.default_rng(0)
    x = space.decode(rng.standard_normal((40, 8))) + rng.exponential(0.5, (40, 1025)).astype(np.float32)
    figures = evaluate_frames(space, [x[:25], x[25:]])  # chunked on purpose
    u = space.norm.forward(x)
    for model, u_hat in (("vae", space.reconstruct_normalised(u)), ("pca", space.baseline.reconstruct(u))):
        x_hat = space.norm.inverse(u_hat).astype(np.float64)
        assert figures[model]["sc"] == pytest.approx(np.linalg.norm(x - x_hat) / np.linalg.norm(x), rel=1e-5)
        assert figures[model]["l2"] == pytest.approx(np.mean((u - u_hat) ** 2), rel=1e-4)
        assert figures[model]["log_l1"] == pytest.approx(np.mean(np.abs(np.log1p(x) - np.log1p(x_hat))), rel=1e-4)
    assert figures["frames"] == 40 and figures["dims"] == 8


def test_bundled_space_beats_its_pca_baseline_on_held_out_sounds(held_out: Path) -> None:
    figures, skipped = evaluate_folder(SoundSpace.load("synthetic"), [held_out])
    assert not skipped and figures["sounds"] == 8
    assert figures["vae"]["sc"] < figures["pca"]["sc"]
    assert figures["vae"]["l2"] < figures["pca"]["l2"]
    assert figures["vae"]["log_l1"] < figures["pca"]["log_l1"]
    assert "VAE/PCA" in table(figures)


def test_cli_json(held_out: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "aego", "eval", "synthetic", str(held_out), "--json"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["dims"] == 8
    assert figures["frames"] == 8 * (1 + 11025 // 512)  # every frame of the 8 half-second sounds
    for model in ("vae", "pca"):
        assert set(figures[model]) >= {"sc", "l2", "log_l1"}
        assert all(np.isfinite(v) and v >= 0 for v in figures[model].values())


def test_cli_table_and_bad_input(held_out: Path, tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "aego", "eval", "synthetic", str(held_out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and "VAE/PCA" in result.stdout and "sc" in result.stdout
    (tmp_path / "empty").mkdir()
    result = subprocess.run([sys.executable, "-m", "aego", "eval", "synthetic", str(tmp_path / "empty")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
