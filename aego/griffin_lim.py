"""Offline phase reconstruction by Griffin-Lim, for audio previews of magnitudes (never real time).

Griffin & Lim (1984): alternate between imposing the wanted magnitudes and taking the STFT of the
least-squares inverse of the current estimate. Uses the space's own :class:`aego.transform.Transform`.
"""

from __future__ import annotations

import numpy as np

from aego.transform import Transform


def istft(spec: np.ndarray, transform: Transform) -> np.ndarray:
    """Least-squares inverse of :meth:`Transform.stft` (weighted overlap-add).

    Args:
        spec: ``(frames, bins)`` complex.

    Returns:
        ``((frames - 1) * hop,)`` float64 audio (frame ``m`` centred on sample ``m * hop``).
    """
    n_fft, hop = transform.n_fft, transform.hop
    window = transform.window()
    frames = np.fft.irfft(spec, n=n_fft, axis=1) * window
    n_frames = spec.shape[0]
    total = (n_frames - 1) * hop + n_fft
    out = np.zeros(total)
    norm = np.zeros(total)
    w2 = window**2
    for m in range(n_frames):
        out[m * hop : m * hop + n_fft] += frames[m]
        norm[m * hop : m * hop + n_fft] += w2
    out /= np.maximum(norm, 1e-3 * w2.max())
    half = n_fft // 2
    return out[half : half + (n_frames - 1) * hop]


def griffin_lim(mags: np.ndarray, transform: Transform, iterations: int = 48, seed: int = 0) -> np.ndarray:
    """Audio whose STFT magnitudes approach ``mags``.

    Args:
        mags: ``(frames, bins)`` linear magnitudes.
        transform: the transform ``mags`` belong to.
        iterations: Griffin-Lim iterations (32-64 is plenty for previews).
        seed: random initial phase.

    Returns:
        ``((frames - 1) * hop,)`` float32 audio.
    """
    mags = np.asarray(mags, dtype=np.float64)
    rng = np.random.default_rng(seed)
    phase = np.exp(2j * np.pi * rng.random(mags.shape))
    audio = istft(mags * phase, transform)
    for _ in range(iterations):
        spec = transform.stft(audio)[: mags.shape[0]].astype(np.complex128)
        if spec.shape[0] < mags.shape[0]:
            spec = np.pad(spec, ((0, mags.shape[0] - spec.shape[0]), (0, 0)))
        audio = istft(mags * np.exp(1j * np.angle(spec)), transform)
    return audio.astype(np.float32)


def normalise_peak(audio: np.ndarray, peak: float = 0.5) -> np.ndarray:
    """Scale ``audio`` so its peak is ``peak`` (silence stays silence)."""
    top = float(np.max(np.abs(audio))) if audio.size else 0.0
    return (audio * (peak / top)).astype(np.float32) if top > 0 else audio.astype(np.float32)
