"""``aego bench switch``: space changes while the sound plays, big spaces included, on a busy machine.

The engine plays into a real-time clock output (``--audio null``: 48 kHz, 256-sample blocks) and is asked
to change space every second, in turn to ``synthetic``, ``orchestral`` and a big space written for the
occasion (400 000 encoded points: a 23 MB file, five times the bundled ones), while another process
keeps a core busy. It starts from the big space, whose decoder gives bins: the first change is to a peak
decoder, whose kernels only the engine's warm-up can have loaded. It runs twice, with the audio queue of a
performance (the engine's two blocks) and with that of the unattended modes (``play``, ``install``:
:data:`aego.runner.UNATTENDED_BUFFER_MS`).

Figures per run: ``starved`` blocks (the ring could not fill a block), ``switches`` done, the longest
synthesis hop (``frame_ms_max``: a hop that built a space would show here) and the longest time the
synthesis loop was away (``gap_ms_max``: the machine, or another thread holding the GIL), and the load and
preparation time of the big space. The space files are read on a loader thread of the engine process,
which also prepares the new voice; the synthesis thread only adds it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

BIG_POINTS = 400_000


def write_big_space(path: Path, points: int = BIG_POINTS) -> Path:
    """A space with ``points`` encoded points (random weights: the size is what matters here)."""
    from aego.space import SoundSpace

    space = SoundSpace.untrained(seed=5)
    space.points = np.random.default_rng(5).standard_normal((points, space.latent_dim)).astype(np.float32)
    space.descriptors = {k: np.resize(v, points) for k, v in space.descriptors.items()}
    return space.save(path)


def _run(spaces: list[str], seconds: float, buffer_ms: float) -> dict[str, Any]:
    from aego.engine import Engine, EngineConfig

    engine = Engine(EngineConfig(audio="null", block=256, buffer_ms=buffer_ms), space=spaces[0])
    engine.start()
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    switches = 0
    try:
        time.sleep(1.0)
        before = engine.stats()
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            switches += engine.set_space(spaces[(switches + 1) % len(spaces)], 0.5)
            time.sleep(1.0)
            engine.spectra()
        time.sleep(1.0)
        stats = engine.stats()
    finally:
        hog.kill()
        hog.wait()
        engine.stop()
    events = engine.events()
    return {
        "buffer_ms": round(stats["fill_target"] / stats["sample_rate"] * 1e3, 2),
        "switches": switches,
        "loaded": sum(1 for e in events if e.get("what") == "space loaded"),
        "not_loaded": sum(1 for e in events if e.get("what") == "space not loaded"),
        "blocks": stats["blocks"] - before["blocks"],
        "starved": stats["starved"] - before["starved"],
        "frame_ms_max": stats["frame_ms_max"],
        "gap_ms_max": stats["gap_ms_max"],
        "stalls": stats["stalls"] - before["stalls"],
    }


def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    """Measure; ``args.seconds`` (default 30) of switching per buffer setting."""
    from aego.runner import UNATTENDED_BUFFER_MS
    from aego.space import SoundSpace
    from aego.synth import Synth, SynthConfig

    seconds = float(getattr(args, "seconds", None) or 30.0)
    with tempfile.TemporaryDirectory(prefix="aego-switch-") as tmp:
        big = write_big_space(Path(tmp) / "big.space")
        size_mb = big.stat().st_size / 1e6
        t0 = time.perf_counter()
        space = SoundSpace.load(big)
        load_ms = (time.perf_counter() - t0) * 1e3
        synth = Synth(SoundSpace.load("synthetic"), SynthConfig(sample_rate=48000))
        t0 = time.perf_counter()
        synth.prepare_voice(space)
        prepare_ms = (time.perf_counter() - t0) * 1e3
        spaces = [str(big), "synthetic", "orchestral"]
        performance = _run(spaces, seconds, 0.0)
        unattended = _run(spaces, seconds, UNATTENDED_BUFFER_MS)
    return {
        "big_space_mb": round(size_mb, 1),
        "big_load_ms": round(load_ms, 1),
        "big_prepare_ms": round(prepare_ms, 1),
        "performance": performance,
        "unattended": unattended,
    }
