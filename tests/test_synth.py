"""The synthesis path: spectra re-analysed from the audio it makes, controls, bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aego.render import TimelineEvent, render_timeline
from aego.synth import MagnitudeMap, Synth, SynthConfig
from aego.transform import Transform, map_magnitudes, spectral_convergence, to_db
from tests.synth_support import PeakSpace


def _sc_db(rendering) -> float:
    tf = rendering.transform
    again = tf.stft_magnitudes(rendering.audio)
    edge = tf.n_fft // (2 * tf.hop)
    n = min(len(again), len(rendering.magnitudes))
    return to_db(spectral_convergence(rendering.magnitudes[edge : n - edge], again[edge : n - edge]))


def _peak_hz(audio: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.argmax(spectrum) * rate / len(audio))


@pytest.mark.parametrize("rate", [22050, 44100, 48000])
def test_a_decoded_peak_is_heard_at_its_frequency(rate):
    space = PeakSpace(partials=1)
    z = np.array([0.0, 0.0])  # f0 = 500 Hz
    r = render_timeline(space, [TimelineEvent(0.0, "target", z)], 1.5, SynthConfig(sample_rate=rate))
    mags = r.transform.stft_magnitudes(r.audio)
    mid = len(mags) // 2
    assert np.argmax(mags[mid]) == np.argmax(r.magnitudes[mid])
    assert abs(_peak_hz(r.audio[rate // 4 : -rate // 4], rate) - space.f0(z)) < 3.0
    assert _sc_db(r) < -30.0


def test_a_trajectory_is_rebuilt_close_to_its_decoded_magnitudes():
    space = PeakSpace()
    rng = np.random.default_rng(0)
    z, timeline = 0.0, []
    for t in np.arange(0.0, 4.0, 0.05):
        z = float(np.clip(z + rng.choice((-0.02, 0.02)), -1, 1))
        timeline.append(TimelineEvent(float(t), "target", np.array([z, 0.0])))
    r = render_timeline(space, timeline, 4.0, SynthConfig(sample_rate=48000))
    assert _sc_db(r) < -25.0


def test_magnitude_map_keeps_levels_and_peaks():
    src, dst = Transform(), Transform().resampled(48000)
    smooth = np.linspace(1.0, 2.0, src.bins).astype(np.float32)
    assert np.allclose(MagnitudeMap(src, dst)(smooth), map_magnitudes(smooth, src, dst), rtol=1e-3)
    peak = PeakSpace(partials=1).decode(np.zeros(2))
    mapped = MagnitudeMap(src, dst)(peak)
    assert abs(dst.frequencies()[np.argmax(mapped)] - 500) < dst.sample_rate / dst.n_fft
    assert mapped.max() == pytest.approx(map_magnitudes(peak, src, dst).max(), rel=0.05)


def _run(synth: Synth, seconds: float) -> np.ndarray:
    hops = int(seconds * synth.sample_rate / synth.hop)
    return np.concatenate([synth.next_hop().copy() for _ in range(hops)])


def test_nan_and_wrong_size_targets_are_refused_and_the_sound_goes_on():
    events = []
    synth = Synth(PeakSpace(), SynthConfig(sample_rate=22050), report=events.append)
    synth.set_target([0.2, 0.0])
    before = _run(synth, 0.3)
    assert not synth.set_target([np.nan, 0.0])
    assert not synth.set_target([0.1, 0.2, 0.3])
    assert not synth.set_target("loud")
    after = _run(synth, 0.3)
    assert np.isfinite(after).all() and after.std() > 0.5 * before.std()
    assert synth.stats.refused == 3
    assert any(e["what"] == "latent refused" for e in events)


def test_far_targets_are_clamped_and_reported():
    events = []
    synth = Synth(PeakSpace(), SynthConfig(sample_rate=22050), report=events.append)
    assert synth.set_target([1e9, -1e9])
    assert np.all(np.abs(synth.voices[-1].target) <= 3.0)
    assert synth.stats.clamped == 1 and events[-1]["what"] == "latent clamped"
    assert np.isfinite(_run(synth, 0.2)).all()


def test_a_failing_decoder_gives_silence_and_an_event_then_recovers():
    events = []
    synth = Synth(PeakSpace(fail_when=0.5), SynthConfig(sample_rate=22050, glide_s=0.001), report=events.append)
    synth.set_target([0.0, 0.0])
    _run(synth, 0.3)
    synth.set_target([0.9, 0.0])
    broken = _run(synth, 0.5)
    assert synth.stats.decode_errors > 0 and any(e["what"] == "decode failed" for e in events)
    assert np.abs(broken[-2000:]).max() < 1e-3
    synth.set_target([0.0, 0.0])
    assert _run(synth, 0.5)[-2000:].std() > 0.01


def test_mute_gain_panic_and_fade():
    synth = Synth(PeakSpace(), SynthConfig(sample_rate=22050))
    loud = _run(synth, 0.3)[-2000:].std()
    synth.set_gain(synth.config.gain / 2)
    assert _run(synth, 0.2)[-2000:].std() == pytest.approx(loud / 2, rel=0.05)
    synth.set_mute(True)
    assert np.abs(_run(synth, 0.1)[-1000:]).max() == 0.0
    synth.set_mute(False)
    assert _run(synth, 0.2)[-1000:].std() > 0
    synth.panic()
    out = _run(synth, 2 * synth.hop / synth.sample_rate)
    assert np.abs(out[-synth.hop :]).max() == 0.0
    synth.set_mute(False)
    synth.fade_out(0.2)
    _run(synth, 0.3)
    assert synth.faded_out and np.abs(_run(synth, 0.1)).max() == 0.0
    assert not synth.set_gain(float("nan"))


def test_gain_changes_never_jump():
    synth = Synth(PeakSpace(), SynthConfig(sample_rate=22050))
    _run(synth, 0.3)
    synth.set_mute(True)
    out = _run(synth, 0.1)
    # A 20 ms ramp: no sample-to-sample step larger than the signal's own
    assert np.abs(np.diff(out)).max() < 0.1


def test_space_change_crossfades_to_the_new_space():
    low, high = PeakSpace(low=300, high=300, partials=1), PeakSpace(low=1200, high=1200, partials=1)
    r = render_timeline(low, [TimelineEvent(1.0, "space", high, crossfade_s=0.5)], 3.0,
                        SynthConfig(sample_rate=22050))
    rate = 22050
    before, after = r.audio[rate // 4 : rate * 3 // 4], r.audio[2 * rate : 3 * rate - 2048]
    assert abs(_peak_hz(before, rate) - 300) < 5 and abs(_peak_hz(after, rate) - 1200) < 5
    middle = r.transform.stft_magnitudes(r.audio)[int(1.25 * rate / r.transform.hop)]
    f = r.transform.frequencies()
    for hz in (300, 1200):
        assert middle[np.argmin(abs(f - hz))] > 0.1 * middle.max()


def test_a_prepared_space_is_played_as_prepared_from_where_the_sound_is():
    low, high = PeakSpace(low=300, high=300, partials=1), PeakSpace(low=1200, high=1200, partials=1)
    synth = Synth(low, SynthConfig(sample_rate=22050))
    synth.set_target(np.full(low.latent_dim, 0.3))
    for _ in range(50):
        synth.next_hop()
    voice = synth.prepare_voice(high)  # what the engine's loader thread does
    synth.set_space(high, 0.1, voice=voice)
    # the synthesis thread only adds it: no decoder, map or phase state is built there
    assert synth.voices[-1] is voice
    np.testing.assert_array_equal(voice.target, synth.voices[0].target)
    for _ in range(200):
        out = synth.next_hop()
    assert np.isfinite(out).all() and np.abs(out).max() > 0.0


def test_a_space_that_does_not_load_keeps_the_previous_one(tmp_path):
    bad = tmp_path / "broken.space"
    bad.write_bytes(b"\x80\x04not a space")
    r = render_timeline(PeakSpace(partials=1), [TimelineEvent(0.5, "space", str(bad))], 1.5,
                        SynthConfig(sample_rate=22050))
    assert any(e["what"] == "space not loaded" for e in r.events)
    assert r.audio[-8000:].std() > 0.01


def test_steps_glide_without_clicks():
    synth = Synth(PeakSpace(partials=1), SynthConfig(sample_rate=22050))
    _run(synth, 0.3)
    steady = np.abs(np.diff(_run(synth, 0.2))).max()
    synth.set_target([0.5, 0.0])
    moving = np.abs(np.diff(_run(synth, 0.2))).max()
    assert moving < 3 * steady


@pytest.mark.parametrize("space_kind", ["bins", "peaks"])
def test_the_warm_up_loads_the_kernels_of_both_kinds_of_space(space_kind: str, tmp_path: Path) -> None:
    """A peak space may follow a space of bins in a piece (and the other way round), and a decoder may fail:
    every compiled kernel of the synthesis path must be ready before the first hop, whichever kind of space
    comes first (loading one on the synthesis thread took 3-6 ms a hop from the cache, 80 ms compiling).
    Run with a cold numba cache, so that nothing is compiled before the warm-up."""
    code = (
        "import importlib, sys\n"
        "from numba.core.registry import CPUDispatcher\n"
        "kernels = []\n"
        "for name in ('aego.synth', 'aego.partials', 'aego.pghi', 'aego.istft'):\n"
        "    module = importlib.import_module(name)\n"
        "    kernels += [k for k in vars(module).values() if isinstance(k, CPUDispatcher)\n"
        "                and k.__module__ == name and k.targetoptions.get('inline') != 'always']\n"
        "assert len(kernels) >= 8, [k.__name__ for k in kernels]\n"
        "assert not any(k.signatures for k in kernels), 'compiled before the test started'\n"
        "from aego.space import SoundSpace\n"
        "from aego.synth import SynthConfig, warm_up\n"
        "from tests.synth_support import PeakSpace\n"
        f"space = PeakSpace() if {space_kind!r} == 'bins' else SoundSpace.load('synthetic')\n"
        "warm_up(space, SynthConfig(sample_rate=48000))\n"
        "print(' '.join(k.__name__ for k in kernels if not k.signatures))\n"
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}  # a cold cache
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"not loaded by the warm-up: {out.stdout.strip()}"
