"""How well a space reconstructs sounds: its VAE against the PCA baseline stored with it (CONTRACT §7).

On every frame ``X`` (linear magnitudes) of the data, both models see the same input ``u`` (the space's
normalised log representation) and give ``û``; ``X̂`` is ``û`` mapped back to linear magnitudes.

- ``sc`` = ‖X − X̂‖_F / ‖X‖_F over all frames (linear magnitudes; 0 is perfect);
- ``l2`` = mean of (u − û)² (the model's normalised input representation);
- ``log_l1`` = mean of |log(1+X) − log(1+X̂)|.

The VAE reconstructs through the posterior mean (no sampling), as the instrument does when it encodes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from aego.space import SoundSpace

METRICS = ("sc", "l2", "log_l1")


class _Sums:
    """Running sums of one model's errors, so any number of frames can be measured in chunks."""

    def __init__(self) -> None:
        self.err2 = 0.0  # Σ (X - X̂)²
        self.ref2 = 0.0  # Σ X²
        self.l2 = 0.0  # Σ (u - û)²
        self.log_l1 = 0.0  # Σ |log1p X - log1p X̂|
        self.values = 0

    def add(self, mags: np.ndarray, u: np.ndarray, u_hat: np.ndarray, space: SoundSpace) -> None:
        x = mags.astype(np.float64)
        x_hat = space.norm.inverse(u_hat).astype(np.float64)
        self.err2 += float(((x - x_hat) ** 2).sum())
        self.ref2 += float((x**2).sum())
        self.l2 += float(((u.astype(np.float64) - u_hat) ** 2).sum())
        self.log_l1 += float(np.abs(np.log1p(x) - np.log1p(x_hat)).sum())
        self.values += x.size

    def result(self) -> dict[str, float]:
        n = max(self.values, 1)
        sc = float(np.sqrt(self.err2 / self.ref2)) if self.ref2 > 0 else float("inf")
        return {"sc": sc, "l2": self.l2 / n, "log_l1": self.log_l1 / n}


def evaluate_frames(space: SoundSpace, frames: Iterable[np.ndarray]) -> dict[str, Any]:
    """The figures of CONTRACT §7 on frames given in chunks.

    Args:
        space: the space (its VAE and its PCA baseline).
        frames: chunks of linear magnitudes, each ``(n_i, bins)``.

    Returns:
        ``{"dims", "frames", "vae": {"sc", "l2", "log_l1"}, "pca": {...}, "ratio": {...}}``;
        ``ratio`` is vae / pca for each metric.
    """
    vae, pca = _Sums(), _Sums()
    count = 0
    for chunk in frames:
        mags = np.asarray(chunk, dtype=np.float32)
        if mags.size == 0:
            continue
        u = space.norm.forward(mags)
        vae.add(mags, u, space.reconstruct_normalised(u), space)
        pca.add(mags, u, space.baseline.reconstruct(u), space)
        count += mags.shape[0]
    out: dict[str, Any] = {"dims": space.latent_dim, "frames": count, "vae": vae.result(), "pca": pca.result()}
    out["ratio"] = {
        k: (out["vae"][k] / out["pca"][k] if out["pca"][k] > 0 else float("inf")) for k in METRICS
    }
    return out


def evaluate_folder(space: SoundSpace, paths: Sequence[str | os.PathLike]) -> tuple[dict[str, Any], list]:
    """Evaluate on every frame of every usable audio file under ``paths``.

    Returns:
        ``(figures, skipped)``: figures as :func:`evaluate_frames` plus ``"sounds"``; ``skipped`` lists
        the unusable files (``aego.audio_files.Skipped``).

    Raises:
        UsageError: no folder, no audio file, nothing usable.
    """
    from aego.audio_files import AudioFolder

    folder = AudioFolder(list(paths), space.transform.sample_rate)
    sounds = 0

    def chunks() -> Iterable[np.ndarray]:
        nonlocal sounds
        batch: list[np.ndarray] = []
        size = 0
        for _name, audio in folder:
            mags = space.transform.stft_magnitudes(audio)
            batch.append(mags)
            size += len(mags)
            sounds += 1
            if size >= 8192:
                yield np.concatenate(batch)
                batch, size = [], 0
        if batch:
            yield np.concatenate(batch)

    figures = evaluate_frames(space, chunks())
    figures["sounds"] = sounds
    return figures, list(folder.skipped)


def table(figures: dict[str, Any], title: str = "") -> str:
    """The figures as a small readable table."""
    lines = []
    if title:
        lines.append(title)
    lines.append(f"{figures['frames']} frames" + (f" of {figures['sounds']} sounds" if "sounds" in figures else "")
                 + f", {figures['dims']} dimensions")
    lines.append(f"{'':8}{'VAE':>12}{'PCA':>12}{'VAE/PCA':>10}")
    names = {"sc": "sc", "l2": "l2", "log_l1": "log_l1"}
    for k in METRICS:
        v, p = figures["vae"][k], figures["pca"][k]
        ratio = v / p if p > 0 else float("inf")
        lines.append(f"{names[k]:8}{v:12.5f}{p:12.5f}{ratio:10.4f}")
    return "\n".join(lines)


def time_frame_decoder(space: SoundSpace, calls: int = 4000, seed: int = 0) -> dict[str, float]:
    """Wall time of the real-time single-frame decoder, one call at a time, in this thread.

    Run it in a process limited to one core's worth of threads (``OMP_NUM_THREADS=1``,
    ``OPENBLAS_NUM_THREADS=1``) to measure the engine's situation. Returns ``{"calls", "p50_ms", "p99_ms",
    "max_ms"}`` (wall time) and ``"cpu_p50_ms", "cpu_p99_ms"`` (this thread's CPU time: what the decoder
    itself costs when other processes preempt it); a benchmark, never a test threshold.
    """
    import time

    decode = space.frame_decoder()
    rng = np.random.default_rng(seed)
    bounds = space.latent_bounds
    zs = (bounds[:, 0] + rng.random((calls + 200, space.latent_dim)) * (bounds[:, 1] - bounds[:, 0])).astype(
        np.float32)
    for z in zs[:200]:  # warm caches
        decode(z)
    wall = np.empty(calls)
    cpu = np.empty(calls)
    for i, z in enumerate(zs[200:]):
        c0, t0 = time.thread_time(), time.perf_counter()
        decode(z)
        wall[i], cpu[i] = time.perf_counter() - t0, time.thread_time() - c0
    wall, cpu = wall * 1e3, cpu * 1e3
    return {"calls": calls, "p50_ms": float(np.percentile(wall, 50)), "p99_ms": float(np.percentile(wall, 99)),
            "max_ms": float(wall.max()), "cpu_p50_ms": float(np.percentile(cpu, 50)),
            "cpu_p99_ms": float(np.percentile(cpu, 99))}
