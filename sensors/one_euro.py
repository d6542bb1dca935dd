"""The 1€ filter (Casiez, Roussel & Vogel, CHI 2012): little lag when moving, little jitter when still."""

from __future__ import annotations

import math


def _alpha(cutoff_hz: float, dt: float) -> float:
    tau = 1.0 / (2 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Adaptive low-pass filter of a scalar signal sampled at irregular times.

    Parameters
    ----------
    min_cutoff : float
        Cutoff in Hz when the signal is still (lower: less jitter, more lag).
    beta : float
        How fast the cutoff rises with the signal's speed (higher: less lag when moving).
    d_cutoff : float
        Cutoff in Hz of the speed estimate.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.05, d_cutoff: float = 1.0) -> None:
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.d_cutoff = d_cutoff
        self.reset()

    def reset(self) -> None:
        """Forget the past (after a dropout the next sample starts afresh)."""
        self._x: float | None = None
        self._dx = 0.0
        self._t = 0.0

    def __call__(self, x: float, t: float) -> float:
        """Filter the sample ``x`` taken at time ``t`` seconds; returns the filtered value."""
        if self._x is None:
            self._x, self._t = x, t
            return x
        dt = t - self._t
        if dt <= 0:
            # Same time stamp (a burst delivered at once): fall back to a nominal 200 Hz step.
            dt = 1.0 / 200
        dx = (x - self._x) / dt
        self._dx += _alpha(self.d_cutoff, dt) * (dx - self._dx)
        cutoff = self.min_cutoff + self.beta * abs(self._dx)
        self._x += _alpha(cutoff, dt) * (x - self._x)
        self._t = t
        return self._x
