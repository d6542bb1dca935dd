"""Perceptual descriptors of magnitude frames: spectral centroid, bandwidth and flatness.

All functions take linear magnitudes ``(n, bins)`` and the bin frequencies ``(bins,)`` in Hz and return
``(n,)`` float32. A silent frame gives centroid 0, bandwidth 0 and flatness 1 (white, by convention).
"""

from __future__ import annotations

import numpy as np

EPS = 1e-10


def centroid(mags: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    """Magnitude-weighted mean frequency, Hz."""
    m = np.asarray(mags, dtype=np.float64)
    total = m.sum(axis=1)
    return np.where(total > EPS, (m @ freqs) / np.maximum(total, EPS), 0.0).astype(np.float32)


def bandwidth(mags: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    """Magnitude-weighted standard deviation of frequency around the centroid, Hz."""
    m = np.asarray(mags, dtype=np.float64)
    total = np.maximum(m.sum(axis=1), EPS)
    c = (m @ freqs) / total
    var = (m * (freqs[None, :] - c[:, None]) ** 2).sum(axis=1) / total
    return np.where(m.sum(axis=1) > EPS, np.sqrt(np.maximum(var, 0.0)), 0.0).astype(np.float32)


def flatness(mags: np.ndarray) -> np.ndarray:
    """Geometric over arithmetic mean of the power spectrum, in [0, 1] (1 = white noise, ~0 = a few peaks)."""
    p = np.asarray(mags, dtype=np.float64) ** 2 + EPS
    return (np.exp(np.log(p).mean(axis=1)) / p.mean(axis=1)).astype(np.float32)


def describe(mags: np.ndarray, freqs: np.ndarray) -> dict[str, np.ndarray]:
    """All three descriptors, ``{"centroid", "bandwidth", "flatness"}`` -> ``(n,)`` each."""
    return {"centroid": centroid(mags, freqs), "bandwidth": bandwidth(mags, freqs), "flatness": flatness(mags)}
