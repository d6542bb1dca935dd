"""The VAE decoder in NumPy: what the real-time engine calls, with no torch in its process.

It computes exactly what :meth:`aego.vae.SpectralVAE.decode` computes (MLP, then nearest upsampling +
``Conv1d`` stages) from the same weights, followed by the inverse normalisation to linear magnitudes.
Convolutions are channels-last matrix products over a strided window view of a preallocated, padded
buffer, so a single-frame call allocates only small temporaries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from aego.vae import LEAK, Normalisation, VAEConfig


class NumpyDecoder:
    """Latent ``z`` -> linear magnitudes, in float32 NumPy.

    Args:
        config: the model's architecture.
        state: the model's arrays (``aego.vae.state_to_numpy``); only ``decoder_*`` entries are used.
        norm: the normalisation the model was trained with.
    """

    def __init__(self, config: VAEConfig, state: dict[str, np.ndarray], norm: Normalisation) -> None:
        self.config = config
        self.norm = norm
        n_linear = len(config.dec_hidden) + 1
        # Linear weights transposed once so a row vector multiplies from the left.
        self.linears = [
            (
                np.ascontiguousarray(state[f"decoder_mlp.{2 * i}.weight"].T, dtype=np.float32),
                np.asarray(state[f"decoder_mlp.{2 * i}.bias"], dtype=np.float32),
            )
            for i in range(n_linear)
        ]
        # Conv weights (c_out, c_in, k) -> (k * c_in, c_out) to match windows laid out as (k, c_in).
        self.convs = []
        for i, (_f, _c, _k) in enumerate(config.dec_stages):
            w = np.asarray(state[f"decoder_convs.{i}.weight"], dtype=np.float32)
            c_out, c_in, k = w.shape
            w2 = np.ascontiguousarray(w.transpose(2, 1, 0).reshape(k * c_in, c_out))
            self.convs.append((w2, np.asarray(state[f"decoder_convs.{i}.bias"], dtype=np.float32), k, c_in))
        self.scale = np.float32(norm.scale)
        self.mean = np.asarray(norm.mean, dtype=np.float32)

    def decode_normalised(self, z: np.ndarray) -> np.ndarray:
        """``z (n, d)`` -> normalised frames ``u (n, bins)`` float32."""
        cfg = self.config
        h = np.asarray(z, dtype=np.float32)
        last_linear = len(self.linears) - 1
        for i, (w, b) in enumerate(self.linears):
            h = h @ w + b
            if i < last_linear:
                h = np.maximum(h, LEAK * h)
        n = h.shape[0]
        # (n, C, L) as torch lays it out -> channels-last (n, L, C).
        h = h.reshape(n, cfg.dec_coarse[0], cfg.dec_coarse[1]).transpose(0, 2, 1)
        last = len(self.convs) - 1
        for i, ((factor, _c, _k), (w, b, k, c_in)) in enumerate(zip(cfg.dec_stages, self.convs, strict=True)):
            if factor > 1:
                h = np.repeat(h, factor, axis=1)
            pad = k // 2
            padded = np.zeros((n, h.shape[1] + 2 * pad, c_in), dtype=np.float32)
            padded[:, pad : pad + h.shape[1]] = h
            windows = np.lib.stride_tricks.sliding_window_view(padded, k, axis=1)  # (n, L, c_in, k)
            cols = windows.transpose(0, 1, 3, 2).reshape(n, h.shape[1], k * c_in)
            h = cols @ w + b
            if i < last:
                h = np.maximum(h, LEAK * h)
        return np.ascontiguousarray(h[:, : cfg.bins, 0])

    def __call__(self, z: np.ndarray) -> np.ndarray:
        """``z (..., d)`` -> linear magnitudes ``(..., bins)`` float32 (batched in chunks of 4096)."""
        z = np.asarray(z, dtype=np.float32)
        lead = z.shape[:-1]
        flat = z.reshape(-1, z.shape[-1])
        out = np.empty((flat.shape[0], self.config.bins), dtype=np.float32)
        for start in range(0, flat.shape[0], 4096):
            u = self.decode_normalised(flat[start : start + 4096])
            out[start : start + 4096] = np.expm1(np.clip(u * self.scale + self.mean, 0.0, 30.0))
        return out.reshape(*lead, self.config.bins)

    def frame(self) -> Callable[[np.ndarray], np.ndarray]:
        """A single-frame callable ``(d,) -> (bins,)`` float32 for the real-time path."""
        decode = self.decode_normalised
        scale, mean = self.scale, self.mean

        def decode_frame(z: np.ndarray) -> np.ndarray:
            u = decode(np.asarray(z, dtype=np.float32).reshape(1, -1))[0]
            u *= scale
            u += mean
            np.clip(u, 0.0, 30.0, out=u)
            return np.expm1(u, out=u)

        return decode_frame


PEAK_FLOOR = 1e-6
"""Peaks weaker than this fraction of a frame's strongest one are not drawn (−120 dB)."""


