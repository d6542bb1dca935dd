"""Phase from magnitudes: real-time Phase Gradient Heap Integration (RTPGHI) and offline Griffin-Lim.

RTPGHI (Pruša & Holighaus, "A noniterative method for reconstruction of phase from STFT magnitude",
IEEE/ACM TASLP 2017; real-time form: Pruša & Søndergaard, EUSIPCO 2016) needs no iterations: for a
Gaussian window ``g(n) = exp(-π n² / λ)`` (``λ = 2π σ²``) the phase gradient of the STFT follows from the
gradient of the log-magnitude ``s``. With the phase measured at each frame's centre, hop ``a`` and FFT
size ``M``, per frame step and per bin step:

    ∂φ/∂m (m, k) = 2π a k / M + (a M / λ) · ∂s/∂k        (instantaneous frequency)
    ∂φ/∂k (m, k) = −(λ / (a M)) · ∂s/∂m                  (local group delay)

Each new frame is integrated from the previous one, largest coefficients first (a max-heap), in time
for a bin whose neighbour in the previous frame is larger, in frequency otherwise. ``∂s/∂m`` is a
backward difference when causal, a centred one with one frame of look-ahead (better, one hop later).
Coefficients below ``tol`` times the frame's maximum are only integrated in time (inaudible either way).

Everything per frame runs in numba (``nogil``), so the engine's synthesis thread never holds the GIL
while it integrates.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from aego.istft import istft
from aego.transform import Transform

LOG_RANGE = 11.0  # log-magnitudes are floored this far below the frame maximum (as in phaseret)


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


@njit(cache=True, nogil=True)
def _sift_up(heap, keys, i):
    item = heap[i]
    key = keys[item]
    while i > 0:
        parent = (i - 1) >> 1
        if keys[heap[parent]] >= key:
            break
        heap[i] = heap[parent]
        i = parent
    heap[i] = item


@njit(cache=True, nogil=True)
def _sift_down(heap, keys, size, i):
    item = heap[i]
    key = keys[item]
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and keys[heap[child + 1]] > keys[heap[child]]:
            child += 1
        if keys[heap[child]] <= key:
            break
        heap[i] = heap[child]
        i = child
    heap[i] = item


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
    log_tol: float,
    keys: np.ndarray,
    heap: np.ndarray,
    todo: np.ndarray,
    fgrad: np.ndarray,
    phase_out: np.ndarray,
    tgrad_out: np.ndarray,
    spectrum_out: np.ndarray,
) -> None:
    """Phase of one frame from the previous frame's phase and the log-magnitudes around it.

    Args:
        mag: ``(bins,)`` linear magnitudes of the frame.
        s_prev, s_cur, s_next: ``(bins,)`` log-magnitudes of the previous, this and the next frame
            (``s_next`` is read only when ``has_next``; ``s_prev`` and ``phase_prev`` only when ``has_prev``).
        phase_prev, tgrad_prev: ``(bins,)`` phase (radians, centre convention) and ``∂φ/∂m`` of the previous frame.
        hop, n_fft: synthesis hop and FFT size, samples.
        lam: ``2π σ²`` of the Gaussian window (σ in samples).
        log_tol: log of the relative magnitude below which coefficients are not heap-integrated.
        keys: ``(2·bins,)`` scratch; heap: ``(2·bins,)`` int64 scratch; todo: ``(bins,)`` uint8 scratch;
            fgrad: ``(bins,)`` scratch.
        phase_out, tgrad_out: ``(bins,)`` this frame's phase and ``∂φ/∂m`` (read as ``*_prev`` next time).
        spectrum_out: ``(bins,)`` complex128, the frame for ``irfft`` (phase moved to the frame start).
    """
    bins = mag.shape[0]
    two_pi = 2.0 * math.pi
    t_scale = hop * n_fft / lam
    f_scale = -lam / (hop * n_fft)
    peak = -1e300
    for k in range(bins):
        if s_cur[k] > peak:
            peak = s_cur[k]
    for k in range(bins):
        # ∂s/∂k, centred inside, zero at the edges (DC and Nyquist are real-valued anyway).
        dk = 0.5 * (s_cur[k + 1] - s_cur[k - 1]) if 0 < k < bins - 1 else 0.0
        tgrad_out[k] = two_pi * hop * k / n_fft + t_scale * dk
        if has_next and has_prev:
            dm = 0.5 * (s_next[k] - s_prev[k])
        elif has_prev:
            dm = s_cur[k] - s_prev[k]
        elif has_next:
            dm = s_next[k] - s_cur[k]
        else:
            dm = 0.0
        fgrad[k] = f_scale * dm
        keys[k] = s_prev[k] if has_prev else -1e300
        keys[bins + k] = s_cur[k]
    threshold = peak + log_tol
    remaining = 0
    size = 0
    for k in range(bins):
        if s_cur[k] > threshold:
            todo[k] = 1
            remaining += 1
            if has_prev:
                heap[size] = k  # previous frame's coefficient at a bin still to do
                size += 1
                _sift_up(heap, keys, size - 1)
        else:
            todo[k] = 0
            if has_prev:
                phase_out[k] = phase_prev[k] + 0.5 * (tgrad_prev[k] + tgrad_out[k])
            else:
                phase_out[k] = 0.0
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
            heap[0] = bins + best
            size = 1
        while size > 0 and remaining > 0:
            top = heap[0]
            size -= 1
            if size > 0:
                heap[0] = heap[size]
                _sift_down(heap, keys, size, 0)
            if top < bins:
                k = top
                if todo[k] == 1:
                    phase_out[k] = phase_prev[k] + 0.5 * (tgrad_prev[k] + tgrad_out[k])
                    todo[k] = 0
                    remaining -= 1
                    heap[size] = bins + k
                    size += 1
                    _sift_up(heap, keys, size - 1)
            else:
                k = top - bins
                if k + 1 < bins and todo[k + 1] == 1:
                    phase_out[k + 1] = phase_out[k] + 0.5 * (fgrad[k] + fgrad[k + 1])
                    todo[k + 1] = 0
                    remaining -= 1
                    heap[size] = bins + k + 1
                    size += 1
                    _sift_up(heap, keys, size - 1)
                if k - 1 >= 0 and todo[k - 1] == 1:
                    phase_out[k - 1] = phase_out[k] - 0.5 * (fgrad[k] + fgrad[k - 1])
                    todo[k - 1] = 0
                    remaining -= 1
                    heap[size] = bins + k - 1
                    size += 1
                    _sift_up(heap, keys, size - 1)
        size = 0
    for k in range(bins):
        p = phase_out[k]
        p -= two_pi * math.floor(p / two_pi)  # keep phases small so float64 stays exact over hours
        phase_out[k] = p
        # Frame-start convention: the centre sits n_fft/2 samples in, a factor (-1)^k.
        q = p - math.pi * (k & 1)
        spectrum_out[k] = complex(mag[k] * math.cos(q), mag[k] * math.sin(q))


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
        self.log_tol = math.log(tol)
        b = self.bins
        self._s = [np.zeros(b) for _ in range(3)]  # rolling log-magnitudes: prev, cur, next
        self._mags = [np.zeros(b) for _ in range(2)]  # magnitudes waiting for their phase (look-ahead)
        self._phase = [np.zeros(b), np.zeros(b)]
        self._tgrad = [np.zeros(b), np.zeros(b)]
        self._keys = np.zeros(2 * b)
        self._heap = np.zeros(2 * b, dtype=np.int64)
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
                     self.hop, self.n_fft, self.lam, self.log_tol, self._keys, self._heap, self._todo,
                     self._fgrad, phase_out, tgrad_out, self._spectrum)
        self._phase.reverse()
        self._tgrad.reverse()
        self._have_prev = True
        return self._spectrum

    def push(self, mag: np.ndarray) -> np.ndarray | None:
        """Args: mag ``(bins,)`` linear magnitudes (float64 preferred). Returns ``(bins,)`` complex128 (reused
        buffer: copy it or use it before the next call), or ``None`` while the look-ahead fills."""
        mag = np.asarray(mag, dtype=np.float64)
        s_prev, s_cur, s_next = self._s
        if not self.lookahead:
            log_magnitude(mag, s_next)
            # rotate so that the new frame is "cur" and the old "cur" is "prev"
            self._s = [s_cur, s_next, s_prev]
            out = self._run(mag, s_cur, s_next, s_prev, False)
            self._frames_in += 1
            return out
        log_magnitude(mag, s_next)
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

    Args:
        mags: ``(frames, bins)`` linear magnitudes at ``transform.hop``.
        n_iter: iterations.
        init: ``(frames, bins)`` complex initial spectra (default: random phase).

    Returns:
        ``(samples,)`` float64 audio, ``samples = (frames - 1) * hop``.
    """
    mags = np.asarray(mags, dtype=np.float64)
    length = (len(mags) - 1) * transform.hop
    if init is None:
        rng = np.random.default_rng(seed)
        spec = mags * np.exp(2j * np.pi * rng.random(mags.shape))
    else:
        spec = np.asarray(init, dtype=np.complex128)
    prev = np.zeros_like(spec)
    momentum = 0.99
    for _ in range(n_iter):
        audio = istft(spec, transform, length)
        rebuilt = np.asarray(transform.stft(audio), dtype=np.complex128)[: len(mags)]
        accel = rebuilt + (momentum * (rebuilt - prev))
        prev = rebuilt
        spec = mags * np.exp(1j * np.angle(accel))
    return istft(spec, transform, length)
