"""`aego bench visuals`: how long one frame of the projected picture takes to draw.

Draws offscreen through EGL (on a machine without a GPU that is Mesa's llvmpipe, the worst case
for a stage laptop) at 1280×720 and 1920×1080. Each frame does what a performance does: push the
spectrum frames that arrived (two a frame: ~94 frames a second from the engine against 60 pictures a
second), rewrite the text after every action (one in three frames: an action every 50 ms), draw
everything, and wait for the renderer to finish (``glFinish``), so the time is the real cost.

The contract keys (``frame_ms_p50``, ``frame_ms_p99``, ``width``, ``height``, ``renderer``) are for
1280×720; the same figures for 1920×1080 carry the suffix ``_1920x1080``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

SIZES = ((1280, 720), (1920, 1080))
SAMPLE_RATE = 22050
BINS = 1025


def evolving_spectra(frames: int, bins: int = BINS, sample_rate: float = SAMPLE_RATE, seed: int = 0) -> np.ndarray:
    """Harmonic spectra whose pitch and brightness drift slowly, ``(frames, bins)`` float32 linear magnitudes."""
    rng = np.random.default_rng(seed)
    freqs = np.linspace(0, sample_rate / 2, bins)
    out = np.empty((frames, bins), np.float32)
    for m in range(frames):
        f0 = 110.0 * 2 ** (1.5 + 1.5 * np.sin(m / 150.0))
        decay = 0.3 + 0.25 * (1 + np.sin(m / 90.0))
        spectrum = np.full(bins, 0.02)
        for partial in range(1, 12):
            spectrum += 300 * np.exp(-decay * partial) * np.exp(-0.5 * ((freqs - f0 * partial) / 12.0) ** 2)
        out[m] = spectrum * (1 + 0.05 * rng.standard_normal(bins))
    return out


def measure(ctx, width: int, height: int, seconds: float, spectra: np.ndarray) -> np.ndarray:
    """Frame times in milliseconds, ``(frames,)``, for ``seconds`` of drawing at ``width × height``."""
    from aego.visuals.headless import OffscreenTarget
    from aego.visuals.overlay import OverlayState
    from aego.visuals.spectrogram import SpectrogramRenderer

    target = OffscreenTarget(ctx, width, height)
    renderer = SpectrogramRenderer(ctx, width, height, spectra.shape[1], SAMPLE_RATE)
    rng = np.random.default_rng(1)
    renderer.set_map(rng.normal(0.5, 0.15, (2000, 2)))
    keys = ("left/right: reward -/+   down/up: zone -/+   e: explore   p: pause   m: mute",)
    position = np.full(8, 0.5)
    times = []
    step = 0
    started = time.perf_counter()
    frame = 0
    warmup = 20
    while frame < warmup or time.perf_counter() - started < seconds:
        t0 = time.perf_counter()
        m = (2 * frame) % (len(spectra) - 2)
        renderer.push(spectra[m:m + 2])
        if frame % 3 == 0:
            step += 1
            dim = step % 8
            position[dim] = np.clip(position[dim] + rng.choice((-0.01, 0.01)), 0, 1)
            renderer.set_overlay(OverlayState(
                mode="rehearse", elapsed=step * 0.05, space="synthetic", section="grow-8", projection="ica",
                dims=8, period=0.05, step=step, action=(dim, 1), position=tuple(position),
                reward=float(np.sin(step / 40)), reward_source="keyboard",
                estimates=tuple(rng.normal(0, 0.3, 16)), novelty=float(rng.random()),
                sensors="left ok · right ok", audio_load=0.2, underflows=0, keys=keys))
        renderer.render(target.fbo)
        ctx.finish()
        if frame >= warmup:
            times.append((time.perf_counter() - t0) * 1000.0)
        else:
            started = time.perf_counter()
        frame += 1
    renderer.release()
    target.release()
    return np.asarray(times)


def run_bench(args: argparse.Namespace) -> dict:
    """Measure both sizes; ``args.seconds`` is the time per size (default 4 s)."""
    from aego.visuals.headless import create_headless_context
    from tqdm import tqdm

    seconds = float(getattr(args, "seconds", None) or 4.0)
    ctx = create_headless_context()
    spectra = evolving_spectra(600)
    figures: dict = {}
    for width, height in tqdm(SIZES, desc="visuals", unit="size", disable=bool(getattr(args, "json", False))):
        times = measure(ctx, width, height, seconds, spectra)
        suffix = "" if (width, height) == SIZES[0] else f"_{width}x{height}"
        figures[f"frame_ms_p50{suffix}"] = round(float(np.percentile(times, 50)), 3)
        figures[f"frame_ms_p99{suffix}"] = round(float(np.percentile(times, 99)), 3)
        figures[f"frames{suffix}"] = len(times)
    figures = {"frame_ms_p50": figures.pop("frame_ms_p50"), "frame_ms_p99": figures.pop("frame_ms_p99"),
               "width": SIZES[0][0], "height": SIZES[0][1], "renderer": ctx.info["GL_RENDERER"], **figures}
    ctx.release()
    return figures
