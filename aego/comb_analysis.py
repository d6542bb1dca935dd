"""Where a magnitude frame's partials are: the comb ``|b + k·s|`` that best explains its peaks.

A Gaussian analysis window makes every stationary sinusoid a Gaussian peak in the magnitude
spectrum, i.e. a parabola in log magnitude, so three bins give its frequency almost exactly. From
the peaks of one frame this module estimates:

- ``base`` ``b`` (Hz): the strongest peak;
- ``spacing`` ``s`` (Hz): the distance between neighbouring members of the comb ``|b + k·s|``,
  ``k ∈ ℤ``, that holds most of the peaks' magnitude. A harmonic tone gives ``b = l·f0, s = f0``; a
  two-operator FM tone gives ``b`` = its strongest sideband, ``s`` = the modulator frequency (the
  ``|·|`` folds the sidebands below 0 Hz, as the signal does);
- ``level``: ``log`` of the strongest peak's magnitude.

These three numbers are the pitch-aware part of the VAE's encoder (:mod:`aego.vae`): the decoder
places its peaks from them at continuous frequencies, which a decoder that outputs bins cannot do.
They need no labels, so a space trained on any folder of sounds gets them too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SILENT = 1e-4
"""Frames whose strongest bin is below this linear magnitude have no pitch (defaults are used)."""
PEAK_FLOOR = 1e-3
"""Peaks weaker than this fraction of a frame's strongest one are ignored."""
DEFAULT_HZ = 220.0
MIN_SPACING_BINS = 3
LOWEST_BIN = 2
FIT_TOLERANCE_BINS = 1.5


@dataclass(frozen=True)
class CombFeatures:
    """Per-frame comb estimates, each ``(n,)`` float64.

    Attributes:
        base: strongest peak, Hz.
        spacing: comb spacing, Hz.
        level: natural log of the strongest peak's linear magnitude.
    """

    base: np.ndarray
    spacing: np.ndarray
    level: np.ndarray

    def stack(self) -> np.ndarray:
        """``(n, 3)`` float64: ``log base, log spacing, level``."""
        return np.stack([np.log(self.base), np.log(self.spacing), self.level], axis=1)


