"""One wrist: orientation samples in, a forearm-twist value in [-1, 1] out.

Steps, in order: calibration (the neutral pose: saved, or the mean pose held during the first
``calibration_s`` seconds), twist about the forearm axis relative to the neutral pose (swing-twist
split, so lifting or swinging the arm does not count and nothing jumps where Euler roll would wrap at
±180°), dead band, 1€ filter, normalisation by the performer's range on each side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from aego.sensors.one_euro import OneEuroFilter
from aego.sensors.quaternion import Quat, Vec, average, relative, twist_angle


@dataclass
class WristConfig:
    """How one wrist turns into a value.

    Attributes
    ----------
    axis : (3,) the forearm axis in the sensor's frame (default x, CONTRACT §5).
    sign : +1 or -1, which way of turning counts as positive.
    dead_band_deg : twists smaller than this (degrees) read as 0, so a relaxed arm gives no reward.
    range_neg_deg, range_pos_deg : the twist (degrees) that gives -1 and +1; larger twists are clipped.
    calibration_s : how long the first pose is held to find the neutral pose when none is saved.
    min_cutoff_hz, beta : the 1€ filter (twist in degrees, speed in degrees per second).
    """

    axis: Vec = (1.0, 0.0, 0.0)
    sign: float = 1.0
    dead_band_deg: float = 4.0
    range_neg_deg: float = 80.0
    range_pos_deg: float = 80.0
    calibration_s: float = 2.0
    min_cutoff_hz: float = 2.0
    beta: float = 0.02


def _unit(axis: Vec) -> Vec:
    n = math.sqrt(sum(c * c for c in axis))
    if not math.isfinite(n) or n < 1e-9:
        return (1.0, 0.0, 0.0)
    return (axis[0] / n, axis[1] / n, axis[2] / n)


class Wrist:
    """The per-wrist pipeline. Feed :meth:`update` with unit quaternions ``(w, x, y, z)`` and times (s).

    ``neutral`` given: calibrated from the start; otherwise auto-calibration over the first
    ``config.calibration_s`` seconds of data (the value is None meanwhile).
    """

    def __init__(self, sensor_id: str, config: WristConfig | None = None, neutral: Quat | None = None) -> None:
        self.sensor_id = sensor_id
        self.config = config or WristConfig()
        self.axis = _unit(self.config.axis)
        self.neutral = neutral
        self._pending: list[Quat] = []
        self._t0: float | None = None
        self._filter = OneEuroFilter(self.config.min_cutoff_hz, self.config.beta)
        self.twist_deg: float | None = None  # unwrapped, relative to neutral, before dead band and filter
        self.value: float | None = None  # last output in [-1, 1]
        self.spread_deg = 0.0  # how far the pose wandered during auto-calibration

    @property
    def calibrated(self) -> bool:
        return self.neutral is not None

    def reset(self) -> None:
        """Forget filter state and unwrapping (after a dropout: the arm may have moved meanwhile)."""
        self._filter.reset()
        self.twist_deg = None

    def update(self, q: Quat, t: float) -> float | None:
        """One orientation sample at time ``t`` (s) → the wrist value in [-1, 1] (None while calibrating)."""
        if self.neutral is None:
            if self._t0 is None:
                self._t0 = t
            self._pending.append(q)
            if t - self._t0 < self.config.calibration_s:
                return None
            self.neutral = average(self._pending)
            self.spread_deg = max(
                (math.degrees(abs(twist_angle(relative(p, self.neutral), self.axis))) for p in self._pending),
                default=0.0,
            )
            self._pending = []
            if self.neutral is None:
                return None
        angle = math.degrees(twist_angle(relative(q, self.neutral), self.axis)) * self.config.sign
        if self.twist_deg is not None:
            # Take the turn nearest the previous reading, so crossing ±180° continues smoothly.
            angle += 360.0 * round((self.twist_deg - angle) / 360.0)
            angle = max(-360.0, min(360.0, angle))
        self.twist_deg = angle
        return self._shape(angle, t)

    def _shape(self, angle: float, t: float) -> float:
        c = self.config
        db = c.dead_band_deg
        banded = 0.0 if abs(angle) <= db else angle - math.copysign(db, angle)
        smooth = self._filter(banded, t)
        span = (c.range_pos_deg if smooth >= 0 else c.range_neg_deg) - db
        value = smooth / max(span, 1e-6)
        self.value = max(-1.0, min(1.0, value))
        return self.value
