"""The pitch-aware VAE: comb analysis of real toy sounds, the NumPy twin of the peak decoder, training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from aego.comb_analysis import analyse, peaks
from aego.numpy_decoder import NumpyPeakDecoder, make_decoder
from aego.space import SoundSpace
from aego.toy_sounds import AdditiveParams, FMParams, additive, fm
from aego.training import TrainConfig, train
from aego.transform import Transform
from aego.vae import Normalisation, VAEConfig, build_model, model_from_numpy, state_to_numpy

T = Transform()
BIN_HZ = T.sample_rate / T.n_fft


def _middle_frames(audio: np.ndarray) -> np.ndarray:
    m = T.stft_magnitudes(audio)
    return m[len(m) // 2 - 2 : len(m) // 2 + 2]


@pytest.mark.parametrize("f0", [71.3, 233.0, 517.9, 1003.1])
@pytest.mark.parametrize("partials", [1, 2, 5, 7])
def test_comb_of_an_additive_tone_is_its_fundamental(f0: float, partials: int) -> None:
    rng = np.random.default_rng(partials)
    frames = _middle_frames(additive(AdditiveParams(f0, partials, 1.0), rng.uniform(0, 2 * np.pi, partials)))
    feats = analyse(frames, BIN_HZ)
    np.testing.assert_allclose(feats.base, f0, rtol=1e-3)
    np.testing.assert_allclose(feats.spacing, f0, rtol=1e-3)
    _row, freq, _ = peaks(frames[:1], BIN_HZ)
    expected = [f0 * k for k in range(1, partials + 1) if f0 * k < T.sample_rate / 2]
    np.testing.assert_allclose(np.sort(freq), expected, rtol=1e-3)


def test_comb_of_an_fm_tone_is_on_its_sidebands() -> None:
    fc, ratio = 300.0, 1.37
    frames = _middle_frames(fm(FMParams(fc, ratio, 4.0)))
    feats = analyse(frames, BIN_HZ)
    np.testing.assert_allclose(feats.spacing, ratio * fc, rtol=2e-3)
    # The strongest peak is a sideband, maybe one folded below 0 Hz: |fc + k·m·fc| for some k.
    spacing = ratio * fc
    off_comb = np.minimum(
        np.abs(feats.base - fc - np.rint((feats.base - fc) / spacing) * spacing),
        np.abs(-feats.base - fc - np.rint((-feats.base - fc) / spacing) * spacing),
    )
    assert np.all(off_comb < 1.0)


def test_a_dc_offset_is_not_the_pitch() -> None:
    tone = additive(AdditiveParams(262.0, 3, 1.0), np.zeros(3)) + 0.3  # a sample with an offset
    feats = analyse(_middle_frames(tone), BIN_HZ)
    np.testing.assert_allclose(feats.base, 262.0, rtol=2e-3)


def test_silent_and_bad_frames() -> None:
    feats = analyse(np.zeros((3, 1025)), BIN_HZ)
    assert np.all(np.isfinite(feats.stack()))
    with pytest.raises(ValueError):
        analyse(np.zeros(1025), BIN_HZ)


def _peak_model(seed: int = 1) -> tuple[VAEConfig, torch.nn.Module, Normalisation]:
    config = VAEConfig(decoder="peaks", half_peaks=6, env_points=16, dec_hidden=(32,), enc_channels=(4,),
                       enc_hidden=16)
    torch.manual_seed(seed)
    model = build_model(config).eval()
    rng = np.random.default_rng(seed)
    norm = Normalisation(rng.uniform(0, 1, config.bins).astype(np.float32), 1.3)
    feats = np.stack([rng.normal(5.5, 0.7, 200), rng.normal(5.5, 0.7, 200), rng.normal(3, 1, 200)], axis=1)
    model.set_statistics(norm.mean, norm.scale, feats)
    with torch.no_grad():  # a trained model's heights, not the initial ones, so every peak matters
        model.head.bias[3 + 13 : 3 + 26] = -0.5 * torch.arange(-6, 7).abs().float()
        model.head.bias[2] = 0.0
    return config, model, norm


def test_numpy_twin_computes_what_the_torch_peak_decoder_computes() -> None:
    config, model, norm = _peak_model()
    decoder = make_decoder(config, state_to_numpy(model), norm)
    assert isinstance(decoder, NumpyPeakDecoder)
    z = np.random.default_rng(0).standard_normal((5, config.latent_dim)).astype(np.float32)
    with torch.no_grad():
        expected = model.decode_linear(torch.from_numpy(z)).numpy()
    got = decoder(z)
    assert got.shape == (5, config.bins) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4 * expected.max())
    np.testing.assert_allclose(decoder.frame()(z[3]), got[3], rtol=1e-6)
    with torch.no_grad():
        u = model.decode(torch.from_numpy(z)).numpy()
    np.testing.assert_allclose(decoder.decode_normalised(z), u, atol=1e-3)


def test_peaks_land_where_the_pitch_axis_says() -> None:
    config, model, norm = _peak_model()
    decoder = make_decoder(config, state_to_numpy(model), norm)
    with torch.no_grad():
        mean, std = model.feat_mean.numpy().astype(float), model.feat_std.numpy().astype(float)
    for f0 in (110.0, 440.0):
        z = np.zeros((1, config.latent_dim), np.float32)
        z[0, 0] = (np.log(f0) - mean[0]) / std[0]
        z[0, 1] = (np.log(f0) - mean[1]) / std[1]
        frame = decoder(z)
        _, freq, amp = peaks(frame, BIN_HZ)
        # The strongest peak is the comb's base, within the learned ±5 % correction and the deviation.
        assert abs(freq[np.argmax(amp)] - f0) < 0.05 * f0 + config.peak_dev_hz + BIN_HZ


def test_the_pitch_axes_are_the_analysed_features() -> None:
    _config, model, norm = _peak_model()
    frames = _middle_frames(additive(AdditiveParams(330.0, 3, 1.0), np.zeros(3)))
    with torch.no_grad():
        mu, logvar = model.encode(torch.from_numpy(norm.forward(frames)))
    raw = mu[:, :3].numpy() * model.feat_std.numpy() + model.feat_mean.numpy()
    np.testing.assert_allclose(np.exp(raw[:, 0]), 330.0, rtol=2e-3)
    assert torch.all(logvar[:, :3] < -20)  # not sampled


def test_peak_model_round_trips_and_refuses_a_wrong_head() -> None:
    config, model, norm = _peak_model()
    state = state_to_numpy(model)
    again = model_from_numpy(config, state)
    z = torch.randn(2, config.latent_dim)
    with torch.no_grad():
        torch.testing.assert_close(again.decode(z), model.decode(z))
    with pytest.raises(ValueError):
        NumpyPeakDecoder(VAEConfig(decoder="peaks", half_peaks=7, env_points=16, dec_hidden=(32,)), state, norm)
    with pytest.raises(ValueError):
        VAEConfig(decoder="peaks", latent_dim=3).validate()
    with pytest.raises(ValueError):
        VAEConfig(decoder="wavetable").validate()


def test_training_a_peak_space_end_to_end(tmp_path: Path) -> None:
    folder = tmp_path / "tones"
    folder.mkdir()
    rng = np.random.default_rng(3)
    f0s = rng.uniform(150, 600, 10)
    for i, f0 in enumerate(f0s):
        sf.write(folder / f"t{i}.wav", additive(AdditiveParams(float(f0), 4, 1.5), rng.uniform(0, 6, 4)), 22050)
    config = TrainConfig(epochs=3, batch_size=32, previews=1, preview_iterations=2,
                         arch={"decoder": "peaks", "half_peaks": 8, "env_points": 16, "dec_hidden": (32,),
                               "enc_channels": (4,), "enc_hidden": 16})
    space = train([folder], tmp_path / "tones.space", config, progress=False, log=lambda _: None)
    assert space.config.decoder == "peaks"
    loaded = SoundSpace.load(tmp_path / "tones.space")
    frames = T.stft_magnitudes(sf.read(folder / "t0.wav")[0])[10:12]
    z = loaded.encode(frames)
    assert z.shape == (2, 8)
    # The pitch axis of the encoded frames is the tone's fundamental.
    pitch = np.exp(z[:, 0] * loaded.state["feat_std"][0] + loaded.state["feat_mean"][0])
    np.testing.assert_allclose(pitch, f0s[0], rtol=2e-3)
    out = loaded.frame_decoder()(z[0])
    assert out.shape == (1025,) and np.all(np.isfinite(out)) and np.all(out >= 0)
