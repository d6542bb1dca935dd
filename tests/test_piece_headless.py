"""The whole piece, headless, at a high time scale: every section in order, OSC out seen by liblo's oscdump."""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from piece_support import AUDIO_KEYS, SUMMARY_KEYS, events, free_port, run, summary

from aego.score import load_score

pytestmark = pytest.mark.slow


def test_the_piece_plays_every_section_in_order(tmp_path: Path):
    piece = [s.name for s in load_score("aego").sections]
    log = tmp_path / "session"
    port = free_port()
    dump = None
    lines: list[str] = []
    if shutil.which("oscdump"):
        dump = subprocess.Popen(["oscdump", "-L", str(port)], stdout=subprocess.PIPE, text=True)
        threading.Thread(target=lambda: lines.extend(iter(dump.stdout.readline, "")), daemon=True).start()
    try:
        out = run("play", log, "--score", "aego", "--time-scale", "150", "--seed", "1", send=port)
    finally:
        if dump is not None:
            dump.terminate()
            dump.wait(5)
    assert out.returncode == 0, out.stderr
    evs = events(log)
    entered = [e["name"] for e in evs if e["type"] == "section"]
    assert entered == piece
    first = next(e for e in evs if e["type"] == "section")
    assert (first["space"], first["dims"], first["projection"]) == ("untrained", 1, "ica")
    assert [e["dims"] for e in evs if e["type"] == "section"] == [1, 2, 4, 8, 8, 4, 2, 1]
    actions = [e for e in evs if e["type"] == "action"]
    assert actions and all(len(a["latent"]) == 8 and a["dir"] in (1, -1) for a in actions)
    assert all(len(a["z"]) == next(s["dims"] for s in evs if s["type"] == "section" and s["name"] == a["section"])
               for a in actions)
    assert [e["t"] for e in evs] == sorted(e["t"] for e in evs)
    s = summary(log)
    assert set(s) >= SUMMARY_KEYS and set(s["audio"]) >= AUDIO_KEYS
    assert s["sections"] == piece and s["actions"] == len(actions)
    assert s["ended_by"] in ("fixed-point", "duration")
    assert s["audio"]["backend"] == "null" and s["audio"]["frames"] > 0
    assert {"received", "malformed"} <= set(s["osc"])
    if dump is not None:
        sent = [line.split('"')[1] for line in lines if "/aego/section" in line]
        assert sent == piece
        assert any("/aego/action ii" in line for line in lines)
        assert any("/aego/latent " + "f" * 8 in line for line in lines)


@pytest.mark.parametrize("space_name", ["synthetic", "orchestral"])
def test_every_position_of_the_explorer_box_is_a_target_in_the_trained_range(space_name: str):
    import itertools

    import numpy as np

    from aego.runner import latent_target
    from aego.space import SoundSpace
    from aego.synth import SynthConfig

    space = SoundSpace.load(space_name)
    bounds = space.latent_bounds.astype(np.float64)
    width = bounds[:, 1] - bounds[:, 0]
    margin = SynthConfig().clamp_margin
    projection = space.projection("ica")
    corners = [np.array(c, dtype=np.float64) for c in itertools.product((0.0, 1.0), repeat=space.latent_dim)]
    raw = np.array([projection.to_latent(projection.denormalise(c)) for c in corners])
    # Why the runner clips: some corners of the ICA box are beyond even the engine's widened range.
    assert (raw > bounds[:, 1] + margin * width).any() or (raw < bounds[:, 0] - margin * width).any()
    targets = np.array([latent_target(projection, c, space.latent_bounds) for c in corners])
    assert (targets >= bounds[:, 0] - 1e-6).all() and (targets <= bounds[:, 1] + 1e-6).all()
