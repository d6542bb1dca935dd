"""The spectral VAE: a convolutional encoder and a cheap decoder on single magnitude frames.

The model works in a normalised log representation of one linear magnitude frame ``X`` (``bins`` values)::

    u = (log1p(X) - mean) / scale        # mean (bins,), scale a scalar: see Normalisation

Encoder (training and analysis only, torch): strided ``Conv1d`` layers over the frequency axis, then a
linear layer to the posterior mean and log-variance ``(2 * latent_dim,)``.

Decoder (the real-time path): an MLP from ``z`` to a coarse feature map ``(channels, length)``, then
stages of nearest-neighbour upsampling + ``Conv1d`` ("resize-convolution", no checkerboard artefacts) up
to ``bins``. Every decoder operation has a NumPy twin in :mod:`aego.numpy_decoder`, so the engine
decodes without torch, on one thread, in a fraction of a millisecond.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812 - the usual torch spelling

LEAK = 0.2  # LeakyReLU slope, shared with the NumPy decoder
MAX_BINS = 65537  # the largest frame a space may declare (n_fft 131072)
MAX_LATENT = 64
MAX_WIDTH = 8192  # channels or units of any layer
MAX_KERNEL = 129
MAX_FACTOR = 16


@dataclass(frozen=True)
class VAEConfig:
    """Architecture of a :class:`SpectralVAE`.

    Attributes:
        bins: input/output frame size (``n_fft // 2 + 1``).
        latent_dim: size of ``z``.
        enc_channels: output channels of each encoder convolution.
        enc_kernel: encoder kernel size.
        enc_stride: stride of every encoder convolution.
        enc_hidden: width of the linear layer after the convolutions.
        dec_hidden: widths of the decoder MLP's hidden layers.
        dec_coarse: ``(channels, length)`` of the map the MLP produces.
        dec_stages: ``(upsample factor, out channels, kernel)`` of each decoder stage; the last stage's
            output is cropped to ``bins`` and its channels summed into one frame when > 1 (keep it 1).
        decoder: ``"mlp"`` (this module's decoder, ``dec_hidden`` + ``dec_coarse`` + ``dec_stages``) or
            ``"peaks"`` (:class:`aego.peak_vae.PeakVAE`, whose trunk is ``dec_hidden``).
        half_peaks: ``N``: the peak decoder's comb has ``2N+1`` peaks.
        env_points: values of the peak decoder's noise envelope.
        peak_dev_hz: largest deviation of a peak from its comb position, Hz.
        width_max: largest widening of a peak relative to the window's own width.
        bin_hz: Hz per bin of the transform (``sample_rate / n_fft``).
        sigma_bins: the window's spectral standard deviation in bins (``n_fft / (2π·window std)``).
    """

    bins: int = 1025
    latent_dim: int = 8
    enc_channels: tuple[int, ...] = (8, 16)
    enc_kernel: int = 9
    enc_stride: int = 4
    enc_hidden: int = 256
    dec_hidden: tuple[int, ...] = (384, 768)
    dec_coarse: tuple[int, int] = (1, 1025)
    # No convolution stages by default: on this CPU a full-resolution refinement (4 channels, kernel 5)
    # cost 2.5x the training time per step and trained worse per epoch than the MLP alone.
    dec_stages: tuple[tuple[int, int, int], ...] = ()
    decoder: str = "mlp"
    half_peaks: int = 32
    env_points: int = 64
    peak_dev_hz: float = 4.0
    width_max: float = 2.0
    bin_hz: float = 22050 / 2048
    sigma_bins: float = 2048 / (2 * math.pi * 256)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VAEConfig:
        cfg = cls(
            bins=int(d["bins"]),
            latent_dim=int(d["latent_dim"]),
            enc_channels=tuple(int(c) for c in d["enc_channels"]),
            enc_kernel=int(d["enc_kernel"]),
            enc_stride=int(d["enc_stride"]),
            enc_hidden=int(d["enc_hidden"]),
            dec_hidden=tuple(int(h) for h in d["dec_hidden"]),
            dec_coarse=(int(d["dec_coarse"][0]), int(d["dec_coarse"][1])),
            dec_stages=tuple((int(f), int(c), int(k)) for f, c, k in d["dec_stages"]),
            decoder=str(d.get("decoder", "mlp")),
            half_peaks=int(d.get("half_peaks", 32)),
            env_points=int(d.get("env_points", 64)),
            peak_dev_hz=float(d.get("peak_dev_hz", 4.0)),
            width_max=float(d.get("width_max", 2.0)),
            bin_hz=float(d.get("bin_hz", 22050 / 2048)),
            sigma_bins=float(d.get("sigma_bins", 2048 / (2 * math.pi * 256))),
        )
        cfg.validate()
        return cfg

    def validate(self) -> None:
        """Raise ``ValueError`` for an architecture that cannot be built."""
        if not 16 <= self.bins <= MAX_BINS or not 1 <= self.latent_dim <= MAX_LATENT:
            raise ValueError(f"bins {self.bins} / latent_dim {self.latent_dim} out of range")
        if self.decoder not in ("mlp", "peaks"):
            raise ValueError(f"unknown decoder '{self.decoder}': mlp or peaks")
        if self.decoder == "peaks":
            numbers = (self.peak_dev_hz, self.width_max, self.bin_hz, self.sigma_bins)
            if not (0 <= self.half_peaks <= 512 and 2 <= self.env_points <= MAX_WIDTH
                    and all(math.isfinite(v) for v in numbers) and 0 <= self.peak_dev_hz <= 1000
                    and 1.0 <= self.width_max <= 8.0 and 0 < self.bin_hz <= 1000 and 0.05 <= self.sigma_bins <= 64):
                raise ValueError("a peak-decoder setting (half_peaks, env_points, peak_dev_hz, width_max, "
                                 "bin_hz, sigma_bins) is out of range")
            if self.latent_dim <= 3:
                raise ValueError("the peak decoder needs at least 4 latent dimensions")
        # Bounds on every size: a crafted file must not make the loader allocate without limit.
        widths = (*self.enc_channels, self.enc_hidden, *self.dec_hidden, self.dec_coarse[0])
        if not all(1 <= w <= MAX_WIDTH for w in widths) or not 1 <= self.enc_kernel <= MAX_KERNEL \
                or not 1 <= self.enc_stride <= MAX_KERNEL or not 1 <= self.dec_coarse[1] <= 4 * MAX_BINS:
            raise ValueError("a layer width, kernel, stride or the coarse map is out of range")
        length = self.dec_coarse[1]
        for f, c, k in self.dec_stages:
            if not (1 <= f <= MAX_FACTOR and 1 <= c <= MAX_WIDTH and 1 <= k <= MAX_KERNEL and k % 2 == 1):
                raise ValueError(f"decoder stage {(f, c, k)}: factor 1-{MAX_FACTOR}, channels 1-{MAX_WIDTH} and "
                                 f"an odd kernel up to {MAX_KERNEL}")
            length *= f
        if length < self.bins:
            raise ValueError(f"decoder output length {length} is shorter than bins {self.bins}")
        if length > 4 * self.bins:
            raise ValueError(f"decoder output length {length} is far beyond bins {self.bins}")
        if self.dec_stages and self.dec_stages[-1][1] != 1:
            raise ValueError("the last decoder stage must have 1 output channel")
        if not self.dec_stages and self.dec_coarse[0] != 1:
            raise ValueError("without decoder stages the coarse map must have 1 channel")


@dataclass(frozen=True)
class Normalisation:
    """``u = (log1p(X) - mean) / scale``: per-bin mean, one global scale (so l2 weighs all bins alike).

    Attributes:
        mean: ``(bins,)`` float32, mean of ``log1p(X)`` over the training frames.
        scale: standard deviation of ``log1p(X) - mean`` over all training frames and bins.
    """

    mean: np.ndarray
    scale: float

    @classmethod
    def fit(cls, mags: np.ndarray) -> Normalisation:
        """From training frames ``(n, bins)`` of linear magnitudes."""
        logs = np.log1p(np.asarray(mags, dtype=np.float64))
        mean = logs.mean(axis=0)
        scale = float(np.sqrt(((logs - mean) ** 2).mean()))
        return cls(mean.astype(np.float32), max(scale, 1e-6))

    def forward(self, mags: np.ndarray) -> np.ndarray:
        """Linear magnitudes ``(..., bins)`` -> normalised ``u`` (same shape), float32."""
        return ((np.log1p(np.maximum(mags, 0.0)) - self.mean) / self.scale).astype(np.float32)

    def inverse(self, u: np.ndarray) -> np.ndarray:
        """Normalised ``u`` ``(..., bins)`` -> linear magnitudes, float32, never negative."""
        return np.expm1(np.clip(u * self.scale + self.mean, 0.0, 30.0)).astype(np.float32)


def hidden_layers(width: int, hidden: tuple[int, ...]) -> tuple[list[nn.Module], int]:
    """``Linear`` + LeakyReLU for each width in ``hidden``, from ``width`` inputs: ``(layers, output width)``.
    Both decoders start so (their NumPy twins rely on the ``Linear`` layers at even indices)."""
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(width, h), nn.LeakyReLU(LEAK)]
        width = h
    return layers, width


def build_encoder(config: VAEConfig) -> tuple[nn.Sequential, nn.Sequential]:
    """The convolutional encoder both models share: ``(convs, head)``; ``u (batch, 1, bins)`` through the
    convolutions, flattened, through the head gives ``(batch, 2 * latent_dim)`` (means, log-variances)."""
    convs: list[nn.Module] = []
    c_in, length = 1, config.bins
    for c_out in config.enc_channels:
        convs += [
            nn.Conv1d(c_in, c_out, config.enc_kernel, stride=config.enc_stride, padding=config.enc_kernel // 2),
            nn.BatchNorm1d(c_out),
            nn.LeakyReLU(LEAK),
        ]
        c_in = c_out
        length = (length + 2 * (config.enc_kernel // 2) - config.enc_kernel) // config.enc_stride + 1
    head = nn.Sequential(
        nn.Linear(c_in * length, config.enc_hidden),
        nn.LeakyReLU(LEAK),
        nn.Linear(config.enc_hidden, 2 * config.latent_dim),
    )
    return nn.Sequential(*convs), head


class SpectralVAE(nn.Module):
    """VAE on normalised frames ``u`` of shape ``(batch, bins)``."""

    fixed_dims = 0  # latent dimensions not drawn by the encoder (see aego.peak_vae)

    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.encoder_convs, self.encoder_head = build_encoder(config)
        mlp, width = hidden_layers(config.latent_dim, config.dec_hidden)
        mlp.append(nn.Linear(width, config.dec_coarse[0] * config.dec_coarse[1]))
        self.decoder_mlp = nn.Sequential(*mlp)
        stages = []
        c_in = config.dec_coarse[0]
        for _factor, c_out, k in config.dec_stages:
            stages.append(nn.Conv1d(c_in, c_out, k, padding=k // 2))
            c_in = c_out
        self.decoder_convs = nn.ModuleList(stages)

    def encode(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``u (batch, bins)`` -> posterior ``(mu, logvar)``, each ``(batch, latent_dim)``."""
        h = self.encoder_convs(u.unsqueeze(1)).flatten(1)
        mu, logvar = self.encoder_head(h).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 8.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``z (batch, latent_dim)`` -> ``u (batch, bins)``."""
        cfg = self.config
        h = self.decoder_mlp(z).view(z.shape[0], cfg.dec_coarse[0], cfg.dec_coarse[1])
        last = len(self.decoder_convs) - 1
        for i, ((factor, _c, _k), conv) in enumerate(zip(cfg.dec_stages, self.decoder_convs, strict=True)):
            if factor > 1:
                h = F.interpolate(h, scale_factor=factor, mode="nearest")
            h = conv(h)
            if i < last:
                h = F.leaky_relu(h, LEAK)
        return h[:, 0, : cfg.bins]

    def forward(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns ``(u_hat, z, mu, logvar)``; ``z`` is a reparameterised sample."""
        mu, logvar = self.encode(u)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        return self.decode(z), z, mu, logvar


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor, free_bits: float = 0.0) -> torch.Tensor:
    """KL(q(z|x) ‖ N(0, I)) in nats, summed over dims, averaged over the batch.

    With ``free_bits > 0`` each dimension's batch-mean KL below that value costs nothing (vschaos2),
    so the regulariser cannot switch dimensions off entirely.
    """
    per_dim = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).mean(dim=0)
    if free_bits > 0:
        per_dim = torch.clamp(per_dim, min=free_bits)
    return per_dim.sum()


