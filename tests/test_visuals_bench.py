"""`aego bench visuals` reports the contract's keys (figures are measured, not asserted)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from aego.visuals.bench import run_bench
from aego.visuals.demo import render_demo
from aego.visuals.headless import read_png


def test_run_bench_reports_the_contract_keys_for_both_sizes():
    figures = run_bench(argparse.Namespace(seconds=0.2, json=True))
    for key in ("frame_ms_p50", "frame_ms_p99", "width", "height", "renderer"):
        assert key in figures
    assert (figures["width"], figures["height"]) == (1280, 720)
    assert figures["frame_ms_p99"] >= figures["frame_ms_p50"] > 0
    assert figures["frame_ms_p99_1920x1080"] >= figures["frame_ms_p50_1920x1080"] > 0
    assert isinstance(figures["renderer"], str) and figures["renderer"]


def test_the_command_prints_json_and_nothing_else():
    env = dict(os.environ, CI="true")
    out = subprocess.run([sys.executable, "-m", "aego", "bench", "visuals", "--json", "--seconds", "0.1"],
                         capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    figures = json.loads(out.stdout)
    assert figures["width"] == 1280 and "frame_ms_p99" in figures


def test_the_demo_picture_is_drawn(tmp_path):
    path = tmp_path / "demo.png"
    render_demo(str(path), 320, 180)
    picture = read_png(path)
    assert picture.shape == (180, 320, 3)
    assert picture[40:, :].max() > 200  # the spectrum
    assert picture[:30, :60].max() > 150  # the text begins at the top left


def test_the_demo_walks_a_sound_space_along_its_ica_axes():
    import numpy as np
    from aego.visuals.demo import space_walk, toy_walk

    from aego.space import SoundSpace

    space = SoundSpace.untrained(seed=3)
    spectra, positions, _, transform = space_walk(space, 40)
    assert spectra.shape == (40, transform.bins) and np.isfinite(spectra).all()
    assert positions.shape == (40, 4) and np.all((positions >= 0) & (positions <= 1))
    steps = np.abs(np.diff(positions, axis=0)).sum(axis=1)
    assert np.all(steps[0::2] == 0) and np.allclose(steps[1::2], 0.004)  # one small step every two frames
    spectra, positions, _, transform = toy_walk(40)
    assert spectra.shape == (40, transform.bins) and spectra.max() > 1.0