class NumpyPeakDecoder:
    """The NumPy twin of :class:`aego.peak_vae.PeakVAE`'s decoder: latent ``z`` -> linear magnitudes.

    Args:
        config: the model's architecture (``decoder == "peaks"``).
        state: the model's arrays (``aego.vae.state_to_numpy``); the trunk, the head and the buffers are used.
        norm: the normalisation the model was trained with.
    """

    def __init__(self, config: VAEConfig, state: dict[str, np.ndarray], norm: Normalisation) -> None:
        from aego.peak_vae import CORRECTION, FIXED_DIMS, LOG_HEIGHT, REACH

        self.config = config
        self.norm = norm
        self.scale = np.float32(norm.scale)
        self.mean = np.asarray(norm.mean, dtype=np.float32)
        self.trunk = [
            (np.ascontiguousarray(state[f"trunk.{2 * i}.weight"].T, dtype=np.float32),
             np.asarray(state[f"trunk.{2 * i}.bias"], dtype=np.float32))
            for i in range(len(config.dec_hidden))
        ]
        self.head_w = np.ascontiguousarray(state["head.weight"].T, dtype=np.float32)
        self.head_b = np.asarray(state["head.bias"], dtype=np.float32)
        self.k = 2 * config.half_peaks + 1
        if self.head_b.shape != (3 + 2 * self.k + config.env_points,):
            raise ValueError("the peak decoder's head does not match half_peaks and env_points")
        self.ks = np.arange(-config.half_peaks, config.half_peaks + 1, dtype=np.float64)
        self.env_interp = np.asarray(state["env_interp"], dtype=np.float32)
        self.feat_mean = np.asarray(state["feat_mean"], dtype=np.float64)
        self.feat_std = np.asarray(state["feat_std"], dtype=np.float64)
        if self.env_interp.shape != (config.env_points, config.bins) or self.feat_mean.shape != (FIXED_DIMS,):
            raise ValueError("the peak decoder's buffers do not match the architecture")
        self.fixed = FIXED_DIMS
        self.correction = CORRECTION
        self.log_height = LOG_HEIGHT
        self.reach = REACH
        self.half = int(np.ceil(REACH * config.sigma_bins * config.width_max))
        self.offs = np.arange(-self.half, self.half + 1, dtype=np.float64)
        self.nyquist = config.bin_hz * (config.bins - 1)

    def _parameters(self, z: np.ndarray) -> tuple[np.ndarray, ...]:
        cfg, k = self.config, self.k
        h = np.asarray(z, dtype=np.float32)
        for w, b in self.trunk:
            h = h @ w + b
            h = np.maximum(h, LEAK * h)
        o = (h @ self.head_w + self.head_b).astype(np.float64)
        raw = self.feat_mean + self.feat_std * np.asarray(z, np.float64)[:, : self.fixed]
        log_b = np.clip(raw[:, 0:1] + self.correction * np.tanh(o[:, 0:1]), -3.0, 11.0)
        log_s = np.clip(raw[:, 1:2] + self.correction * np.tanh(o[:, 1:2]), -3.0, 11.0)
        width = 1.0 + (cfg.width_max - 1.0) / (1.0 + np.exp(-o[:, 2:3]))
        dev = cfg.peak_dev_hz * np.tanh(o[:, 3 : 3 + k])
        freqs = np.abs(np.exp(log_b) + self.ks * np.exp(log_s) + dev)
        heights = np.exp(np.clip(raw[:, 2:3] + o[:, 3 + k : 3 + 2 * k], *self.log_height)) * (freqs < self.nyquist)
        env = np.logaddexp(0.0, o[:, 3 + 2 * k :]).astype(np.float32) @ self.env_interp
        return freqs, heights, width, env

    def _render(self, freqs: np.ndarray, heights: np.ndarray, width: float, env: np.ndarray) -> np.ndarray:
        """One frame: ``freqs, heights (K,)``, ``env (bins,)`` -> ``(bins,)`` float64.

        Only what can be heard is drawn (this is the real-time path): peaks a millionth of the strongest
        or weaker (most of a harmonic tone's comb) are skipped, and a peak's mirror image at ``-f`` only
        where it reaches the positive frequencies.
        """
        bins = self.config.bins
        sigma = self.config.sigma_bins * width
        half = int(np.ceil(self.reach * sigma))
        loud = heights > PEAK_FLOOR * heights.max()  # the comb has at least one peak
        centre = freqs[loud] / self.config.bin_hz
        amp = heights[loud]
        near_zero = centre < half
        centre = np.concatenate([centre, -centre[near_zero]])
        amp = np.concatenate([amp, amp[near_zero]])
        keep = centre < bins + half
        centre, amp = centre[keep], amp[keep]
        offs = self.offs[(self.offs >= -half) & (self.offs <= half)]
        idx = np.rint(centre)[:, None] + offs[None, :]
        d = (idx - centre[:, None]) * (1.0 / sigma)
        val = amp[:, None] * np.exp(-0.5 * d * d)
        idx = idx.astype(np.int64).ravel()
        ok = (idx >= 0) & (idx < bins)
        return env + np.bincount(idx[ok], weights=val.ravel()[ok], minlength=bins)[:bins]

    def linear(self, z: np.ndarray) -> np.ndarray:
        """``z (n, d)`` -> linear magnitudes ``(n, bins)`` float32."""
        freqs, heights, width, env = self._parameters(z)
        out = np.empty((len(freqs), self.config.bins), dtype=np.float32)
        for i in range(len(freqs)):
            out[i] = self._render(freqs[i], heights[i], float(width[i, 0]), env[i])
        return out

    def decode_normalised(self, z: np.ndarray) -> np.ndarray:
        """``z (n, d)`` -> normalised frames ``u (n, bins)`` float32."""
        return ((np.log1p(self.linear(z)) - self.mean) / self.scale).astype(np.float32)

    def __call__(self, z: np.ndarray) -> np.ndarray:
        """``z (..., d)`` -> linear magnitudes ``(..., bins)`` float32."""
        z = np.asarray(z, dtype=np.float32)
        lead = z.shape[:-1]
        return self.linear(z.reshape(-1, z.shape[-1])).reshape(*lead, self.config.bins)

    def frame(self) -> Callable[[np.ndarray], np.ndarray]:
        """A single-frame callable ``(d,) -> (bins,)`` float32 for the real-time path."""
        linear = self.linear

        def decode_frame(z: np.ndarray) -> np.ndarray:
            return linear(np.asarray(z, dtype=np.float32).reshape(1, -1))[0]

        return decode_frame

    def frame_partials(self) -> Callable[[np.ndarray], PartialFrame]:
        """A single-frame callable ``(d,) -> PartialFrame`` for the real-time path (fresh arrays on every call)."""
        parameters, render = self._parameters, self._render

        def decode_partials(z: np.ndarray) -> PartialFrame:
            freqs, heights, width, env = parameters(np.asarray(z, dtype=np.float32).reshape(1, -1))
            w = float(width[0, 0])
            mags = render(freqs[0], heights[0], w, env[0]).astype(np.float32)
            return PartialFrame(mags, freqs[0], heights[0], w, env[0])

        return decode_partials


@dataclass
class PartialFrame:
    """One decoded frame of a peak decoder, its partials kept apart (for :class:`aego.partials.Partials`).

    Attributes:
        mags: ``(bins,)`` float32, the linear magnitudes (what :meth:`NumpyPeakDecoder.frame` returns).
        freqs, heights: ``(K,)`` float64, the comb's partials (Hz, linear peak heights; ``K = 2·half_peaks + 1``,
            the same partial at the same index in every frame).
        width: the peaks' widening (1: the analysis window's own width).
        envelope: ``(bins,)`` float32, the noise envelope (linear).
    """

    mags: np.ndarray
    freqs: np.ndarray
    heights: np.ndarray
    width: float
    envelope: np.ndarray


def make_decoder(config: VAEConfig, state: dict[str, np.ndarray],
                 norm: Normalisation) -> NumpyDecoder | NumpyPeakDecoder:
    """The NumPy decoder for ``config.decoder``."""
    if config.decoder == "peaks":
        return NumpyPeakDecoder(config, state, norm)
    return NumpyDecoder(config, state, norm)
