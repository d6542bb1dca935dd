"""Partials with their own phases (aego.partials): the frames drawn are the frames a re-analysis finds."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from aego.istft import istft, synthesis_transform
from aego.partials import Partials
from aego.space import SoundSpace
from aego.synth import Synth, SynthConfig
from aego.transform import Transform, spectral_convergence, to_db

SOURCE = Transform()  # the spaces' transform: 22 050 Hz, Gaussian window σ = 256
SYNTH = synthesis_transform(SOURCE, 48000, 32)
SIGMA_BINS = SOURCE.n_fft / (2 * np.pi * SOURCE.window_std)


def _draw(freqs: np.ndarray, heights: np.ndarray, envelope: np.ndarray | None = None, delay: int = 0,
          chirps: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Frames of partials following ``freqs (frames, K)`` with ``heights (K,)``, then the audio they invert to."""
    partials = Partials(SYNTH, SOURCE, freqs.shape[1], SIGMA_BINS, delay=delay, seed=3)
    env = np.zeros(SYNTH.bins) if envelope is None else envelope
    frames = []
    for f in freqs:
        partials.push(f, heights, 1.0, env)
        if not chirps:
            partials._slopes[:] = 0.0
            partials.noise_at -= partials.hop
            partials._draw(f, heights, 1.0, partials.phases.copy(), env)
        frame = partials.frame()
        if frame is not None:
            frames.append(frame.copy())
    frames = np.array(frames)
    return frames, istft(frames, SYNTH)


def _sc_db(frames: np.ndarray, audio: np.ndarray) -> float:
    again = np.abs(SYNTH.stft(audio))
    edge = SYNTH.n_fft // (2 * SYNTH.hop) + 1
    n = min(len(again), len(frames))
    return to_db(spectral_convergence(np.abs(frames[edge : n - edge]), again[edge : n - edge]))


def test_a_steady_partial_is_a_sinusoid_at_its_frequency_and_level():
    frames, audio = _draw(np.full((400, 1), 440.0), np.array([10.0]))
    assert _sc_db(frames, audio) < -40
    middle = audio[SYNTH.n_fft : -SYNTH.n_fft]
    spectrum = np.abs(np.fft.rfft(middle * np.hanning(len(middle))))
    assert abs(np.argmax(spectrum) * SYNTH.sample_rate / len(middle) - 440.0) < 2.0
    # a peak of height H in the source transform is a sinusoid of amplitude 2·H / Σ(window)
    expected = 2 * 10.0 / SOURCE.window().sum()
    assert np.max(np.abs(middle)) == pytest.approx(expected, rel=0.02)


def test_the_frames_drawn_are_the_frames_a_reanalysis_finds():
    frames, audio = _draw(np.full((300, 3), [300.0, 1210.0, 2500.0]), np.array([4.0, 2.0, 1.0]))
    again = SYNTH.stft(audio)
    m = 150
    keep = np.abs(frames[m]) > 1e-3 * np.abs(frames[m]).max()
    # the phases too, not only the magnitudes
    err = np.abs(frames[m][keep] - again[m][keep]) / np.abs(frames[m][keep])
    assert np.median(err) < 5e-3  # a random phase would be ~1.4


def test_two_close_partials_beat_and_the_frames_say_so():
    frames, audio = _draw(np.full((600, 2), [500.0, 504.0]), np.array([5.0, 5.0]))
    assert _sc_db(frames, audio) < -35
    peak_bin = round(502.0 / (SYNTH.sample_rate / SYNTH.n_fft))
    level = np.abs(frames[100:500, peak_bin])
    # two partials 4 Hz apart: the level at their bin swells and fades four times a second
    assert level.max() > 5 * level.min()
    crossings = np.sum(np.diff(np.sign(level - level.mean())) != 0)
    seconds = 400 * SYNTH.hop / SYNTH.sample_rate
    assert crossings / 2 / seconds == pytest.approx(4.0, rel=0.25)


def test_a_gliding_partial_is_drawn_as_the_chirp_it_is():
    n = 500
    glide = np.linspace(400.0, 2400.0, n)[:, None]  # 2 kHz in 1.5 s
    frames, audio = _draw(glide, np.array([8.0]))
    still, still_audio = _draw(glide, np.array([8.0]), chirps=False)
    assert _sc_db(frames, audio) < -30
    assert _sc_db(frames, audio) < _sc_db(still, still_audio) - 6


