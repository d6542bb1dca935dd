"""Inverse Gaussian STFT: the synthesis transform, its dual window, streaming and offline overlap-add.

The engine synthesises at the audio device's rate with a synthesis hop that may be smaller than the
analysis hop. :func:`synthesis_transform` gives that transform: the space's time-frequency tiling moved
to the device rate (:meth:`aego.transform.Transform.resampled`), its FFT size rounded up to a fast
length (scipy's ``next_fast_len``; the Gaussian window is the same, the extra samples are ~0) and its
hop set to ``n_fft // redundancy``.

Phase convention shared with :meth:`aego.transform.Transform.stft`: an FFT frame starts ``n_fft // 2``
samples before its centre ``m * hop``.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy import fft as sfft

from aego.transform import Transform


def synthesis_transform(space: Transform, sample_rate: int, redundancy: int = 8) -> Transform:
    """The transform the engine inverts at ``sample_rate`` Hz.

    Args:
        space: the sound space's transform (what the decoder's magnitudes are in).
        sample_rate: the audio device's rate, Hz.
        redundancy: ``n_fft / hop`` of the synthesis (4 is the space's analysis redundancy).

    Returns:
        A :class:`Transform` with ``hop = n_fft // redundancy``.
    """
    moved = space.resampled(int(sample_rate)) if int(sample_rate) != space.sample_rate else space
    # A fast FFT length that the hop divides, with half a window a whole number of hops (so synthesis
    # frames line up with a re-analysis at the same hop).
    step = 2 * int(redundancy)
    n_fft = -(-moved.n_fft // step) * step
    while sfft.next_fast_len(n_fft, real=True) != n_fft:
        n_fft += step
    return Transform(sample_rate=int(sample_rate), n_fft=n_fft, hop=max(1, n_fft // int(redundancy)),
                     window_std=moved.window_std)


def dual_window(transform: Transform) -> np.ndarray:
    """The canonical dual of the Gaussian window for overlap-add at ``transform.hop``.

    ``w = g / Σ_j g²(n + j·hop)``, so that analysis then synthesis gives the signal back exactly.

    Returns:
        ``(n_fft,)`` float64.
    """
    g = transform.window()
    n, a = transform.n_fft, transform.hop
    sq = g * g
    total = np.zeros(n)
    for shift in range(-(n // a) - 1, n // a + 2):
        lo, hi = max(0, shift * a), min(n, n + shift * a)
        if lo < hi:
            total[lo:hi] += sq[lo - shift * a : hi - shift * a]
    return g / np.maximum(total, 1e-12)


@njit(cache=True, nogil=True)
def _overlap_add(acc: np.ndarray, frame: np.ndarray, window: np.ndarray, out: np.ndarray) -> None:
    """Add ``frame * window`` to ``acc``, move the first ``len(out)`` finished samples to ``out``, shift."""
    n = frame.shape[0]
    a = out.shape[0]
    for i in range(n):
        acc[i] += frame[i] * window[i]
    for i in range(a):
        out[i] = acc[i]
    for i in range(n - a):
        acc[i] = acc[i + a]
    for i in range(n - a, n):
        acc[i] = 0.0


class OverlapAdd:
    """Streaming inverse STFT: one complex frame in, ``hop`` finished samples out.

    The samples returned after frame ``m`` are those starting ``n_fft // 2`` samples before the frame's
    centre: the inverse transform itself adds no delay beyond the half window.
    """

    def __init__(self, transform: Transform) -> None:
        self.transform = transform
        self.window = dual_window(transform)
        self.acc = np.zeros(transform.n_fft)
        self.out = np.zeros(transform.hop)

    def reset(self) -> None:
        self.acc[:] = 0.0

    def push(self, spectrum: np.ndarray) -> np.ndarray:
        """Args: spectrum ``(bins,)`` complex, frame-start phase convention. Returns ``(hop,)`` float64 (a view,
        valid until the next call)."""
        frame = sfft.irfft(spectrum, n=self.transform.n_fft)
        _overlap_add(self.acc, frame, self.window, self.out)
        return self.out


def istft(spectra: np.ndarray, transform: Transform, length: int | None = None) -> np.ndarray:
    """Offline inverse of :meth:`Transform.stft` (least-squares, dual window).

    Args:
        spectra: ``(frames, bins)`` complex, frame ``m`` centred on ``m * transform.hop``.
        length: samples to return (default ``(frames - 1) * hop``).

    Returns:
        ``(length,)`` float64.
    """
    n, a = transform.n_fft, transform.hop
    frames = sfft.irfft(np.asarray(spectra), n=n, axis=1) * dual_window(transform)
    total = (len(frames) - 1) * a + n
    y = np.zeros(total)
    for m, f in enumerate(frames):
        y[m * a : m * a + n] += f
    half = n // 2
    length = (len(frames) - 1) * a if length is None else length
    out = y[half : half + length]
    if len(out) < length:
        out = np.pad(out, (0, length - len(out)))
    return out
