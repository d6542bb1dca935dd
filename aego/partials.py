"""Partials with their own phases: the complex STFT frames of a decoded comb of peaks.

A peak decoder (:mod:`aego.peak_vae`) does not only give magnitudes: it says which partials sound, at
which frequencies and heights. Their phases then need no reconstruction. Each partial keeps a running
phase, advanced every hop by its frequency (the mean of the last two frames, so a glide stays smooth),
and is drawn into the frame as the Gaussian window's exact complex peak. Two partials closer than a main
lobe then beat as they would in any recording, and the frames are those of a real sum of sinusoids
(consistent STFT frames): re-analysed, the output gives back the frames that were drawn.

The decoder's noise envelope is a smooth level per bin, not a spectrum any signal has: it shapes a
running white noise instead (the frame of the noise at this hop, times the envelope: a filter applied in
the STFT domain, smooth enough across bins to stay nearly consistent). So noise sounds as noise, not as
the buzz that phases guessed from a smooth magnitude give, and the frames inverted are again frames a
signal has. No phase is reconstructed for a peak decoder; RTPGHI (:mod:`aego.pghi`) stays for decoders
of bins.

Phase convention: that of :mod:`aego.istft` (an FFT frame starts ``n_fft // 2`` samples before its centre),
so a sinusoid of phase ``φ`` at the frame's centre has coefficients ``(-1)^k · H · G(k - c) · e^{iφ}``.
"""

from __future__ import annotations

import cmath
import math

import numpy as np
from numba import njit
from scipy import fft as sfft

from aego.transform import Transform

REACH = 6.0
"""A peak is drawn within this many standard deviations of its centre (exp(-18): −156 dB beyond)."""

MAX_HALF = 96
"""At most this many bins either side of a partial's centre are drawn (a very fast glide's smear)."""

FLOOR = 1e-6
"""Partials weaker than this fraction of the frame's strongest are not drawn (−120 dB); their phases run on."""


@njit(cache=True, nogil=True)
def advance_phases(phases: np.ndarray, freqs: np.ndarray, last_freqs: np.ndarray, advance: float) -> None:
    """Each partial's phase one hop on, at the mean of its last two frequencies (in place, radians)."""
    for p in range(phases.shape[0]):
        ph = phases[p] + advance * 0.5 * (freqs[p] + last_freqs[p])
        phases[p] = ph - 2.0 * math.pi * math.floor(ph / (2.0 * math.pi))


@njit(cache=True, nogil=True)
def draw_partials(freqs: np.ndarray, slopes: np.ndarray, heights: np.ndarray, width: float, phases: np.ndarray,
                  chirp_scale: float, sigma_bins: float, bin_hz: float, max_bin: int, gain: float,
                  out: np.ndarray) -> None:
    """Draw one frame of partials (overwrites ``out``).

    A partial whose frequency moves is drawn as the window's frame of a linear chirp: the Gaussian of a
    Gaussian window turns complex, ``D^{-1/2} · exp(-d² / (2D))`` with ``D = 1 - i·q`` and
    ``q = chirp rate · σ_t²``, wider and lower, as a re-analysis of the gliding tone finds it.

    Args:
        freqs, heights: ``(K,)`` frequencies (Hz, ``>= 0``) and peak heights (the source transform's
            linear magnitudes) of the partials at the frame's centre.
        slopes: ``(K,)`` each frequency's change per hop around the frame's centre, Hz.
        width: the peaks' widening (1: the window's own width).
        phases: ``(K,)`` the partials' phases at the frame's centre, radians.
        chirp_scale: ``2π · σ_t² · sample_rate / hop`` (``q`` per Hz of change a hop; σ_t the window's
            standard deviation in seconds).
        sigma_bins: the window's peak standard deviation in this transform's bins.
        bin_hz: this transform's bin spacing, Hz.
        max_bin: no bin above this is drawn (the source's Nyquist frequency).
        gain: source-to-this-transform level (ratio of the window sums).
        out: ``(bins,)`` complex128.
    """
    out[:] = 0.0
    k = freqs.shape[0]
    top = 0.0
    for p in range(k):
        if heights[p] > top:
            top = heights[p]
    sigma = sigma_bins * width
    inv = 1.0 / sigma
    for p in range(k):
        h = heights[p]
        if not h > FLOOR * top:
            continue
        c = freqs[p] / bin_hz
        q = chirp_scale * slopes[p]
        d_inv = 1.0 / complex(1.0, -q)  # 1 / D
        a = complex(math.cos(phases[p]), math.sin(phases[p])) * (h * gain) * cmath.sqrt(d_inv)
        half = min(math.ceil(REACH * sigma * math.sqrt(1.0 + q * q)), MAX_HALF)
        centre = math.floor(c + 0.5)
        _add_peak(out, max(0, centre - half), min(max_bin, centre + half), c, inv, d_inv, a)
        # the image at -f, where it reaches the positive frequencies (a real signal's spectrum is Hermitian)
        if centre <= half:
            _add_peak(out, 0, min(max_bin, half - centre), -c, inv, d_inv.conjugate(), a.conjugate())


