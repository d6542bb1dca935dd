"""The spectral VAE and its NumPy decoder."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aego.numpy_decoder import NumpyDecoder
from aego.vae import Normalisation, SpectralVAE, VAEConfig, kl_divergence, mmd_rbf, model_from_numpy, state_to_numpy


@pytest.mark.parametrize(
    "arch",
    [
        {},  # the default: MLP to full resolution + convolutional refinement
        {"dec_coarse": (8, 130), "dec_stages": ((2, 8, 5), (4, 4, 5), (1, 1, 3))},  # coarse map + upsampling
        {"dec_coarse": (1, 1025), "dec_stages": ()},  # MLP only
    ],
)
def test_numpy_decoder_computes_what_the_torch_decoder_computes(arch: dict) -> None:
    config = VAEConfig(**arch)
    torch.manual_seed(1)
    model = SpectralVAE(config).eval()
    rng = np.random.default_rng(0)
    norm = Normalisation(rng.uniform(0, 2, config.bins).astype(np.float32), 1.7)
    decoder = NumpyDecoder(config, state_to_numpy(model), norm)
    z = rng.standard_normal((6, config.latent_dim)).astype(np.float32)
    with torch.no_grad():
        expected = model.decode(torch.from_numpy(z)).numpy()
    np.testing.assert_allclose(decoder.decode_normalised(z), expected, rtol=1e-4, atol=1e-4)
    mags = decoder(z)
    np.testing.assert_allclose(mags, norm.inverse(expected), rtol=1e-3, atol=1e-3)
    frame = decoder.frame()
    np.testing.assert_allclose(frame(z[2]), mags[2], rtol=1e-5, atol=1e-5)
    assert frame(z[2]).shape == (config.bins,) and frame(z[2]).dtype == np.float32


def test_model_round_trips_through_numpy_arrays() -> None:
    config = VAEConfig(latent_dim=4)
    model = SpectralVAE(config).eval()
    again = model_from_numpy(config, state_to_numpy(model))
    u = torch.randn(3, config.bins)
    with torch.no_grad():
        torch.testing.assert_close(model.encode(u)[0], again.encode(u)[0])
    with pytest.raises(ValueError):
        model_from_numpy(VAEConfig(latent_dim=5), state_to_numpy(model))


def test_encoder_shapes_and_posterior() -> None:
    model = SpectralVAE(VAEConfig(latent_dim=3))
    u_hat, z, mu, logvar = model(torch.randn(5, 1025))
    assert u_hat.shape == (5, 1025) and z.shape == mu.shape == logvar.shape == (5, 3)


def test_bad_architectures_are_refused() -> None:
    with pytest.raises(ValueError):
        VAEConfig(dec_coarse=(4, 100), dec_stages=((2, 1, 3),)).validate()  # 200 < 1025 bins
    with pytest.raises(ValueError):
        VAEConfig(dec_stages=((1, 4, 4), (1, 1, 3))).validate()  # even kernel


def test_normalisation_inverts_and_never_goes_negative() -> None:
    rng = np.random.default_rng(0)
    mags = rng.exponential(3.0, (200, 1025)).astype(np.float32)
    norm = Normalisation.fit(mags)
    u = norm.forward(mags)
    assert abs(float(u.mean())) < 1e-3 and abs(float(u.std()) - 1.0) < 1e-2
    np.testing.assert_allclose(norm.inverse(u), mags, rtol=1e-4, atol=1e-4)
    assert norm.inverse(u - 100.0).min() >= 0.0


def test_regularisers() -> None:
    mu, logvar = torch.zeros(16, 4), torch.zeros(16, 4)
    assert float(kl_divergence(mu, logvar)) == pytest.approx(0.0, abs=1e-6)
    assert float(kl_divergence(mu, logvar, free_bits=0.5)) == pytest.approx(2.0)  # 4 dims x 0.5 nats
    assert float(kl_divergence(mu + 1.0, logvar)) == pytest.approx(2.0)  # 4 x 0.5 * 1²
    torch.manual_seed(0)
    near = float(mmd_rbf(torch.randn(256, 4)))
    far = float(mmd_rbf(torch.randn(256, 4) + 3.0))
    assert far > 10 * max(near, 1e-4)
