"""The pitch-aware VAE: a decoder that places spectral peaks at continuous frequencies.

A decoder that outputs bins can only cross-fade between the spectra it learned: asked for a pitch
between two training pitches it blurs both. This one draws each partial as the analytic peak the
Gaussian analysis window gives a sinusoid, wherever it falls, so pitches between (and beyond) the
training grid come out as sharp as the ones on it, and the real-time phase reconstruction (RTPGHI,
which assumes exactly such peaks) gets consistent spectra.

Model (normalised input ``u = (log1p X - mean) / scale`` as in :mod:`aego.vae`; ``X`` linear magnitudes):

- Encoder: the convolutional encoder of :class:`aego.vae.SpectralVAE` gives the posterior of the latent
  dimensions ``3..d-1`` (timbre); dimensions ``0, 1, 2`` are the frame's comb estimates from
  :mod:`aego.comb_analysis` (log base, log spacing, level), standardised over the training frames and
  noise-free. So the first three latent axes are pitch, partial spacing and loudness by construction.
- Decoder: ``z`` -> MLP trunk -> heads. One comb of ``2N+1`` peaks at ``f_k = |b + k·s + δ_k|``,
  ``k = -N..N``, with ``b, s`` from ``z0, z1`` (times a learned correction within ±5 %), ``δ_k`` small
  learned deviations (inharmonicity), heights ``exp(level(z2) + a_k)``; peaks at or above Nyquist are
  silent. Each peak is ``h·g(f_bin - f)`` plus its mirror image at ``-f``, ``g`` the window's spectral
  Gaussian (std ``sigma_bins`` bins) widened by a learned factor in ``[1, width_max]`` (vibrato, fast
  changes). A smooth envelope (``env_points`` softplus values, linearly interpolated) adds the noise.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812 - the usual torch spelling

from aego.comb_analysis import analyse

LEAK = 0.2
FIXED_DIMS = 3
"""Latent dimensions set by the comb analysis: log base, log spacing, level."""
CORRECTION = 0.05
"""Largest learned correction of the analysed base and spacing, in natural-log units (about ±5 %)."""
REACH = 6.0
"""Peaks are drawn within this many standard deviations of their centre (exp(-18) beyond)."""
LOG_HEIGHT = (-14.0, 9.0)
NO_NOISE_LOGVAR = -40.0


def envelope_matrix(points: int, bins: int) -> np.ndarray:
    """``(points, bins)`` float32: linear interpolation from ``points`` values spread over 0..Nyquist."""
    pos = np.linspace(0, points - 1, bins)
    lo = np.floor(pos).astype(int).clip(0, points - 2)
    frac = pos - lo
    m = np.zeros((points, bins), np.float32)
    m[lo, np.arange(bins)] = 1 - frac
    m[lo + 1, np.arange(bins)] += frac
    return m


class PeakVAE(nn.Module):
    """Pitch-aware VAE on normalised frames ``u (batch, bins)``; ``config.decoder == "peaks"``.

    The normalisation and the comb statistics are buffers (saved with the weights): call
    :meth:`set_statistics` before training.
    """

    fixed_dims = FIXED_DIMS

    def __init__(self, config: object) -> None:
        super().__init__()
        from aego.vae import VAEConfig, build_encoder, hidden_layers

        assert isinstance(config, VAEConfig)
        config.validate()
        if config.latent_dim <= FIXED_DIMS:
            raise ValueError(f"the peak decoder needs more than {FIXED_DIMS} latent dimensions")
        self.config = config
        self.encoder_convs, self.encoder_head = build_encoder(config)
        layers, width = hidden_layers(config.latent_dim, config.dec_hidden)
        self.trunk = nn.Sequential(*layers)
        k = 2 * config.half_peaks + 1
        # One head: 2 corrections (base, spacing), 1 width, k deviations, k log heights, the envelope.
        self.head = nn.Linear(width, 3 + 2 * k + config.env_points)
        with torch.no_grad():
            self.head.weight.mul_(0.1)
            self.head.bias.zero_()
            self.head.bias[2] = -4.0  # width factor starts near 1
            self.head.bias[3 + k : 3 + 2 * k] = -3.0  # heights start well below the strongest peak
            self.head.bias[3 + 2 * k :] = -9.0  # envelope starts near silence
        self.register_buffer("ks", torch.arange(-config.half_peaks, config.half_peaks + 1, dtype=torch.float32))
        self.register_buffer("env_interp", torch.from_numpy(envelope_matrix(config.env_points, config.bins)))
        self.register_buffer("norm_mean", torch.zeros(config.bins))
        self.register_buffer("norm_scale", torch.ones(1))
        self.register_buffer("feat_mean", torch.zeros(FIXED_DIMS))
        self.register_buffer("feat_std", torch.ones(FIXED_DIMS))
        self.register_buffer("feat_lo", torch.full((FIXED_DIMS,), -1e3))
        self.register_buffer("feat_hi", torch.full((FIXED_DIMS,), 1e3))

    # -- statistics ----------------------------------------------------------------------------------

    def set_statistics(self, norm_mean: np.ndarray, norm_scale: float, feats: np.ndarray) -> None:
        """Normalisation ``(bins,)``, ``scale`` and the comb features ``(n, 3)`` of the training frames."""
        with torch.no_grad():
            self.norm_mean.copy_(torch.as_tensor(np.asarray(norm_mean, np.float32)))
            self.norm_scale.fill_(float(norm_scale))
            self.feat_mean.copy_(torch.as_tensor(feats.mean(axis=0), dtype=torch.float32))
            self.feat_std.copy_(torch.as_tensor(np.maximum(feats.std(axis=0), 1e-3), dtype=torch.float32))
            self.feat_lo.copy_(torch.as_tensor(feats.min(axis=0), dtype=torch.float32))
            self.feat_hi.copy_(torch.as_tensor(feats.max(axis=0), dtype=torch.float32))

    def features(self, u: torch.Tensor) -> torch.Tensor:
        """Standardised comb features ``(batch, 3)`` of normalised frames ``u`` (NumPy analysis)."""
        x = torch.expm1(torch.clamp(u * self.norm_scale + self.norm_mean, 0.0, 30.0))
        raw = analyse(x.detach().cpu().numpy(), self.config.bin_hz).stack()
        return self.standardise(raw)

    def standardise(self, raw: np.ndarray) -> torch.Tensor:
        """Raw comb features ``(n, 3)`` (log Hz, log Hz, log magnitude) -> standardised ``(n, 3)`` float32.

        Features are first clipped to the training frames' range: a pitch or level the decoder never saw
        (a sound with a DC offset, a note below the training range) must not drive it where it was not trained.
        """
        raw_t = torch.as_tensor(raw, dtype=torch.float32)
        return (torch.minimum(torch.maximum(raw_t, self.feat_lo), self.feat_hi) - self.feat_mean) / self.feat_std

    # -- encoder -------------------------------------------------------------------------------------

    def encode(self, u: torch.Tensor, feats: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``u (batch, bins)`` (and optionally its standardised features) -> ``(mu, logvar)`` ``(batch, d)``."""
        if feats is None:
            feats = self.features(u)
        h = self.encoder_convs(u.unsqueeze(1)).flatten(1)
        mu, logvar = self.encoder_head(h).chunk(2, dim=1)
        mu = torch.cat([feats.to(mu.dtype), mu[:, FIXED_DIMS:]], dim=1)
        fixed = torch.full_like(logvar[:, :FIXED_DIMS], NO_NOISE_LOGVAR)
        return mu, torch.cat([fixed, logvar[:, FIXED_DIMS:].clamp(-12.0, 8.0)], dim=1)

    # -- decoder -------------------------------------------------------------------------------------

    def peak_parameters(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``z (B, d)`` -> ``freqs (B, K)`` Hz, ``heights (B, K)`` linear, ``width (B, 1)`` factor,
        ``envelope (B, bins)`` linear."""
        cfg = self.config
        k = 2 * cfg.half_peaks + 1
        o = self.head(self.trunk(z))
        raw = self.feat_mean + self.feat_std * z[:, :FIXED_DIMS]
        log_b = raw[:, 0:1] + CORRECTION * torch.tanh(o[:, 0:1])
        log_s = raw[:, 1:2] + CORRECTION * torch.tanh(o[:, 1:2])
        width = 1.0 + (cfg.width_max - 1.0) * torch.sigmoid(o[:, 2:3])
        dev = cfg.peak_dev_hz * torch.tanh(o[:, 3 : 3 + k])
        freqs = (torch.exp(log_b.clamp(-3.0, 11.0)) + self.ks * torch.exp(log_s.clamp(-3.0, 11.0)) + dev).abs()
        log_h = (raw[:, 2:3] + o[:, 3 + k : 3 + 2 * k]).clamp(*LOG_HEIGHT)
        nyquist = cfg.bin_hz * (cfg.bins - 1)
        heights = torch.exp(log_h) * (freqs < nyquist).to(log_h.dtype)
        env = F.softplus(o[:, 3 + 2 * k :]) @ self.env_interp
        return freqs, heights, width, env

    def render(self, freqs: torch.Tensor, heights: torch.Tensor, width: torch.Tensor,
               env: torch.Tensor) -> torch.Tensor:
        """Peaks and envelope -> linear magnitudes ``(B, bins)``, each peak drawn only near its centre."""
        cfg = self.config
        half = math.ceil(REACH * cfg.sigma_bins * cfg.width_max)
        offs = torch.arange(-half, half + 1, dtype=freqs.dtype)
        centre = torch.cat([freqs, -freqs], dim=1) / cfg.bin_hz  # (B, 2K) in bins
        amp = torch.cat([heights, heights], dim=1)
        idx = torch.round(centre.detach())[..., None] + offs  # (B, 2K, W)
        d = idx - centre[..., None]
        sig = cfg.sigma_bins * width[..., None]
        val = amp[..., None] * torch.exp(-0.5 * (d / sig) ** 2)
        ok = (idx >= 0) & (idx < cfg.bins)
        val = torch.where(ok, val, torch.zeros_like(val))
        flat_idx = idx.clamp(0, cfg.bins - 1).long().view(freqs.shape[0], -1)
        return env.scatter_add(1, flat_idx, val.view(freqs.shape[0], -1))

    def decode_linear(self, z: torch.Tensor) -> torch.Tensor:
        """``z (B, d)`` -> linear magnitudes ``(B, bins)``."""
        return self.render(*self.peak_parameters(z))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``z (B, d)`` -> normalised ``u (B, bins)``."""
        return (torch.log1p(self.decode_linear(z)) - self.norm_mean) / self.norm_scale

    def forward(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(u)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        return self.decode(z), z, mu, logvar