def test_a_delay_of_one_frame_draws_the_same_frames_a_frame_later():
    freqs = np.full((200, 2), [220.0, 330.0])
    now, _ = _draw(freqs, np.array([3.0, 2.0]))
    later, _ = _draw(freqs, np.array([3.0, 2.0]), delay=1)
    assert len(later) == len(now) - 1
    assert np.allclose(later[50], now[50], atol=1e-9)


def test_the_envelope_shapes_a_noise_at_its_level():
    envelope = np.where(SYNTH.frequencies() < 3000.0, 2.0, 0.0)
    frames, audio = _draw(np.zeros((500, 1)), np.zeros(1), envelope=envelope)
    again = np.abs(SYNTH.stft(audio))[40:-40]
    band = (SYNTH.frequencies() > 500) & (SYNTH.frequencies() < 2500)
    # the mean log magnitude is the envelope's (the decoder learnt log magnitudes)
    assert np.exp(np.mean(np.log(again[:, band]))) == pytest.approx(2.0, rel=0.1)
    assert np.mean(again[:, SYNTH.frequencies() > 4000]) < 0.01 * np.mean(again[:, band])
    assert _sc_db(frames, audio) < -20
    # a noise, not a buzz: no sample-to-sample pattern repeats at the hop
    hop = SYNTH.hop
    x = audio[SYNTH.n_fft : SYNTH.n_fft + 40 * hop]
    assert abs(np.corrcoef(x[:-hop], x[hop:])[0, 1]) < 0.2


def test_a_peak_space_is_played_from_its_partials_and_rtpghi_remains_for_comparison():
    space = SoundSpace.load("synthetic")
    assert Synth(space, SynthConfig()).voices[0].partials is not None
    assert Synth(space, SynthConfig(phase="rtpghi")).voices[0].partials is None


class _Failing:
    """A bundled space whose partial decoder fails on demand: raises, or (``wrong_shape``) gives magnitudes
    one bin too long."""

    def __init__(self) -> None:
        self.space = SoundSpace.load("synthetic")
        self.fail = False
        self.wrong_shape = False

    def __getattr__(self, name: str):
        return getattr(self.space, name)

    def partial_decoder(self):
        decode = self.space.partial_decoder()

        def partials(z):
            if self.fail:
                raise RuntimeError("decoder failure (test)")
            frame = decode(z)
            if self.wrong_shape:
                frame = dataclasses.replace(frame, mags=np.append(frame.mags, np.float32(1.0)))
            return frame

        return partials


def test_a_failing_partial_decoder_gives_silence_and_an_event_then_recovers():
    events: list[dict] = []
    space = _Failing()
    synth = Synth(space, SynthConfig(), report=events.append)
    for _ in range(200):
        synth.next_hop()
    assert np.abs(synth.next_hop()).max() > 0
    space.fail = True
    for _ in range(2000):  # beyond the window's reach: only silent frames are left in the overlap-add
        out = synth.next_hop()
    assert np.abs(out).max() == 0.0
    assert synth.stats.decode_errors > 0 and any(e["what"] == "decode failed" for e in events)
    space.fail = False
    for _ in range(200):
        out = synth.next_hop()
    assert np.abs(out).max() > 0


@pytest.mark.parametrize("record", [False, True])
def test_a_partial_frame_of_the_wrong_shape_is_a_decode_error_and_the_sound_goes_on(record: bool):
    events: list[dict] = []
    space = _Failing()
    synth = Synth(space, SynthConfig(), report=events.append)
    synth.record = record
    synth.voices[0].keep_inverted = record  # as set_space does for the voices it makes
    for _ in range(50):
        synth.next_hop()
    space.wrong_shape = True
    for _ in range(20):
        synth.next_hop()
    assert synth.stats.decode_errors == 20
    assert any(e["what"] == "decode failed" and "wrong shape" in e["detail"] for e in events)
    space.wrong_shape = False
    for _ in range(200):
        out = synth.next_hop()
    assert np.abs(out).max() > 0
