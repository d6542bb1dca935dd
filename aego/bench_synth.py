"""`aego bench synth`: what the synthesis path costs and how faithful it is (CONTRACT §8).

Figures (``--json`` keys):

- ``frame_ms_p50``, ``frame_ms_p99``, ``frame_ms_mean``: one hop of the live path (glide, decode, magnitudes
  to the device rate, phase: partials or RTPGHI, inverse FFT, overlap-add), ``Synth.next_hop``, on one core
  (one BLAS thread, one FFT worker), at the engine's priority (SCHED_FIFO when permitted), over a random
  trajectory;
- ``hop_ms``: the synthesis hop; ``sc_db``: spectral convergence (dB) of the rendered output, re-analysed
  with the synthesis transform, against the magnitudes that were decoded (edges of half a window left
  out); ``sc_db_causal``: the same without look-ahead; ``sc_db_drawn``: the same output against the
  frames the engine inverted: for a peak decoder its partials with their own phases and its noise envelope
  shaping a noise (:mod:`aego.partials`; where close partials beat, a partial glides or a noise has its
  grain, these differ from the decoder's magnitudes, which no signal has), for a decoder of bins the
  decoded magnitudes themselves; ``sc_db_rtpghi``: every frame phased by RTPGHI from the decoded
  magnitudes instead (how the engine played peak decoders before), against them;
- ``gl32_frame_ms``, ``gl32_sc_db``: 32 iterations of (fast) Griffin-Lim on the same decoded magnitudes,
  same transform, same FFT library, offline, in the same thread at the same priority right after the
  hops are timed: wall time per frame (the better of two runs) and spectral convergence;
  ``gl32_sc_db_drawn``: Griffin-Lim on the frames drawn, against them; ``gl32_over_frame`` is
  ``gl32_frame_ms / frame_ms_p50`` (the issue's ratio), ``gl32_over_frame_mean`` the same against the mean
  hop (both are then averages over the run);
- ``latency_ms_p50``, ``latency_ms_max``: control-to-sound latency measured by a running engine (null output
  paced like a 256-frame device, every target of a 10 s walk): from ``set_target`` to the first output
  sample whose frame carries it leaving a device with one block of output buffer (see docs/engine.md);
  ``latency_bound_ms`` is one analysis hop plus one block; ``load``: the engine's synthesis time as a
  fraction of one core.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import time
from typing import Any

import numpy as np


def _sc_db(rendering: Any, reference: np.ndarray | None = None) -> float:
    """Spectral convergence (dB) of ``rendering.audio`` re-analysed against ``reference`` (default: the decoded
    magnitudes, ``rendering.magnitudes``), half a window at each end left out."""
    from aego.transform import spectral_convergence, to_db

    tf = rendering.transform
    reference = rendering.magnitudes if reference is None else reference
    again = tf.stft_magnitudes(rendering.audio)
    edge = tf.n_fft // (2 * tf.hop)
    n = min(len(again), len(reference))
    return to_db(spectral_convergence(reference[edge : n - edge], again[edge : n - edge]))


def _frame_times(space: Any, config: Any, timeline: list, hops: int) -> np.ndarray:
    """Seconds per ``Synth.next_hop`` along ``timeline``, ``(hops,)``, at SCHED_FIFO when permitted (the
    calling thread keeps that priority, so what is timed after runs the same way)."""
    from aego.audio_out import set_realtime
    from aego.synth import Synth

    synth = Synth(space, config)
    for _ in range(16):  # warm-up: numba cache, FFT plans
        synth.next_hop()
    synth = Synth(space, config)
    set_realtime(0, 60)
    times = np.empty(hops)
    i = 0
    hop_s = synth.hop / synth.sample_rate
    for j in range(hops):
        while i < len(timeline) and timeline[i].t <= j * hop_s:
            synth.set_target(timeline[i].value)
            i += 1
        t0 = time.perf_counter()
        synth.next_hop()
        times[j] = time.perf_counter() - t0
    return times


def _griffin_lim_ms(mags: np.ndarray, transform: Any, runs: int = 2) -> tuple[float, np.ndarray]:
    """Milliseconds per frame of 32 Griffin-Lim iterations (the best of ``runs``), and its audio."""
    from aego.pghi import griffin_lim

    best = math.inf
    audio = np.zeros(0)
    for _ in range(runs):
        t0 = time.perf_counter()
        audio = griffin_lim(mags, transform, n_iter=32)
        best = min(best, (time.perf_counter() - t0) * 1e3 / len(mags))
    return best, audio


def _live_latency(space: Any, seconds: float) -> dict[str, Any]:
    from aego.engine import Engine, EngineConfig

    engine = Engine(EngineConfig(audio="null", block=256), space=space)
    engine.start()
    try:
        rng = np.random.default_rng(1)
        lo, hi = np.asarray(space.latent_bounds).T
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            engine.set_target(rng.uniform(lo, hi))
            time.sleep(0.05)
        time.sleep(1.2)  # let the engine publish its once-a-second figures
        stats = engine.stats()
    finally:
        engine.stop()
    keys = ("latency_ms_p50", "latency_ms_max", "latency_count", "latency_estimated", "load", "underflows")
    return {k: stats[k] for k in keys}


def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    """Measure; ``args.space`` (default ``synthetic``), ``args.seconds`` (default 10) of trajectory."""
    from dataclasses import replace

    from threadpoolctl import threadpool_limits

    from aego.engine import EngineConfig
    from aego.render import render_timeline, trajectory
    from aego.space import SoundSpace
    from aego.synth import SynthConfig

    seconds = float(getattr(args, "seconds", None) or 10.0)
    space = SoundSpace.load(getattr(args, "space", None) or "synthetic")
    live = EngineConfig()  # measure what the engine runs
    config = SynthConfig(sample_rate=48000, redundancy=live.redundancy, lookahead=live.lookahead,
                         glide_s=live.glide_s, gain=live.gain)
    timeline = trajectory(space, "random", seconds, seed=0)
    with threadpool_limits(1):
        rendering = render_timeline(space, timeline, seconds, config)
        causal = render_timeline(space, timeline, seconds, replace(config, lookahead=False))
        guessed = render_timeline(space, timeline, seconds, replace(config, phase="rtpghi"))
        tf = rendering.transform
        hops = int(seconds * tf.sample_rate / tf.hop)
        try:
            times = _frame_times(space, config, timeline, hops) * 1e3
            gl_ms, gl_audio = _griffin_lim_ms(rendering.magnitudes, tf)
            _, gl_drawn_audio = _griffin_lim_ms(rendering.drawn, tf, runs=1)
        finally:  # back to normal priority: processes started from here (the engine) must not inherit it
            with contextlib.suppress(OSError, AttributeError):
                os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    gl_rendering = type(rendering)(audio=gl_audio.astype(np.float32), transform=tf,
                                   magnitudes=rendering.magnitudes, latents=rendering.latents)
    gl_drawn = type(rendering)(audio=gl_drawn_audio.astype(np.float32), transform=tf,
                               magnitudes=rendering.drawn, latents=rendering.latents)
    running = _live_latency(space, min(seconds, 10.0))
    p50, p99 = np.percentile(times, [50, 99])
    mean = float(times.mean())
    analysis_hop_ms = space.transform.hop / space.transform.sample_rate * 1e3
    return {
        "space": space.name,
        "sample_rate": tf.sample_rate,
        "n_fft": tf.n_fft,
        "hop": tf.hop,
        "lookahead": config.lookahead,
        "frame_ms_p50": round(float(p50), 4),
        "frame_ms_p99": round(float(p99), 4),
        "frame_ms_mean": round(mean, 4),
        "hop_ms": round(tf.hop / tf.sample_rate * 1e3, 4),
        "sc_db": round(_sc_db(rendering), 2),
        "sc_db_causal": round(_sc_db(causal), 2),
        "sc_db_drawn": round(_sc_db(rendering, rendering.drawn), 2),
        "sc_db_rtpghi": round(_sc_db(guessed), 2),
        "gl32_frame_ms": round(gl_ms, 3),
        "gl32_sc_db": round(_sc_db(gl_rendering), 2),
        "gl32_sc_db_drawn": round(_sc_db(gl_drawn), 2),
        "gl32_over_frame": round(gl_ms / float(p50), 1),
        "gl32_over_frame_mean": round(gl_ms / mean, 1),
        "latency_ms_p50": running["latency_ms_p50"],
        "latency_ms_max": running["latency_ms_max"],
        "latency_count": running["latency_count"],
        "latency_estimated": running["latency_estimated"],
        "latency_bound_ms": round(analysis_hop_ms + 256 / 48000 * 1e3, 2),
        "centre_delay_ms": round(tf.n_fft / 2 / tf.sample_rate * 1e3, 2),
        "load": running["load"],
        "engine_underflows": running["underflows"],
    }
