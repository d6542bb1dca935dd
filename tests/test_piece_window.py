"""The rehearsal window under Xvfb: the run draws the spectrogram and the machine's state, keys legend shown."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from piece_support import command, env, summary

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb is not installed")]


@pytest.fixture
def display():
    read, write = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x720x24", "-nolisten", "tcp"],
                            pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as f:
        number = f.readline().strip()
    try:
        yield f":{number}"
    finally:
        xvfb.terminate()
        xvfb.wait(10)


def test_rehearse_window_draws_frames(tmp_path: Path, display: str):
    from aego.visuals.headless import read_png

    log = tmp_path / "session"
    frames = tmp_path / "frames"
    cmd = [c for c in command("rehearse", log, "--frames", str(frames), "--duration", "3") if c != "--no-window"]
    e = env()
    e["DISPLAY"] = display
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=150, env=e)
    assert out.returncode == 0, out.stderr
    s = summary(log)
    assert s["visuals"]["window"] is True and s["visuals"]["frames_written"] >= 1
    picture = read_png(sorted(frames.glob("*.png"))[-1])
    assert picture.shape[2] == 3 and picture.shape[0] >= 100
    # the overlay's text (top left) and the legend (bottom left) are drawn over a dark background
    h = picture.shape[0]
    assert picture[: h // 5, : picture.shape[1] // 3].max() > 150
    assert picture[-h // 8 :, : picture.shape[1] // 3].max() > 150
    assert np.median(picture[h // 3 : 2 * h // 3, : picture.shape[1] // 3]) < 60
