"""Pitch measurement for the tests: YIN, searched blindly over a wide range."""

from __future__ import annotations

import numpy as np


def yin_f0(x: np.ndarray, sample_rate: int, fmin: float = 25.0, fmax: float = 2500.0, threshold: float = 0.1) -> float:
    """Fundamental frequency by YIN (de Cheveigné & Kawahara 2002), searched blindly over fmin-fmax, Hz."""
    x = x.astype(np.float64)
    max_lag = int(sample_rate / fmin)
    n = len(x) - max_lag
    energy = np.concatenate([[0.0], np.cumsum(x**2)])
    # Difference function d(τ) = Σ (x[j] - x[j+τ])² over a window of n samples, via FFT correlation.
    size = 1 << int(np.ceil(np.log2(len(x) + n)))
    corr = np.fft.irfft(np.fft.rfft(x, size) * np.conj(np.fft.rfft(x[:n], size)), size)[: max_lag + 1]
    lags = np.arange(max_lag + 1)
    d = energy[n] + (energy[lags + n] - energy[lags]) - 2 * corr
    cmnd = np.ones_like(d)
    cmnd[1:] = d[1:] * lags[1:] / np.maximum(np.cumsum(d[1:]), 1e-12)
    lo = int(sample_rate / fmax)
    below = np.nonzero(cmnd[lo:] < threshold)[0]
    tau = lo + (below[0] if len(below) else int(np.argmin(cmnd[lo:])))
    while tau + 1 <= max_lag and cmnd[tau + 1] < cmnd[tau]:
        tau += 1
    a, b, c = cmnd[tau - 1], cmnd[tau], cmnd[tau + 1] if tau + 1 <= max_lag else cmnd[tau]
    shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
    return sample_rate / (tau + shift)


def cents(f: float, ref: float) -> float:
    return 1200 * np.log2(f / ref)
