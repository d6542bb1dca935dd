"""Swing-twist: the forearm's twist is recovered whatever the arm's swing, and nothing jumps at ±180°."""

from __future__ import annotations

import math

from aego.sensors.one_euro import OneEuroFilter
from aego.sensors.quaternion import (
    average,
    from_axis_angle,
    from_euler,
    multiply,
    normalise,
    relative,
    swing_twist,
    twist_angle,
)
from hypothesis import given, settings
from hypothesis import strategies as st

X = (1.0, 0.0, 0.0)
angles = st.floats(min_value=-math.pi + 1e-3, max_value=math.pi - 1e-3)


def _close_angle(a: float, b: float, tol: float = 1e-6) -> bool:
    d = (a - b + math.pi) % (2 * math.pi) - math.pi
    return abs(d) < tol


@settings(max_examples=300, deadline=None)
@given(twist=angles, swing=st.floats(min_value=0.0, max_value=math.pi - 0.05),
       direction=st.floats(min_value=0.0, max_value=2 * math.pi), flip=st.booleans())
def test_twist_recovered_under_any_swing(twist, swing, direction, flip):
    # A swing about any axis perpendicular to the forearm (here x), applied after the twist.
    swing_axis = (0.0, math.cos(direction), math.sin(direction))
    q = multiply(from_axis_angle(swing_axis, swing), from_axis_angle(X, twist))
    if flip:  # -q is the same rotation
        q = tuple(-c for c in q)
    assert _close_angle(twist_angle(q, X), twist)
    s, t = swing_twist(q, X)
    assert _close_angle(twist_angle(t, X), twist)
    # The swing part has no twist left, and swing ⊗ twist gives q back.
    assert abs(twist_angle(s, X)) < 1e-6
    back = multiply(s, t)
    assert min(sum(abs(a - b) for a, b in zip(back, q, strict=True)),
               sum(abs(a + b) for a, b in zip(back, q, strict=True))) < 1e-9


@settings(max_examples=100, deadline=None)
@given(neutral_yaw=st.floats(-180, 180), neutral_pitch=st.floats(-60, 60), neutral_roll=st.floats(-180, 180),
       twist=st.floats(-170, 170))
def test_twist_is_relative_to_the_neutral_pose(neutral_yaw, neutral_pitch, neutral_roll, twist):
    neutral = from_euler(neutral_yaw, neutral_pitch, neutral_roll)
    # Turning the forearm about its own (body) x axis from the neutral pose.
    q = multiply(neutral, from_axis_angle(X, math.radians(twist)))
    assert _close_angle(twist_angle(relative(q, neutral), X), math.radians(twist), 1e-6)


def test_no_jump_where_euler_roll_wraps():
    # A neutral pose with roll at 179°: turning 4° crosses roll ±180°, the twist moves smoothly by 4°.
    neutral = from_euler(30.0, 20.0, 179.0)
    previous = None
    for tenth in range(-40, 41):
        q = multiply(neutral, from_axis_angle(X, math.radians(tenth / 10)))
        angle = math.degrees(twist_angle(relative(q, neutral), X))
        assert abs(angle - tenth / 10) < 1e-6
        if previous is not None:
            assert abs(angle - previous) < 0.11
        previous = angle


def test_bad_quaternions_are_refused_not_raised():
    assert normalise((math.nan, 0, 0, 1)) is None
    assert normalise((0.0, 0.0, 0.0, 0.0)) is None
    assert normalise((math.inf, 0, 0, 0)) is None
    assert normalise((1, 2, 3)) is None
    assert normalise((2.0, 0.0, 0.0, 0.0)) == (1.0, 0.0, 0.0, 0.0)
    # A half-turn swing has no defined twist: identity twist, no exception.
    q = from_axis_angle((0.0, 1.0, 0.0), math.pi)
    assert twist_angle(q, X) == 0.0
    assert swing_twist(q, X)[1] == (1.0, 0.0, 0.0, 0.0)


def test_average_is_sign_aware():
    q = from_axis_angle(X, 0.3)
    neg = tuple(-c for c in q)
    avg = average([q, neg, q])
    assert abs(abs(sum(a * b for a, b in zip(avg, q, strict=True))) - 1.0) < 1e-9
    assert average([]) is None


def test_one_euro_smooths_jitter_and_follows_moves():
    f = OneEuroFilter(min_cutoff=1.0, beta=0.05)
    noisy = [f(10.0 + (0.5 if i % 2 else -0.5), i / 200) for i in range(400)]
    assert max(noisy[200:]) - min(noisy[200:]) < 0.2  # jitter of ±0.5 mostly gone
    f.reset()
    values = [f(0.0 if i < 100 else 50.0, i / 200) for i in range(300)]
    assert values[-1] > 49.0  # a held move is reached
    assert values[100] < 50.0  # but not in one sample
