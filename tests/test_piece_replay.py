"""aego replay: the session re-rendered offline through the same synthesis path, from the event log alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from piece_support import env, events, run

pytestmark = pytest.mark.slow


def _logspec(x: np.ndarray) -> np.ndarray:
    from scipy.signal import stft

    return np.log1p(100 * np.abs(stft(x, nperseg=2048, noverlap=1536)[2]))


def test_replay_renders_the_session_as_it_was_played(tmp_path: Path):
    from aego.render import render_timeline
    from aego.replay import plan
    from aego.synth import SynthConfig

    log = tmp_path / "session"
    live = tmp_path / "live.wav"
    out = run("play", log, "--audio", f"file:{live}", "--duration", "1.5", "--time-scale", "100", "--seed", "3")
    assert out.returncode == 0, out.stderr
    replayed = tmp_path / "replay.wav"
    done = subprocess.run([sys.executable, "-m", "aego", "replay", str(log), "-o", str(replayed)],
                          capture_output=True, text=True, timeout=300, env=env())
    assert done.returncode == 0, done.stderr
    a, rate_live = sf.read(live, dtype="float32")
    b, rate = sf.read(replayed, dtype="float32")
    assert rate == rate_live
    evs = events(log)
    first = next(e["t"] for e in evs if e["type"] == "section")
    end = next(e for e in evs if e["type"] == "end")
    assert abs(len(b) / rate - (end["t"] + end["fade_s"] - first + 0.2)) < 0.05
    # exactly the offline timeline renderer's result on the same plan (same path, streamed to disk)
    p = plan(log)
    assert sum(e.kind == "target" for e in p.timeline) == sum("latent" in e for e in evs)
    # (the synthesis is causal: the first second is enough to compare, and cheaper)
    reference = render_timeline(p.space, p.timeline, 1.0, SynthConfig(sample_rate=rate)).audio
    np.testing.assert_allclose(b[: len(reference)], reference, atol=1e-5)
    # and it sounds like the live output (aligned on the start of the first section)
    A, B = _logspec(a), _logspec(b)
    best = max(np.corrcoef(A[:, lag : lag + B.shape[1]][:, : B.shape[1]].ravel(),
                           B[:, : A[:, lag : lag + B.shape[1]].shape[1]].ravel())[0, 1]
               for lag in range(0, max(1, A.shape[1] - B.shape[1] // 2)))
    assert best > 0.6


def test_replay_refuses_a_folder_without_events(tmp_path: Path):
    done = subprocess.run([sys.executable, "-m", "aego", "replay", str(tmp_path), "-o", str(tmp_path / "x.wav")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "events.jsonl" in done.stderr and "Traceback" not in done.stderr