def mmd_rbf(z: torch.Tensor) -> torch.Tensor:
    """Maximum mean discrepancy between the batch ``z (n, d)`` and as many draws of N(0, I) (InfoVAE)."""
    prior = torch.randn_like(z)
    d = z.shape[1]

    def kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.exp(-torch.cdist(a, b).pow(2) / (2.0 * d))

    return kernel(z, z).mean() + kernel(prior, prior).mean() - 2.0 * kernel(z, prior).mean()


def build_model(config: VAEConfig) -> nn.Module:
    """The model ``config.decoder`` names: :class:`SpectralVAE` or :class:`aego.peak_vae.PeakVAE`."""
    if config.decoder == "peaks":
        from aego.peak_vae import PeakVAE

        return PeakVAE(config)
    return SpectralVAE(config)


def state_to_numpy(model: nn.Module) -> dict[str, np.ndarray]:
    """All parameters and buffers as contiguous NumPy arrays (for safetensors)."""
    return {k: np.ascontiguousarray(v.detach().cpu().numpy()) for k, v in model.state_dict().items()}


def model_from_numpy(config: VAEConfig, state: dict[str, np.ndarray]) -> nn.Module:
    """Rebuild a model from :func:`state_to_numpy` arrays; ``ValueError`` when they don't fit the config."""
    model = build_model(config)
    tensors = {k: torch.from_numpy(np.array(v)) for k, v in state.items()}
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        raise ValueError(str(exc).splitlines()[0]) from None
    model.eval()
    return model
