"""The spectral transform of a sound space: one configuration for analysis, training and synthesis.

A sound space is trained on magnitude frames of a Gaussian-window STFT, and the real-time engine
inverts the very same transform (phase by RTPGHI, which assumes a Gaussian window). Everything that
defines the representation lives in :class:`Transform` and is stored in the space file.

Conventions used everywhere in ægo:

- audio: ``float32`` mono, shape ``(samples,)``, full scale ±1.
- magnitudes: linear ``|STFT|``, shape ``(frames, bins)`` with ``bins = n_fft // 2 + 1``, no scaling
  (a full-scale sinusoid gives a peak of about ``window.sum() / 2``).
- frame ``m`` is centred on sample ``m * hop`` (the signal is zero-padded by ``n_fft // 2`` on both sides).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Transform:
    """A Gaussian-window STFT.

    Attributes:
        sample_rate: Hz.
        n_fft: FFT size and window length, samples.
        hop: analysis hop, samples (synthesis may use a smaller hop with the same window).
        window_std: standard deviation of the Gaussian window, samples.
    """

    sample_rate: int = 22050
    n_fft: int = 2048
    hop: int = 512
    window_std: float = 256.0

    @property
    def bins(self) -> int:
        """Number of frequency bins, ``n_fft // 2 + 1``."""
        return self.n_fft // 2 + 1

    @property
    def window_name(self) -> str:
        """The window as ``gaussian:STD`` (parse with :func:`window_from_name`)."""
        return f"gaussian:{self.window_std:g}"

    def window(self, length: int | None = None, std: float | None = None) -> np.ndarray:
        """The analysis window, shape ``(n_fft,)`` float64 (symmetric about ``n_fft / 2``)."""
        return gaussian_window(length or self.n_fft, std or self.window_std)

    def frequencies(self) -> np.ndarray:
        """Centre frequency of each bin in Hz, shape ``(bins,)``."""
        return np.fft.rfftfreq(self.n_fft, 1.0 / self.sample_rate)

    def stft_magnitudes(self, audio: np.ndarray, hop: int | None = None) -> np.ndarray:
        """Linear magnitudes of ``audio``.

        Args:
            audio: shape ``(samples,)``, float.
            hop: frame step in samples (default :attr:`hop`).

        Returns:
            ``(frames, bins)`` float32, ``frames = 1 + samples // hop``.
        """
        return np.abs(self.stft(audio, hop)).astype(np.float32)

    def stft(self, audio: np.ndarray, hop: int | None = None) -> np.ndarray:
        """Complex STFT, shape ``(frames, bins)`` complex64; frame ``m`` centred on ``m * hop``."""
        hop = hop or self.hop
        x = np.asarray(audio, dtype=np.float64).reshape(-1)
        half = self.n_fft // 2
        padded = np.pad(x, (half, half))
        n_frames = 1 + len(x) // hop
        need = (n_frames - 1) * hop + self.n_fft
        if len(padded) < need:
            padded = np.pad(padded, (0, need - len(padded)))
        frames = np.lib.stride_tricks.sliding_window_view(padded, self.n_fft)[::hop][:n_frames]
        return np.fft.rfft(frames * self.window(), axis=1).astype(np.complex64)

    def resampled(self, sample_rate: int) -> Transform:
        """The same time-frequency tiling at another sample rate (window length and std in seconds kept).

        Used by the engine to run the inverse transform at the audio device's rate: see
        :func:`map_magnitudes` to move decoded magnitudes onto the new bins.
        """
        ratio = sample_rate / self.sample_rate
        return Transform(
            sample_rate=int(sample_rate),
            n_fft=round(self.n_fft * ratio / 2) * 2,
            hop=max(1, round(self.hop * ratio)),
            window_std=self.window_std * ratio,
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["window"] = self.window_name
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Transform:
        t = cls(
            sample_rate=int(d["sample_rate"]),
            n_fft=int(d["n_fft"]),
            hop=int(d["hop"]),
            window_std=float(d["window_std"]),
        )
        t.validate()
        return t

    def validate(self) -> None:
        """Raise ``ValueError`` when the configuration cannot be a usable STFT."""
        if not 8000 <= self.sample_rate <= 192000:
            raise ValueError(f"sample_rate {self.sample_rate} is outside 8000-192000 Hz")
        if self.n_fft < 16 or self.n_fft % 2:
            raise ValueError(f"n_fft {self.n_fft} must be an even number of at least 16")
        if not 0 < self.hop <= self.n_fft:
            raise ValueError(f"hop {self.hop} must be between 1 and n_fft")
        if not 0 < self.window_std <= self.n_fft:
            raise ValueError(f"window_std {self.window_std} must be between 0 and n_fft")


def gaussian_window(length: int, std: float) -> np.ndarray:
    """A Gaussian window of ``length`` samples and standard deviation ``std`` samples.

    Same values as ``scipy.signal.get_window(('gaussian', std), length, fftbins=False)``.
    """
    n = np.arange(length, dtype=np.float64) - (length - 1) / 2.0
    return np.exp(-0.5 * (n / std) ** 2)


def window_from_name(name: str, length: int) -> np.ndarray:
    """Parse ``gaussian:STD`` (ours) or any name ``scipy.signal.get_window`` accepts."""
    if name.startswith("gaussian:"):
        return gaussian_window(length, float(name.split(":", 1)[1]))
    from scipy.signal import get_window

    return get_window(name, length, fftbins=False)


def map_magnitudes(mags: np.ndarray, source: Transform, target: Transform) -> np.ndarray:
    """Move magnitudes from ``source`` bins onto ``target`` bins (linear interpolation in frequency).

    Amplitudes are rescaled by the ratio of the window sums, so a sinusoid keeps its level. Bins above
    the source's Nyquist frequency are zero.

    Args:
        mags: ``(..., source.bins)`` linear magnitudes.

    Returns:
        ``(..., target.bins)`` float32.
    """
    f_src = source.frequencies()
    f_dst = target.frequencies()
    gain = target.window().sum() / source.window().sum()
    flat = np.asarray(mags, dtype=np.float64).reshape(-1, source.bins)
    out = np.empty((flat.shape[0], target.bins))
    for i, row in enumerate(flat):
        out[i] = np.interp(f_dst, f_src, row, right=0.0)
    return (out * gain).astype(np.float32).reshape(*np.shape(mags)[:-1], target.bins)


def spectral_convergence(reference: np.ndarray, estimate: np.ndarray) -> float:
    """``‖reference − estimate‖_F / ‖reference‖_F`` on linear magnitudes (0 is perfect)."""
    num = np.linalg.norm(np.asarray(reference, np.float64) - np.asarray(estimate, np.float64))
    den = np.linalg.norm(np.asarray(reference, np.float64))
    return float(num / den) if den > 0 else float("inf")


def to_db(ratio: float) -> float:
    """A spectral-convergence ratio in dB (``20·log10``)."""
    return float(20.0 * np.log10(max(ratio, 1e-12)))
