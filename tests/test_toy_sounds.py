"""The toy sounds hold what their parameters say: partials, decay, sidebands, envelope, level."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import jv

from aego.toy_sounds import (
    PEAK,
    RAMP,
    SAMPLE_RATE,
    AdditiveParams,
    FMParams,
    additive,
    envelope,
    fm,
    fm_naive,
)


def _spectrum(x: np.ndarray, sample_rate: int = SAMPLE_RATE) -> tuple[np.ndarray, np.ndarray]:
    """Amplitude spectrum of the flat part (between the ramps), Blackman window, 8x zero-padding."""
    ramp = int(RAMP * sample_rate)
    seg = x[ramp:-ramp].astype(np.float64)
    w = np.blackman(len(seg))
    n = 8 * len(seg)
    mag = np.abs(np.fft.rfft(seg * w, n)) * 2 / w.sum()
    return np.fft.rfftfreq(n, 1 / sample_rate), mag


def _amplitude_at(freqs: np.ndarray, mag: np.ndarray, f: float, width: float = 4.0) -> float:
    near = np.abs(freqs - f) <= width
    return float(mag[near].max())


@pytest.mark.parametrize(("f0", "partials", "decay"), [(220.0, 7, 2.0), (97.3, 4, 0.2), (1024.0, 7, 4.0)])
def test_additive_partials_sit_at_harmonics_with_exponential_amplitudes(f0, partials, decay):
    rng = np.random.default_rng(1)
    x = additive(AdditiveParams(f0, partials, decay), rng.uniform(0, 2 * np.pi, partials))
    freqs, mag = _spectrum(x)
    measured = np.array([_amplitude_at(freqs, mag, k * f0) for k in range(1, partials + 1)])
    expected = np.exp(-np.arange(1, partials + 1) * decay / partials)
    np.testing.assert_allclose(measured / measured[0], expected / expected[0], rtol=0.03)
    # Nothing between the harmonics nor above the last one.
    for f in [(k + 0.5) * f0 for k in range(1, partials + 1)]:
        assert _amplitude_at(freqs, mag, f) < 1e-3 * measured[0]


def test_additive_leaves_out_partials_above_nyquist():
    f0 = 3000.0  # partials 4..7 would sit at 12-21 kHz, above the 11025 Hz Nyquist frequency
    x = additive(AdditiveParams(f0, 7, 0.2), np.zeros(7))
    freqs, mag = _spectrum(x)
    top = mag.max()
    for k in (1, 2, 3):
        assert _amplitude_at(freqs, mag, k * f0) > 0.3 * top
    # Where aliases of 12, 15, 18, 21 kHz would fold: 10050, 7050, 4050, 1050 Hz.
    for alias in (10050.0, 7050.0, 4050.0, 1050.0):
        assert _amplitude_at(freqs, mag, alias, 20) < 1e-3 * top


def test_envelope_ramps_and_peak_level():
    x = additive(AdditiveParams(440.0, 3, 1.0), np.zeros(3))
    assert x.dtype == np.float32 and x.shape == (int(0.5 * SAMPLE_RATE),)
    assert np.max(np.abs(x)) == pytest.approx(PEAK, rel=1e-6)
    env = envelope(len(x))
    ramp = int(RAMP * SAMPLE_RATE)
    assert env[0] == 0 and env[ramp] == 1 and env[-1] < 1 / ramp + 1e-12
    np.testing.assert_allclose(np.diff(env[:ramp]), 1 / ramp)
    # The sound never leaves its envelope (scaled to the peak).
    scale = PEAK / np.max(np.abs(x / np.maximum(env, 1e-9))[ramp:-ramp])
    assert np.all(np.abs(x) <= env * PEAK / scale * 1.0001 + 1e-6)
    assert abs(x[0]) < 1e-6 and abs(x[-1]) < 0.01


def test_fm_sidebands_at_carrier_plus_multiples_of_the_modulator_with_bessel_amplitudes():
    f0, ratio, index = 500.0, 0.3, 2.5
    freqs, mag = _spectrum(fm(FMParams(f0, ratio, index)))
    fm_hz = ratio * f0
    ks = np.arange(-3, 6)
    measured = np.array([_amplitude_at(freqs, mag, f0 + k * fm_hz) for k in ks])
    expected = np.abs(jv(ks, index))
    np.testing.assert_allclose(measured / measured.max(), expected / expected.max(), atol=0.01)
    # Half-way between sidebands there is nothing.
    for k in ks:
        assert _amplitude_at(freqs, mag, f0 + (k + 0.5) * fm_hz, 10) < 0.003 * measured.max()


def test_fm_is_the_fm_formula_where_nothing_folds():
    params = FMParams(300.0, 1.7, 12.0)
    rate = 192000  # every significant sideband (up to ~50 kHz) lies below this rate's Nyquist
    band_limited = fm(params, rate, 0.3, peak=1.0).astype(np.float64)
    naive = fm_naive(params, rate, 0.3) * envelope(int(0.3 * rate), rate)
    naive /= np.max(np.abs(naive))
    assert np.max(np.abs(band_limited - naive)) < 1e-5


def test_fm_does_not_alias_at_high_index():
    f0, ratio, index = 600.0, 3.0, 30.0  # a naive rendering reaches 56 kHz and folds all over the band
    freqs, mag = _spectrum(fm(FMParams(f0, ratio, index)))
    lines = np.abs(f0 + np.arange(-7, 7) * ratio * f0)
    lines = lines[lines < SAMPLE_RATE / 2]
    off_lines = np.ones_like(freqs, dtype=bool)
    for f in lines:
        off_lines &= np.abs(freqs - f) > 25
    assert mag[off_lines].max() < 0.003 * mag.max()
    _, naive_mag = _spectrum(fm_naive(FMParams(f0, ratio, index), SAMPLE_RATE) * envelope(11025))
    assert naive_mag[off_lines].max() > 0.05 * naive_mag.max()  # the check above can tell aliasing


def test_fm_with_zero_ratio_is_a_sine_at_the_carrier():
    freqs, mag = _spectrum(fm(FMParams(200.0, 0.0, 20.0)))
    assert abs(freqs[mag.argmax()] - 200.0) < 1.0
    assert mag.max() == pytest.approx(PEAK, rel=0.01)
