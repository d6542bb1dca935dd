"""One wrist: auto-calibration, twist relative to neutral, dead band, normalisation, continuity."""

from __future__ import annotations

import math

from aego.sensors.quaternion import from_axis_angle, from_euler, multiply
from aego.sensors.wrist import Wrist, WristConfig

X = (1.0, 0.0, 0.0)


def _pose(neutral, twist_deg):
    return multiply(neutral, from_axis_angle(X, math.radians(twist_deg)))


def _settle(wrist, q, t0, seconds=1.0, rate=200):
    value = None
    for i in range(int(seconds * rate)):
        value = wrist.update(q, t0 + i / rate)
    return value, t0 + seconds


def test_auto_calibration_takes_the_pose_of_the_first_two_seconds():
    neutral = from_euler(40.0, -25.0, 100.0)
    w = Wrist("a", WristConfig(calibration_s=2.0, min_cutoff_hz=50.0))
    outputs = [w.update(neutral, i / 200) for i in range(399)]
    assert all(v is None for v in outputs) and not w.calibrated
    w.update(neutral, 2.0)
    assert w.calibrated
    value, _ = _settle(w, _pose(neutral, 0.0), 2.0)
    assert value == 0.0
    value, _ = _settle(w, _pose(neutral, 40.0), 3.0)
    assert 0.4 < value < 0.6  # (40 - 4 dead band) / (80 - 4)


def test_dead_band_ranges_and_sign():
    neutral = from_euler(0.0, 0.0, 0.0)
    cfg = WristConfig(dead_band_deg=5.0, range_neg_deg=45.0, range_pos_deg=90.0, min_cutoff_hz=50.0)
    w = Wrist("a", cfg, neutral=neutral)
    assert _settle(w, _pose(neutral, 4.0), 0.0)[0] == 0.0
    assert abs(_settle(w, _pose(neutral, 90.0), 1.0)[0] - 1.0) < 1e-3
    assert abs(_settle(w, _pose(neutral, -25.0), 2.0)[0] + 0.5) < 1e-3  # (25-5)/(45-5)
    assert _settle(w, _pose(neutral, -120.0), 3.0)[0] == -1.0  # clipped
    flipped = Wrist("b", WristConfig(sign=-1.0, min_cutoff_hz=50.0), neutral=neutral)
    assert _settle(flipped, _pose(neutral, 60.0), 0.0)[0] < -0.5


def test_swinging_the_arm_gives_no_reward():
    neutral = from_euler(10.0, 0.0, 0.0)
    w = Wrist("a", WristConfig(min_cutoff_hz=50.0), neutral=neutral)
    for deg in range(0, 80, 2):  # lift and swing the forearm (about an axis across it), no turn about it
        v = w.update(multiply(neutral, from_axis_angle((0.0, 0.6, 0.8), math.radians(deg))), deg / 100)
        assert v == 0.0


def test_turning_past_half_a_turn_does_not_flip():
    neutral = from_euler(0.0, 0.0, 0.0)
    w = Wrist("a", WristConfig(min_cutoff_hz=50.0, range_pos_deg=200.0), neutral=neutral)
    prev = None
    for i, deg in enumerate(range(150, 211)):
        w.update(_pose(neutral, float(deg)), i / 200)
        if prev is not None:
            assert abs(w.twist_deg - prev) < 1.5
        prev = w.twist_deg
    assert prev > 200  # kept counting past 180 instead of jumping to -150
