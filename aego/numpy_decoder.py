"""The VAE decoder in NumPy: what the real-time engine calls, with no torch in its process.

It computes exactly what :meth:`aego.vae.SpectralVAE.decode` computes (MLP, then nearest upsampling +
``Conv1d`` stages) from the same weights, followed by the inverse normalisation to linear magnitudes.
Convolutions are channels-last matrix products over a strided window view of a preallocated, padded
buffer, so a single-frame call allocates only small temporaries.
"""

from __future__ import annotations

from collections.abc import Callable

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
