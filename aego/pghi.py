"""Phase from magnitudes: real-time Phase Gradient Heap Integration (RTPGHI) and offline Griffin-Lim.

RTPGHI (Pruša & Holighaus, "A noniterative method for reconstruction of phase from STFT magnitude",
IEEE/ACM TASLP 2017; real-time form: Pruša & Søndergaard, EUSIPCO 2016) needs no iterations: for a
Gaussian window ``g(n) = exp(-π n² / λ)`` (``λ = 2π σ²``) the phase gradient of the STFT follows from the
gradient of the log-magnitude ``s``. With the phase measured at each frame's centre, hop ``a`` and FFT
size ``M``, per frame step and per bin step:

    ∂φ/∂m (m, k) = 2π a k / M + (a M / λ) · ∂s/∂k        (instantaneous frequency)
    ∂φ/∂k (m, k) = −(λ / (a M)) · ∂s/∂m                  (local group delay)

Each new frame is integrated from the previous one, largest coefficients first (a priority queue over
log-magnitude), in time for a bin whose neighbour in the previous frame is larger, in frequency
otherwise. ``∂s/∂m`` is a backward difference when causal, a centred one with one frame of look-ahead
(better, one hop later). Coefficients below ``tol`` times the frame's maximum are only integrated in time
(inaudible either way).

Everything per frame runs in numba (``nogil``), so the engine's synthesis thread never holds the GIL
while it integrates.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from scipy import fft as sfft

from aego.istft import dual_window, istft
from aego.transform import Transform

LOG_RANGE = 11.0  # log-magnitudes are floored this far below the frame maximum (as in phaseret)


@njit(cache=True, nogil=True)
def floor_log(logs: np.ndarray, out: np.ndarray) -> None:
    """``out = logs`` floored as :func:`log_magnitude` floors (for log-magnitudes computed elsewhere)."""
    peak = math.log(1e-30)
    for k in range(logs.shape[0]):
        if logs[k] > peak:
            peak = logs[k]
    floor = peak - LOG_RANGE
    for k in range(logs.shape[0]):
        v = logs[k]
        out[k] = v if v > floor else floor


@njit(cache=True, nogil=True)
def log_magnitude(mag: np.ndarray, out: np.ndarray) -> None:
    """``out = log(mag)``, floored ``LOG_RANGE`` below the maximum so silent bins give no wild gradients."""
    peak = 1e-30
    for k in range(mag.shape[0]):
        if mag[k] > peak:
            peak = mag[k]
    floor = math.log(peak) - LOG_RANGE
    for k in range(mag.shape[0]):
        v = mag[k]
        out[k] = math.log(v) if v > 0.0 else floor
        if out[k] < floor:
            out[k] = floor


BUCKETS_PER_NEPER = 128  # priority resolution of the integration queue: 1/128 neper = 0.068 dB
MAX_BUCKETS = 1 << 13  # 64 nepers (556 dB) of range; keys beyond share the end buckets


def _sincos_coefficients() -> tuple[np.ndarray, np.ndarray]:
    """Polynomial coefficients for sin (odd powers) and cos (even powers) on [-π/2, π/2], fitted at
    Chebyshev nodes (near minimax): error below 1e-14 there."""
    x = np.cos(np.linspace(0.0, np.pi, 400)) * (np.pi / 2)
    fit = np.polynomial.chebyshev.Chebyshev.fit
    sin = fit(x, np.sin(x), 17).convert(kind=np.polynomial.Polynomial).coef[1::2]
    cos = fit(x, np.cos(x), 18).convert(kind=np.polynomial.Polynomial).coef[0::2]
    return np.ascontiguousarray(sin), np.ascontiguousarray(cos)


SIN_COEF, COS_COEF = _sincos_coefficients()


@njit(cache=True, nogil=True, inline="always")
def _sincos(q: float) -> tuple[float, float]:
    """``(sin q, cos q)`` for ``q`` in [0, 2π), by polynomial: no library call, so the loop that calls it
    vectorises (about twice as fast as ``math.sin`` + ``math.cos`` here, error ~1e-15)."""
    r = q - 2.0 * math.pi if q > math.pi else q  # (-π, π]
    flip = abs(r) > 0.5 * math.pi
    if flip:  # sin(π - r) = sin r, cos(π - r) = -cos r
        r = math.copysign(math.pi, r) - r
    x2 = r * r
    s = SIN_COEF[SIN_COEF.shape[0] - 1]
    for j in range(SIN_COEF.shape[0] - 2, -1, -1):
        s = s * x2 + SIN_COEF[j]
    c = COS_COEF[COS_COEF.shape[0] - 1]
    for j in range(COS_COEF.shape[0] - 2, -1, -1):
        c = c * x2 + COS_COEF[j]
    return s * r, -c if flip else c


@njit(cache=True, nogil=True, inline="always")
def _bucket(key: float, low: float, n_buckets: int) -> int:
    """The queue bucket of log-magnitude ``key`` (clamped; NaN goes to the bottom)."""
    x = (key - low) * BUCKETS_PER_NEPER
    if not x >= 0.0:
        return 0
    if x >= n_buckets - 1:
        return n_buckets - 1
    return int(x)


@njit(cache=True, nogil=True)
def rtpghi_frame(
    mag: np.ndarray,
    s_prev: np.ndarray,
    s_cur: np.ndarray,
    s_next: np.ndarray,
    has_prev: bool,
    has_next: bool,
    phase_prev: np.ndarray,
    tgrad_prev: np.ndarray,
    hop: float,
    n_fft: float,
    lam: float,
    tol: float,
    head: np.ndarray,
    link: np.ndarray,
    todo: np.ndarray,
    fgrad: np.ndarray,
    phase_out: np.ndarray,
    tgrad_out: np.ndarray,
    spectrum_out: np.ndarray,
) -> None:
    """Phase of one frame from the previous frame's phase and the log-magnitudes around it.

    The "largest first" order of the integration comes from a bucket queue over log-magnitude
    (:data:`BUCKETS_PER_NEPER`) rather than a binary heap: pushes and pops are O(1) instead of
    O(log n) with a branch misprediction per level, and coefficients within 0.07 dB of each other are
    taken in either order, which a heap leaves to chance as well.

    Args:
        mag: ``(bins,)`` linear magnitudes of the frame.
        s_prev, s_cur, s_next: ``(bins,)`` log-magnitudes of the previous, this and the next frame
            (``s_next`` is read only when ``has_next``; ``s_prev`` and ``phase_prev`` only when ``has_prev``).
        phase_prev, tgrad_prev: ``(bins,)`` phase (radians, centre convention) and ``∂φ/∂m`` of the previous frame.
        hop, n_fft: synthesis hop and FFT size, samples.
        lam: ``2π σ²`` of the Gaussian window (σ in samples).
        tol: relative magnitude (of the frame's largest) at or below which a coefficient is integrated
            in time only, not through the queue.
        head: ``(MAX_BUCKETS,)`` int32 scratch; link: ``(2·bins,)`` int32 scratch; todo: ``(bins,)`` uint8
            scratch; fgrad: ``(bins,)`` scratch.
        phase_out, tgrad_out: ``(bins,)`` this frame's phase and ``∂φ/∂m`` (read as ``*_prev`` next time).
        spectrum_out: ``(bins,)`` complex128, the frame for ``irfft`` (phase moved to the frame start).
    """
    bins = mag.shape[0]
    two_pi = 2.0 * math.pi
    t_scale = hop * n_fft / lam
    f_scale = -lam / (hop * n_fft)
    peak = 0.0
    for k in range(bins):
        if mag[k] > peak:
            peak = mag[k]
    # ∂s/∂k, centred inside, zero at the edges (DC and Nyquist are real-valued anyway). Branch-free
    # loops, one per case, so that they vectorise.
    omega = two_pi * hop / n_fft
    half_t = 0.5 * t_scale
    tgrad_out[0] = 0.0
    for k in range(1, bins - 1):
        tgrad_out[k] = omega * k + half_t * (s_cur[k + 1] - s_cur[k - 1])
    tgrad_out[bins - 1] = omega * (bins - 1)
    if has_next and has_prev:
        half_f = 0.5 * f_scale
        for k in range(bins):
            fgrad[k] = half_f * (s_next[k] - s_prev[k])
    elif has_prev:
        for k in range(bins):
            fgrad[k] = f_scale * (s_cur[k] - s_prev[k])
    elif has_next:
        for k in range(bins):
            fgrad[k] = f_scale * (s_next[k] - s_cur[k])
    else:
        fgrad[:] = 0.0
    # The tolerance is on the magnitudes themselves: log-magnitudes are floored (LOG_RANGE) above
    # log(tol) for the usual tolerances, so a test on them would queue every silent bin.
    threshold = peak * tol
    remaining = 0
    low = 1e300
    high = -1e300
    for k in range(bins):
        if mag[k] > threshold:
            todo[k] = 1
            remaining += 1
            low = min(low, s_cur[k])
            high = max(high, s_cur[k])
            if has_prev:
                low = min(low, s_prev[k])
                high = max(high, s_prev[k])
        else:
            todo[k] = 0
            if has_prev:
                phase_out[k] = phase_prev[k] + 0.5 * (tgrad_prev[k] + tgrad_out[k])
            else:
                phase_out[k] = 0.0
    n_buckets = 1
    if remaining > 0 and high > low:
        n_buckets = min(int((high - low) * BUCKETS_PER_NEPER) + 2, MAX_BUCKETS)
    # Queue items: k < bins is the previous frame's coefficient at bin k, bins + k this frame's.
    # Each bucket is a stack linked through ``link``; ``top`` bounds the highest non-empty bucket.
    for b in range(n_buckets):
        head[b] = -1
    top = -1
    size = 0
    if has_prev:
        for k in range(bins):
            if todo[k] == 1:
                b = _bucket(s_prev[k], low, n_buckets)
                link[k] = head[b]
                head[b] = k
                top = max(top, b)
                size += 1
    while remaining > 0:
        if size == 0:
            # A new island (onset, or the first frame): start from its largest coefficient.
            best = -1
            for k in range(bins):
                if todo[k] == 1 and (best < 0 or s_cur[k] > s_cur[best]):
                    best = k
            if has_prev:
                phase_out[best] = phase_prev[best] + 0.5 * (tgrad_prev[best] + tgrad_out[best])
            else:
                phase_out[best] = 0.0
            todo[best] = 0
            remaining -= 1
            b = _bucket(s_cur[best], low, n_buckets)
            link[bins + best] = head[b]
            head[b] = bins + best
            top = max(top, b)
            size = 1
        while size > 0 and remaining > 0:
            while head[top] < 0:
                top -= 1
            item = head[top]
            head[top] = link[item]
            size -= 1
            if item < bins:
                k = item
                if todo[k] == 1:
                    phase_out[k] = phase_prev[k] + 0.5 * (tgrad_prev[k] + tgrad_out[k])
                    todo[k] = 0
                    remaining -= 1
                    b = _bucket(s_cur[k], low, n_buckets)
                    link[bins + k] = head[b]
                    head[b] = bins + k
                    top = max(top, b)
                    size += 1
            else:
                k = item - bins
                if k + 1 < bins and todo[k + 1] == 1:
                    phase_out[k + 1] = phase_out[k] + 0.5 * (fgrad[k] + fgrad[k + 1])
                    todo[k + 1] = 0
                    remaining -= 1
                    b = _bucket(s_cur[k + 1], low, n_buckets)
                    link[bins + k + 1] = head[b]
                    head[b] = bins + k + 1
                    top = max(top, b)
                    size += 1
                if k - 1 >= 0 and todo[k - 1] == 1:
                    phase_out[k - 1] = phase_out[k] - 0.5 * (fgrad[k] + fgrad[k - 1])
                    todo[k - 1] = 0
                    remaining -= 1
                    b = _bucket(s_cur[k - 1], low, n_buckets)
                    link[bins + k - 1] = head[b]
                    head[b] = bins + k - 1
                    top = max(top, b)
                    size += 1
    inv_two_pi = 1.0 / two_pi
    for k in range(bins):
        q = phase_out[k]
        q -= two_pi * math.floor(q * inv_two_pi)  # keep phases small so float64 stays exact over hours
        phase_out[k] = q
        # Frame-start convention: the centre sits n_fft/2 samples in, a factor (-1)^k.
        m = -mag[k] if k & 1 else mag[k]
        s, c = _sincos(q)
        spectrum_out[k] = complex(m * c, m * s)


class RTPGHI:
    """Frame-by-frame phase reconstruction for one stream of magnitude frames.

    Call :meth:`push` once per frame, in order. Causal (``lookahead=False``): ``push(mag_m)`` returns
    frame ``m``'s complex spectrum. With one frame of look-ahead: ``push(mag_m)`` returns frame ``m-1``
    (``None`` on the first call) and :meth:`flush` returns the last frame.

    Args:
        transform: the synthesis transform (Gaussian window; ``hop`` is the synthesis hop).
        lookahead: use the next frame for ``∂s/∂m`` (one hop more latency, a few dB better).
        tol: relative magnitude below which coefficients are only integrated in time.
    """

    def __init__(self, transform: Transform, lookahead: bool = False, tol: float = 1e-5) -> None:
        self.transform = transform
        self.lookahead = lookahead
        self.bins = transform.bins
        self.hop = float(transform.hop)
        self.n_fft = float(transform.n_fft)
        self.lam = 2.0 * math.pi * float(transform.window_std) ** 2
        self.tol = float(tol)
        b = self.bins
        self._s = [np.zeros(b) for _ in range(3)]  # rolling log-magnitudes: prev, cur, next
        self._mags = [np.zeros(b) for _ in range(2)]  # magnitudes waiting for their phase (look-ahead)
        self._phase = [np.zeros(b), np.zeros(b)]
        self._tgrad = [np.zeros(b), np.zeros(b)]
        self._head = np.zeros(MAX_BUCKETS, dtype=np.int32)  # int32: a smaller footprint in the cache
        self._link = np.zeros(2 * b, dtype=np.int32)
        self._todo = np.zeros(b, dtype=np.uint8)
        self._fgrad = np.zeros(b)
        self._spectrum = np.zeros(b, dtype=np.complex128)
        self._frames_in = 0
        self._have_prev = False

    def reset(self) -> None:
        """Forget the past (the next frame starts a new phase history)."""
        self._frames_in = 0
        self._have_prev = False

    def _run(self, mag: np.ndarray, s_prev, s_cur, s_next, has_next: bool) -> np.ndarray:
        phase_prev, phase_out = self._phase
        tgrad_prev, tgrad_out = self._tgrad
        rtpghi_frame(mag, s_prev, s_cur, s_next, self._have_prev, has_next, phase_prev, tgrad_prev,
                     self.hop, self.n_fft, self.lam, self.tol, self._head, self._link, self._todo,
                     self._fgrad, phase_out, tgrad_out, self._spectrum)
        self._phase.reverse()
        self._tgrad.reverse()
        self._have_prev = True
        return self._spectrum

    def push(self, mag: np.ndarray, log_mag: np.ndarray | None = None) -> np.ndarray | None:
        """Args: mag ``(bins,)`` linear magnitudes (float64 preferred); log_mag ``(bins,)`` their natural logs
        if already known (``-inf`` for zeros; saves the logarithms). Returns ``(bins,)`` complex128 (reused
        buffer: copy it or use it before the next call), or ``None`` while the look-ahead fills."""
        mag = np.asarray(mag, dtype=np.float64)
        s_prev, s_cur, s_next = self._s
        if log_mag is None:
            log_magnitude(mag, s_next)
        else:
            floor_log(log_mag, s_next)
        if not self.lookahead:
            # rotate so that the new frame is "cur" and the old "cur" is "prev"
            self._s = [s_cur, s_next, s_prev]
            out = self._run(mag, s_cur, s_next, s_prev, False)
            self._frames_in += 1
            return out
        self._mags[1][:] = mag
        self._frames_in += 1
        if self._frames_in == 1:
            self._mags.reverse()
            self._s = [s_prev, s_next, s_cur]  # the new frame waits as "cur"
            return None
        out = self._run(self._mags[0], s_prev, s_cur, s_next, True)
        self._mags.reverse()
        self._s = [s_cur, s_next, s_prev]
        return out

    def flush(self) -> np.ndarray | None:
        """With look-ahead: the phase of the last frame pushed (causal difference). ``None`` otherwise."""
        if not self.lookahead or self._frames_in == 0:
            return None
        s_prev, s_cur, s_next = self._s
        out = self._run(self._mags[0], s_prev, s_cur, s_next, False)
        self._frames_in = 0
        return out


def rtpghi_offline(mags: np.ndarray, transform: Transform, lookahead: bool = True, tol: float = 1e-5) -> np.ndarray:
    """Phase for a whole magnitude array, frame by frame as in real time.

    Args:
        mags: ``(frames, bins)`` linear magnitudes at ``transform.hop``.

    Returns:
        ``(frames, bins)`` complex128 spectra (frame-start convention, ready for :func:`aego.istft.istft`).
    """
    pghi = RTPGHI(transform, lookahead=lookahead, tol=tol)
    out = np.empty(mags.shape, dtype=np.complex128)
    i = 0
    for m in mags:
        spec = pghi.push(m)
        if spec is not None:
            out[i] = spec
            i += 1
    last = pghi.flush()
    if last is not None:
        out[i] = last
    return out


def griffin_lim(mags: np.ndarray, transform: Transform, n_iter: int = 32, init: np.ndarray | None = None,
                seed: int = 0) -> np.ndarray:
    """Offline Griffin-Lim, in its fast form (Perraudin et al. 2013, momentum 0.99, as librosa's default).

    Written to be a fair baseline for the live path's cost: the same FFT (``scipy.fft``, one worker, float64)
    in both directions, whole-spectrogram transforms, the overlap-add as ``n_fft / hop`` vectorised adds,
    buffers reused across iterations and the phase projection as a division by the modulus (no
    ``angle``/``exp``), so its cost is the FFTs' and little else.

    Args:
        mags: ``(frames, bins)`` linear magnitudes at ``transform.hop``.
        n_iter: iterations.
        init: ``(frames, bins)`` complex initial spectra (default: random phase).

    Returns:
        ``(samples,)`` float64 audio, ``samples = (frames - 1) * hop``.
    """
    mags = np.ascontiguousarray(mags, dtype=np.float64)
    frames, n, a = len(mags), transform.n_fft, transform.hop
    half = n // 2
    length = (frames - 1) * a
    if init is None:
        rng = np.random.default_rng(seed)
        spec = mags * np.exp(2j * np.pi * rng.random(mags.shape))
    else:
        spec = np.array(init, dtype=np.complex128)
    if n % a:  # the vectorised overlap-add needs whole hops per frame
        return _griffin_lim_plain(mags, transform, n_iter, spec)
    window = transform.window()
    dual = dual_window(transform)
    per_frame = n // a
    signal = np.zeros((frames - 1) * a + n)
    blocks = signal.reshape(-1, a)
    framed = np.lib.stride_tricks.sliding_window_view(signal, n)[::a]  # a view: frame m is signal[m·a:m·a+n]
    windowed = np.empty((frames, n))
    prev = np.zeros_like(spec)
    accel = np.empty_like(spec)
    scale = np.empty(mags.shape)
    momentum = 0.99

    def inverse(spectra: np.ndarray) -> None:
        """``signal`` = least-squares inverse of ``spectra``, zero outside the ``length`` samples kept."""
        parts = sfft.irfft(spectra, n=n, axis=1, workers=1, overwrite_x=True)  # spectra is rewritten next
        parts *= dual
        signal[:] = 0.0
        parts = parts.reshape(frames, per_frame, a)
        for j in range(per_frame):
            blocks[j : j + frames] += parts[:, j, :]
        signal[:half] = 0.0
        signal[half + length :] = 0.0

    for _ in range(n_iter):
        inverse(spec)
        np.multiply(framed, window, out=windowed)
        rebuilt = sfft.rfft(windowed, axis=1, workers=1, overwrite_x=True)
        np.subtract(rebuilt, prev, out=accel)
        accel *= momentum
        accel += rebuilt
        prev = rebuilt
        np.abs(accel, out=scale)
        scale += 1e-300
        np.divide(mags, scale, out=scale)
        np.multiply(accel, scale, out=spec)
    inverse(spec)
    return signal[half : half + length].copy()


def _griffin_lim_plain(mags: np.ndarray, transform: Transform, n_iter: int, spec: np.ndarray) -> np.ndarray:
    """Griffin-Lim for any hop (the textbook loop), same update as :func:`griffin_lim`."""
    length = (len(mags) - 1) * transform.hop
    prev = np.zeros_like(spec)
    momentum = 0.99
    for _ in range(n_iter):
        audio = istft(spec, transform, length)
        rebuilt = np.asarray(transform.stft(audio), dtype=np.complex128)[: len(mags)]
        accel = rebuilt + momentum * (rebuilt - prev)
        prev = rebuilt
        spec = mags * accel / (np.abs(accel) + 1e-300)
    return istft(spec, transform, length)