@njit(cache=True, nogil=True, inline="always")
def _add_peak(out: np.ndarray, lo: int, hi: int, c: float, inv: float, d_inv: complex, a: complex) -> None:
    """``out[j] += (-1)^j · a · exp(-((j - c)·inv)² · d_inv / 2)`` for ``j`` in ``[lo, hi]``.

    By recurrence, two complex products a bin (the exponent is quadratic in ``j``): the ratio of two
    neighbours is itself a geometric series.
    """
    if hi < lo:
        return
    d = (lo - c) * inv
    g = cmath.exp(-0.5 * d * d * d_inv) * a
    r = cmath.exp(-0.5 * d_inv * (2.0 * d * inv + inv * inv))
    rr = cmath.exp(-d_inv * (inv * inv))
    for j in range(lo, hi + 1):
        out[j] += -g if j & 1 else g
        g *= r
        r *= rr


@njit(cache=True, nogil=True)
def add_noise(envelope: np.ndarray, noise: np.ndarray, scale: float, out: np.ndarray) -> None:
    """``out += envelope · noise · scale``: the noise's frame shaped by the envelope."""
    for j in range(out.shape[0]):
        out[j] += noise[j] * (envelope[j] * scale)


NOISE_SECONDS = 11.0
"""Length of the white noise the envelope shapes, played in a loop (a repeat this long is not heard)."""

NOISE_LEVEL = math.exp(0.5 * 0.5772156649015329)
"""The noise's r.m.s. magnitude over the envelope: the decoder learnt log magnitudes, and the mean log of a
noise's magnitudes (Rayleigh-distributed) lies γ/2 below the log of their r.m.s. (γ: Euler's constant)."""


