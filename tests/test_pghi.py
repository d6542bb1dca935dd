"""Phase reconstruction: RTPGHI against known signals, the inverse transform, Griffin-Lim."""

from __future__ import annotations

import numpy as np
import pytest

from aego.istft import OverlapAdd, dual_window, istft, synthesis_transform
from aego.pghi import RTPGHI, griffin_lim, rtpghi_offline
from aego.transform import Transform, spectral_convergence, to_db


def _test_signal(rate: int, seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    chirp = 0.3 * np.sin(2 * np.pi * (220 * t + 150 * t**2))
    gated = 0.2 * np.sin(2 * np.pi * 660 * t) * ((t % 0.5) < 0.25)
    vibrato = 0.1 * np.sin(2 * np.pi * 1500 * t + 3 * np.sin(2 * np.pi * 5 * t))
    return chirp + gated + vibrato


def _sc_db(tf: Transform, mags: np.ndarray, audio: np.ndarray) -> float:
    again = tf.stft_magnitudes(audio)
    edge = tf.n_fft // (2 * tf.hop)
    n = min(len(mags), len(again))
    return to_db(spectral_convergence(mags[edge : n - edge], again[edge : n - edge]))


@pytest.mark.parametrize("rate", [22050, 48000])
def test_istft_inverts_the_transform_exactly(rate):
    tf = synthesis_transform(Transform(), rate, redundancy=8)
    x = _test_signal(rate, 1.0)
    y = istft(tf.stft(x), tf, len(x))
    half = tf.n_fft
    assert np.max(np.abs(y[half:-half] - x[half:-half])) < 1e-5


def test_streaming_overlap_add_equals_offline():
    tf = synthesis_transform(Transform(), 22050, redundancy=8)
    x = _test_signal(22050, 1.0)
    spectra = tf.stft(x).astype(np.complex128)
    ola = OverlapAdd(tf)
    stream = np.concatenate([ola.push(s).copy() for s in spectra])
    offline = istft(spectra, tf, len(x))
    delay = tf.n_fft // 2
    n = len(x) - delay - tf.n_fft
    assert np.allclose(stream[delay : delay + n], offline[:n], atol=1e-6)


def test_dual_window_sums_to_one_at_every_sample():
    tf = synthesis_transform(Transform(), 48000, redundancy=16)
    g, w = tf.window(), dual_window(tf)
    total = np.zeros(tf.hop)
    for shift in range(0, tf.n_fft, tf.hop):
        seg = (g * w)[shift : shift + tf.hop]
        total[: len(seg)] += seg
    assert np.allclose(total, 1.0, atol=1e-9)


@pytest.mark.parametrize("lookahead", [False, True])
@pytest.mark.parametrize("redundancy", [4, 8, 16])
def test_rtpghi_rebuilds_a_consistent_spectrogram(lookahead, redundancy):
    tf = synthesis_transform(Transform(), 22050, redundancy)
    x = _test_signal(22050)
    mags = np.abs(tf.stft(x)).astype(np.float64)
    audio = istft(rtpghi_offline(mags, tf, lookahead=lookahead), tf, len(x))
    assert _sc_db(tf, mags, audio) < -20.0


def test_lookahead_and_redundancy_improve_the_phase():
    x = _test_signal(22050)
    scores = {}
    for redundancy in (4, 16):
        tf = synthesis_transform(Transform(), 22050, redundancy)
        mags = np.abs(tf.stft(x)).astype(np.float64)
        for lookahead in (False, True):
            audio = istft(rtpghi_offline(mags, tf, lookahead=lookahead), tf, len(x))
            scores[redundancy, lookahead] = _sc_db(tf, mags, audio)
    assert scores[4, True] < scores[4, False]
    assert scores[16, False] < scores[4, False]


def test_random_phase_is_far_worse_so_the_check_can_fail():
    tf = synthesis_transform(Transform(), 22050, 8)
    x = _test_signal(22050)
    mags = np.abs(tf.stft(x)).astype(np.float64)
    rng = np.random.default_rng(0)
    audio = istft(mags * np.exp(2j * np.pi * rng.random(mags.shape)), tf, len(x))
    assert _sc_db(tf, mags, audio) > -10.0


def test_a_sinusoid_keeps_its_frequency_and_level():
    tf = synthesis_transform(Transform(), 22050, 8)
    t = np.arange(22050) / 22050
    x = 0.5 * np.sin(2 * np.pi * 1000 * t)
    mags = np.abs(tf.stft(x)).astype(np.float64)
    pghi = RTPGHI(tf)
    ola = OverlapAdd(tf)
    out = np.concatenate([ola.push(pghi.push(m)).copy() for m in mags])[tf.n_fft // 2 :]
    mid = out[5000:15000]
    spectrum = np.abs(np.fft.rfft(mid * np.hanning(len(mid))))
    peak_hz = np.argmax(spectrum) * 22050 / len(mid)
    assert abs(peak_hz - 1000) < 5
    assert abs(np.sqrt(2) * mid.std() - 0.5) < 0.02


def test_silence_and_nonsense_frames_give_finite_output():
    tf = synthesis_transform(Transform(), 22050, 8)
    pghi = RTPGHI(tf, lookahead=True)
    frames = [np.zeros(tf.bins), np.full(tf.bins, 1e-30), np.full(tf.bins, 1e6), np.zeros(tf.bins)]
    for m in frames:
        spec = pghi.push(m)
        assert spec is None or np.isfinite(spec).all()
    assert np.isfinite(pghi.flush()).all()


def test_griffin_lim_beats_random_phase_but_costs_iterations():
    tf = synthesis_transform(Transform(), 22050, 4)
    x = _test_signal(22050, 1.0)
    mags = np.abs(tf.stft(x)).astype(np.float64)
    audio = griffin_lim(mags, tf, n_iter=16)
    assert len(audio) == (len(mags) - 1) * tf.hop
    assert _sc_db(tf, mags, audio) < -12.0


def _rtpghi_exact_heap(mags: np.ndarray, tf: Transform, tol: float = 1e-5) -> np.ndarray:
    """Reference: causal RTPGHI written plainly, with an exact binary heap (heapq) for the order."""
    import heapq

    bins = tf.bins
    lam = 2 * np.pi * tf.window_std**2
    a, m_fft = tf.hop, tf.n_fft
    out = np.zeros(mags.shape, dtype=np.complex128)
    phase_prev = tgrad_prev = s_prev = None
    for m, mag in enumerate(mags):
        peak = max(mag.max(), 1e-30)
        s = np.maximum(np.log(np.maximum(mag, 1e-300)), np.log(peak) - 11.0)
        tgrad = 2 * np.pi * a * np.arange(bins) / m_fft
        tgrad[1:-1] += a * m_fft / lam * 0.5 * (s[2:] - s[:-2])
        fgrad = -lam / (a * m_fft) * (s - s_prev) if s_prev is not None else np.zeros(bins)
        phase = np.zeros(bins)
        todo = mag > peak * tol
        if phase_prev is not None:
            phase[~todo] = (phase_prev + 0.5 * (tgrad_prev + tgrad))[~todo]
            heap = [(-s_prev[k], k) for k in np.flatnonzero(todo)]
            heapq.heapify(heap)
        else:
            heap = []
        while todo.any():
            if not heap:
                k = int(np.argmax(np.where(todo, s, -np.inf)))
                phase[k] = 0.0 if phase_prev is None else phase_prev[k] + 0.5 * (tgrad_prev[k] + tgrad[k])
                todo[k] = False
                heap = [(-s[k], bins + k)]
            while heap and todo.any():
                _, item = heapq.heappop(heap)
                if item < bins:
                    if todo[item]:
                        phase[item] = phase_prev[item] + 0.5 * (tgrad_prev[item] + tgrad[item])
                        todo[item] = False
                        heapq.heappush(heap, (-s[item], bins + item))
                    continue
                k = item - bins
                for j, sign in ((k + 1, 1.0), (k - 1, -1.0)):
                    if 0 <= j < bins and todo[j]:
                        phase[j] = phase[k] + sign * 0.5 * (fgrad[k] + fgrad[j])
                        todo[j] = False
                        heapq.heappush(heap, (-s[j], bins + j))
        out[m] = mag * np.exp(1j * (phase - np.pi * (np.arange(bins) % 2)))
        phase_prev, tgrad_prev, s_prev = phase, tgrad, s
    return out


def test_the_bucket_queue_matches_an_exact_heap():
    # The live RTPGHI orders its integration with a bucket queue (0.07 dB steps); the exact heap order
    # must give the same quality, on a signal with silent bins above its band as decoded frames have.
    tf = synthesis_transform(Transform(), 48000, 16)
    x = _test_signal(48000, 1.0)
    mags = np.abs(tf.stft(x)).astype(np.float64)
    mags[:, tf.bins // 2 :] = 0.0
    exact = istft(_rtpghi_exact_heap(mags, tf), tf, len(x))
    fast = istft(rtpghi_offline(mags, tf, lookahead=False), tf, len(x))
    sc_exact, sc_fast = _sc_db(tf, mags, exact), _sc_db(tf, mags, fast)
    assert sc_exact < -25.0
    assert abs(sc_fast - sc_exact) < 0.3


def test_griffin_lim_vectorised_equals_the_textbook_loop():
    from aego.pghi import _griffin_lim_plain

    tf = synthesis_transform(Transform(), 22050, 4)
    x = _test_signal(22050, 0.5)
    mags = np.abs(tf.stft(x)).astype(np.float64)
    rng = np.random.default_rng(3)
    init = mags * np.exp(2j * np.pi * rng.random(mags.shape))
    fast = griffin_lim(mags, tf, n_iter=4, init=init)
    plain = _griffin_lim_plain(mags, tf, 4, init.copy())
    assert np.allclose(fast, plain, atol=1e-4 * np.abs(plain).max())


def test_polynomial_sincos_matches_the_library():
    from aego.pghi import _sincos

    q = np.concatenate([np.linspace(0.0, 2 * np.pi, 20001, endpoint=False), [np.pi / 2, np.pi, 1.5 * np.pi]])
    got = np.array([_sincos(float(v)) for v in q])
    assert np.abs(got[:, 0] - np.sin(q)).max() < 1e-13
    assert np.abs(got[:, 1] - np.cos(q)).max() < 1e-13
