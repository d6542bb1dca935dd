"""Test helpers for the synthesis path: a sound space whose spectra are known exactly."""

from __future__ import annotations

import numpy as np

from aego.space import Projection
from aego.transform import Transform


class PeakSpace:
    """A stand-in decoder with a known answer: ``z[0]`` in [-1, 1] sets a fundamental f0 between ``low`` and
    ``high`` Hz; the decoded frame is the exact Gaussian-window magnitude of ``partials`` harmonics of
    amplitude ``amplitude / h`` (so it is a consistent STFT frame). Other coordinates are ignored.

    Has what the synthesis path reads from a :class:`aego.space.SoundSpace`: ``transform``, ``latent_dim``,
    ``latent_bounds``, ``points``, ``name``, ``frame_decoder()``, ``decode()``, ``projection()``.
    """

    def __init__(self, low: float = 200.0, high: float = 800.0, partials: int = 3, amplitude: float = 0.3,
                 latent_dim: int = 2, transform: Transform | None = None, fail_when: float | None = None) -> None:
        self.transform = transform or Transform()
        self.latent_dim = latent_dim
        self.name = "peaks"
        self.low, self.high, self.partials, self.amplitude = low, high, partials, amplitude
        self.latent_bounds = np.array([[-1.0, 1.0]] * latent_dim, np.float32)
        self.points = np.zeros((4, latent_dim), np.float32)
        self.fail_when = fail_when
        self._f = self.transform.frequencies()
        self._peak = 0.5 * self.transform.window().sum()

    def f0(self, z: np.ndarray) -> float:
        u = (float(np.clip(z[0], -1, 1)) + 1) / 2
        return self.low + u * (self.high - self.low)

    def decode(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, dtype=np.float64)
        if self.fail_when is not None and z[0] > self.fail_when:
            raise RuntimeError("decoder failure (test)")
        f0 = self.f0(z)
        sig = self.transform.window_std
        out = np.zeros(self.transform.bins)
        for h in range(1, self.partials + 1):
            df = (self._f - h * f0) / self.transform.sample_rate
            out += self.amplitude / h * self._peak * np.exp(-2 * np.pi**2 * sig**2 * df**2)
        return out.astype(np.float32)

    def frame_decoder(self):
        return self.decode

    def projection(self, kind: str) -> Projection:
        d = self.latent_dim
        return Projection(kind, np.zeros(d), np.eye(d), np.eye(d), self.latent_bounds.astype(np.float64))


def tone(freq: float, seconds: float, rate: int = 22050, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)