def noise_loop(synthesis: Transform, seed: int = 0) -> np.ndarray:
    """White noise, unit variance, ``NOISE_SECONDS`` long (a whole number of hops), with its first ``n_fft``
    samples repeated at the end so that a frame read across the loop's end is one slice. ``(n,)`` float64."""
    hop = synthesis.hop
    length = max(int(NOISE_SECONDS * synthesis.sample_rate) // hop, 1) * hop
    noise = np.random.default_rng(seed).standard_normal(length + synthesis.n_fft)
    noise[length:] = noise[: synthesis.n_fft]
    return noise


class Partials:
    """The complex frames of one voice of a peak decoder, drawn at the synthesis transform.

    Args:
        synthesis: the synthesis transform (device rate and hop).
        source: the decoder's transform (its peak width, levels and Nyquist frequency).
        count: how many partials the decoder gives (``2·half_peaks + 1``).
        sigma_bins: the source window's peak standard deviation, in source bins.
        delay: frames to hold each one back (1 in place of RTPGHI's look-ahead: the timing stays the same).
        seed: the partials' starting phases (drawn uniformly: all at zero would start as a click train) and
            where the noise is read from.
        noise: the white noise loop to shape (:func:`noise_loop` of this transform), shared by the voices of a
            synth: made once, not at every space change (``None``: made here).
    """

    def __init__(self, synthesis: Transform, source: Transform, count: int, sigma_bins: float,
                 delay: int = 0, seed: int = 0, noise: np.ndarray | None = None) -> None:
        rng = np.random.default_rng(seed)
        source_bin_hz = source.sample_rate / source.n_fft
        self.n_fft = synthesis.n_fft
        self.hop = synthesis.hop
        self.bin_hz = synthesis.sample_rate / synthesis.n_fft
        self.sigma_bins = float(sigma_bins) * source_bin_hz / self.bin_hz
        self.max_bin = min(synthesis.bins - 1, math.floor(0.5 * source.sample_rate / self.bin_hz))
        self.gain = float(synthesis.window().sum() / source.window().sum())
        self.advance = 2.0 * math.pi * synthesis.hop / synthesis.sample_rate
        sigma_t = synthesis.window_std / synthesis.sample_rate
        self.chirp_scale = 2.0 * math.pi * sigma_t**2 * synthesis.sample_rate / synthesis.hop
        self.phases = rng.uniform(0.0, 2.0 * math.pi, count)
        self.window = synthesis.window()
        self.noise_scale = NOISE_LEVEL / math.sqrt(float(np.sum(self.window**2)))
        self.noise = noise_loop(synthesis, seed) if noise is None else noise
        # voices sharing a loop read it from different places, so that their noises do not add up coherently
        self.noise_at = int(rng.integers(0, (len(self.noise) - self.n_fft) // self.hop)) * self.hop
        self._windowed = np.zeros(self.n_fft)
        self.delay = int(delay)
        if self.delay not in (0, 1):
            raise ValueError("Partials: delay must be 0 or 1")
        # The frame drawn with a delay of one is the previous one: its frequencies, heights, width, envelope and
        # phases wait a push, so its glide is known on both sides (the slope is a central difference).
        self._freqs = [np.zeros(count) for _ in range(3)]  # frames m-2, m-1, m
        self._heights = [np.zeros(count) for _ in range(2)]  # m-1, m
        self._phases = [np.zeros(count) for _ in range(2)]
        self._envelopes = [np.zeros(synthesis.bins) for _ in range(2)]
        self._widths = [1.0, 1.0]
        self._slopes = np.zeros(count)
        self._frame = np.zeros(synthesis.bins, dtype=np.complex128)
        self._silent_heights = np.zeros(count)
        self._silent_envelope = np.zeros(synthesis.bins)
        self.pushed = 0

    def push(self, freqs: np.ndarray, heights: np.ndarray, width: float, envelope: np.ndarray) -> None:
        """The next frame: ``freqs, heights (K,)`` float64, ``envelope (bins,)`` the noise envelope already at
        the synthesis transform's bins (linear). Draws the frame ``delay`` pushes ago (:meth:`frame`)."""
        f = self._freqs
        f.append(f.pop(0))
        f[2][:] = freqs
        self._heights.append(self._heights.pop(0))
        self._heights[1][:] = heights
        self._envelopes.append(self._envelopes.pop(0))
        self._envelopes[1][:] = envelope
        self._widths = [self._widths[1], float(width)]
        if self.pushed > 0:
            advance_phases(self.phases, f[2], f[1], self.advance)
        self._phases.append(self._phases.pop(0))
        self._phases[1][:] = self.phases
        self.pushed += 1
        if self.delay == 0:
            if self.pushed > 1:
                np.subtract(f[2], f[1], out=self._slopes)
            self._draw(f[2], self._heights[1], self._widths[1], self._phases[1], self._envelopes[1])
        elif self.pushed > 1:
            if self.pushed > 2:
                np.subtract(f[2], f[0], out=self._slopes)
                self._slopes *= 0.5
            else:
                np.subtract(f[2], f[1], out=self._slopes)
            self._draw(f[1], self._heights[0], self._widths[0], self._phases[0], self._envelopes[0])

    def _draw(self, freqs: np.ndarray, heights: np.ndarray, width: float, phases: np.ndarray,
              envelope: np.ndarray) -> None:
        draw_partials(freqs, self._slopes, heights, width, phases, self.chirp_scale, self.sigma_bins, self.bin_hz,
                      self.max_bin, self.gain, self._frame)
        np.multiply(self.noise[self.noise_at : self.noise_at + self.n_fft], self.window, out=self._windowed)
        add_noise(envelope, sfft.rfft(self._windowed), self.noise_scale, self._frame)
        self.noise_at += self.hop
        if self.noise_at >= len(self.noise) - self.n_fft:
            self.noise_at = 0

    def silence(self) -> None:
        """The next frame is silent (a decoding error); the partials keep their phases."""
        self.push(self._freqs[2], self._silent_heights, 1.0, self._silent_envelope)

    def frame(self) -> np.ndarray | None:
        """The frame pushed ``delay`` pushes ago, ``(bins,)`` complex128 in the frame-start phase convention
        (reused buffer); ``None`` while the delay fills."""
        if self.pushed <= self.delay:
            return None
        return self._frame