def _parabola(lo: np.ndarray, mid: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertex offset (bins, within ±0.5) and height of the parabola through three log magnitudes."""
    den = lo - 2.0 * mid + hi
    ok = den < 0
    off = np.where(ok, 0.5 * (lo - hi) / np.where(ok, den, -1.0), 0.0)
    off = np.clip(off, -0.5, 0.5)
    return off, mid - 0.25 * (lo - hi) * off


def peaks(mags: np.ndarray, bin_hz: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every local maximum of every frame above :data:`PEAK_FLOOR` of the frame's maximum.

    Args:
        mags: ``(n, bins)`` linear magnitudes.
        bin_hz: Hz per bin.

    Returns:
        ``(row, freq, amp)``: frame index, frequency in Hz (parabolic interpolation in log magnitude) and
        linear magnitude at the vertex, each ``(p,)``, sorted by row.
    """
    x = np.asarray(mags, dtype=np.float64)
    logx = np.log(x + 1e-12)
    top = x.max(axis=1, keepdims=True)
    mid = x[:, 1:-1]
    mask = (mid > x[:, :-2]) & (mid >= x[:, 2:]) & (mid > PEAK_FLOOR * top) & (mid > SILENT * PEAK_FLOOR)
    row, col = np.nonzero(mask)
    col = col + 1
    off, height = _parabola(logx[row, col - 1], logx[row, col], logx[row, col + 1])
    return row, (col + off) * bin_hz, np.exp(height)


def _rough_spacing(mags: np.ndarray, bin_hz: float) -> np.ndarray:
    """Spacing from the autocorrelation of ``√X`` along frequency (lag ≥ 3 bins), refined to a fraction of
    a bin: ``(n,)`` Hz."""
    x = np.sqrt(np.asarray(mags, dtype=np.float64))
    x = x - x.mean(axis=1, keepdims=True)
    n_fft = 1 << int(np.ceil(np.log2(2 * x.shape[1])))
    ac = np.fft.irfft(np.abs(np.fft.rfft(x, n_fft, axis=1)) ** 2, n_fft, axis=1)[:, : x.shape[1] // 2]
    # The central lobe (each peak overlapping itself) falls until its first minimum: search beyond it.
    rising = np.diff(ac, axis=1) > 0
    start = np.maximum(np.argmax(rising, axis=1), MIN_SPACING_BINS)
    lags = np.arange(ac.shape[1])
    masked = np.where(lags[None, :] >= start[:, None], ac, -np.inf)
    lag = np.clip(np.argmax(masked[:, :-1], axis=1), 1, ac.shape[1] - 2)
    r = np.arange(len(x))
    off, _ = _parabola(ac[r, lag - 1], ac[r, lag], ac[r, lag + 1])
    return (lag + off) * bin_hz


def _fit_spacing(row: np.ndarray, freq: np.ndarray, amp: np.ndarray, base: np.ndarray, guess: np.ndarray,
                 n: int, tol_hz: float, rounds: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares spacing of the comb through ``base`` that the peaks fit, starting from ``guess``.

    Each peak takes the nearest comb member, direct (``f = b + k·s``) or folded (``f = -(b + k·s)``);
    peaks further than ``tol_hz`` (or a fifth of the spacing) from every member are left out. The
    tolerance must not grow with the spacing, or a comb twice too wide "fits" the peaks it falls between.

    Returns:
        ``(spacing (n,), explained (n,))``: the spacing in Hz and the share of the peaks' magnitude it fits.
    """
    s = guess.copy()
    total = np.bincount(row, weights=amp, minlength=n)
    explained = np.zeros(n)
    for _ in range(rounds):
        b, sp = base[row], s[row]
        k_dir = np.rint((freq - b) / sp)
        k_fold = np.rint((-freq - b) / sp)
        r_dir = np.abs(freq - b - k_dir * sp)
        r_fold = np.abs(-freq - b - k_fold * sp)
        fold = r_fold < r_dir
        k = np.where(fold, k_fold, k_dir)
        y = np.where(fold, -freq, freq) - b
        fits = np.minimum(r_dir, r_fold) < np.minimum(0.2 * sp, tol_hz)
        explained = np.bincount(row, weights=amp * fits, minlength=n) / np.maximum(total, 1e-30)
        use = fits & (k != 0)
        num = np.bincount(row, weights=(amp * k * y) * use, minlength=n)
        den = np.bincount(row, weights=(amp * k * k) * use, minlength=n)
        s = np.where(den > 0, num / np.where(den > 0, den, 1.0), s)
    return s, explained


def analyse(mags: np.ndarray, bin_hz: float, chunk: int = 4096) -> CombFeatures:
    """Comb estimates of every frame.

    Args:
        mags: ``(n, bins)`` linear magnitudes of the Gaussian-window transform.
        bin_hz: Hz per bin (``sample_rate / n_fft``).
        chunk: frames per vectorised batch (bounds the temporary memory).

    Returns:
        :class:`CombFeatures`. A silent frame gets ``base = spacing =`` :data:`DEFAULT_HZ`; a frame with one
        peak gets ``spacing = base`` (a pure tone is the first harmonic of itself).
    """
    mags = np.asarray(mags, dtype=np.float64)
    if mags.ndim != 2 or mags.shape[1] < 8:
        raise ValueError(f"magnitude frames (n, bins ≥ 8) expected, got shape {mags.shape}")
    n, bins = mags.shape
    base, spacing, level = np.empty(n), np.empty(n), np.empty(n)
    for start in range(0, n, chunk):
        x = mags[start : start + chunk]
        m = len(x)
        r = np.arange(m)
        # Bins 0-1 hold DC and rumble (a sample's offset), never a partial: they would put the comb at 10 Hz.
        k = LOWEST_BIN + np.argmax(x[:, LOWEST_BIN:-1], axis=1)
        logx = np.log(x + 1e-12)
        off, height = _parabola(logx[r, k - 1], logx[r, k], logx[r, k + 1])
        b = np.maximum((k + off) * bin_hz, bin_hz)
        silent = x.max(axis=1) < SILENT
        row, freq, amp = peaks(x, bin_hz)
        rough = _rough_spacing(x, bin_hz)
        # The autocorrelation may land on a multiple of the true spacing (a clarinet's missing even
        # harmonics) or a fraction of it: of the candidates, keep the widest that explains nearly as much
        # of the peaks' magnitude as the best one.
        fits = []
        for factor in (2.0, 1.0, 1 / 2, 1 / 3):
            cand = rough * factor
            ok = (cand >= MIN_SPACING_BINS * bin_hz) & (cand <= bins * bin_hz / 2)
            s_fit, expl = _fit_spacing(row, freq, amp, b, np.where(ok, cand, rough), m, FIT_TOLERANCE_BINS * bin_hz)
            fits.append((s_fit, np.where(ok, expl, -1.0)))
        best_e = np.max([e for _, e in fits], axis=0)
        best_s = np.full(m, np.nan)
        for s_fit, expl in fits:  # widest first
            take = np.isnan(best_s) & (expl >= best_e - 0.01)
            best_s = np.where(take, s_fit, best_s)
        n_peaks = np.bincount(row, minlength=m)
        s = np.where(n_peaks <= 1, b, best_s)
        s = np.clip(np.where(np.isfinite(s) & (s > 0), s, b), MIN_SPACING_BINS * bin_hz, bins * bin_hz)
        base[start : start + m] = np.where(silent, DEFAULT_HZ, b)
        spacing[start : start + m] = np.where(silent, DEFAULT_HZ, s)
        level[start : start + m] = np.where(silent, np.log(SILENT), height)
    return CombFeatures(base, spacing, level)
