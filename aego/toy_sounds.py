"""The two toy sound families of the thesis: additive harmonic tones and two-operator FM tones.

Pure functions: parameters in, audio out. Both families share the same envelope (100 ms linear
ramps in and out), length and level rule so that a sound space trained on them learns spectra
whose absolute magnitudes mean the same thing across the two sets.

- additive: ``x[n] = Σ_{l=1..L} exp(-l·d/L) · cos(2π f0 l n / fs + φ_l)``, random phases ``φ_l``.
- FM: ``x(t) = sin(2π f0 t + α sin(2π m f0 t))``, synthesised band-limited as its Bessel expansion
  ``Σ_k J_k(α) sin(2π (f0 + k m f0) t)`` without the components at or above Nyquist (a naive sampled
  FM tone with α = 30 and m = 3 reaches 56 kHz and folds back as noise; below Nyquist both are the
  same signal, sideband for sideband).

Every sound is scaled to the same peak level :data:`PEAK` (−6 dBFS).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import jv

SAMPLE_RATE = 22050
"""Hz; the default :class:`aego.transform.Transform` rate."""
DURATION = 0.5
"""Seconds per toy sound (about 22 analysis frames at hop 512)."""
RAMP = 0.1
"""Seconds of the linear fade in and of the fade out."""
PEAK = 0.5
"""Peak level of every toy sound, full scale 1 (−6 dBFS)."""


@dataclass(frozen=True)
class AdditiveParams:
    """One additive tone.

    Attributes:
        f0: fundamental, Hz.
        partials: number of harmonics ``L`` (1-7).
        decay: spectral decay ``d``; partial ``l`` has amplitude ``exp(-l·d/L)``.
    """

    f0: float
    partials: int
    decay: float


@dataclass(frozen=True)
class FMParams:
    """One FM tone.

    Attributes:
        f0: carrier frequency, Hz.
        ratio: modulator-to-carrier frequency ratio ``m`` (modulator at ``m·f0``).
        index: modulation index ``α``, radians.
    """

    f0: float
    ratio: float
    index: float


def envelope(n_samples: int, sample_rate: int = SAMPLE_RATE, ramp: float = RAMP) -> np.ndarray:
    """Linear ramps in and out of ``ramp`` seconds each, flat 1 in between.

    Returns:
        ``(n_samples,)`` float64 in [0, 1].
    """
    n_ramp = min(round(ramp * sample_rate), n_samples // 2)
    env = np.ones(n_samples)
    if n_ramp > 0:
        up = np.arange(n_ramp) / n_ramp
        env[:n_ramp] = up
        env[n_samples - n_ramp:] = up[::-1]
    return env


def additive_amplitudes(partials: int, decay: float) -> np.ndarray:
    """Amplitude of each partial, ``exp(-l·d/L)`` for ``l = 1..L``: shape ``(L,)``."""
    ls = np.arange(1, partials + 1)
    return np.exp(-ls * decay / partials)


def additive(
    params: AdditiveParams,
    phases: np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    duration: float = DURATION,
    peak: float = PEAK,
) -> np.ndarray:
    """An additive harmonic tone.

    Args:
        params: f0, number of partials, decay.
        phases: ``(L,)`` initial phase of each partial, radians.
        sample_rate: Hz.
        duration: seconds.
        peak: the peak level the sound is scaled to.

    Returns:
        ``(round(duration·sample_rate),)`` float32. Partials at or above Nyquist are left out.
    """
    n = round(duration * sample_rate)
    if params.partials < 1:
        raise ValueError(f"partials must be at least 1, not {params.partials}")
    amps = additive_amplitudes(params.partials, params.decay)
    ls = np.arange(1, params.partials + 1)
    keep = ls * params.f0 < sample_rate / 2
    t = np.arange(n) / sample_rate
    phase = 2 * np.pi * params.f0 * ls[keep, None] * t[None, :] + np.asarray(phases, float)[keep, None]
    x = amps[keep] @ np.cos(phase)
    return _finish(x, sample_rate, peak)


def fm_sidebands(params: FMParams, sample_rate: int = SAMPLE_RATE) -> tuple[np.ndarray, np.ndarray]:
    """The components of the FM tone's Bessel expansion that lie below Nyquist.

    Returns:
        ``(freqs, amps)``, each ``(K,)``, in order of ``k``: signed frequencies ``f0 + k·m·f0`` in Hz
        (a negative one sounds at ``|f|`` with inverted sign, as ``sin`` is odd) and amplitudes ``J_k(α)``.
        The kept ``k`` form one contiguous run.
    """
    alpha = float(params.index)
    # J_k(α) is below 1e-7 for |k| > α + 4·α^(1/3) + 10; the sum stays exact to 16-bit resolution.
    k_max = math.ceil(alpha + 4 * alpha ** (1 / 3) + 10) if alpha > 0 else 0
    ks = np.arange(-k_max, k_max + 1)
    freqs = params.f0 + ks * params.ratio * params.f0
    keep = np.abs(freqs) < sample_rate / 2
    return freqs[keep], jv(ks[keep], alpha)


def fm(
    params: FMParams,
    sample_rate: int = SAMPLE_RATE,
    duration: float = DURATION,
    peak: float = PEAK,
) -> np.ndarray:
    """A band-limited two-operator FM tone, ``sin(2π f0 t + α sin(2π m f0 t))`` without aliasing.

    Returns:
        ``(round(duration·sample_rate),)`` float32.
    """
    n = round(duration * sample_rate)
    t = np.arange(n) / sample_rate
    freqs, amps = fm_sidebands(params, sample_rate)
    if params.ratio == 0 or len(amps) == 1:
        # Every sideband sits on the carrier: a sine of amplitude Σ J_k(α).
        return _finish(amps.sum() * np.sin(2 * np.pi * params.f0 * t), sample_rate, peak)
    # Σ_k J_k(α) e^{i2π(f0 + k m f0)t} = e^{i2π f_lo t} · Σ_j J_{k_lo+j} w^j with w = e^{i2π m f0 t}:
    # Horner's rule costs one complex multiply-add per sideband instead of one sine per sideband.
    w = np.exp(2j * np.pi * params.ratio * params.f0 * t)
    acc = np.full(n, amps[-1], dtype=np.complex128)
    for a in amps[-2::-1]:
        acc *= w
        acc += a
    acc *= np.exp(2j * np.pi * freqs[0] * t)
    return _finish(acc.imag, sample_rate, peak)


def fm_naive(
    params: FMParams,
    sample_rate: int,
    duration: float = DURATION,
) -> np.ndarray:
    """The FM formula sampled directly (aliases when the sidebands pass Nyquist); for checks.

    Returns:
        ``(round(duration·sample_rate),)`` float64, no envelope, peak 1.
    """
    t = np.arange(round(duration * sample_rate)) / sample_rate
    return np.sin(2 * np.pi * params.f0 * t + params.index * np.sin(2 * np.pi * params.ratio * params.f0 * t))


def _finish(x: np.ndarray, sample_rate: int, peak: float) -> np.ndarray:
    x = x * envelope(len(x), sample_rate)
    top = float(np.max(np.abs(x))) if len(x) else 0.0
    if top > 0:
        x = x * (peak / top)
    return x.astype(np.float32)
