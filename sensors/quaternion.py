"""Unit quaternions ``(w, x, y, z)`` as plain tuples, and the swing-twist split used for forearm rotation.

Pure Python on purpose: one sample at a time, a tuple of four floats beats NumPy's per-call overhead
by an order of magnitude, and these run in the input process for every sensor message.
"""

from __future__ import annotations

import math

Quat = tuple[float, float, float, float]
Vec = tuple[float, float, float]

IDENTITY: Quat = (1.0, 0.0, 0.0, 0.0)


def normalise(q: tuple[float, ...], min_norm: float = 1e-6) -> Quat | None:
    """The unit quaternion in the direction of ``q``, or None when it is not finite or (near) zero-norm."""
    if len(q) != 4:
        return None
    w, x, y, z = (float(c) for c in q)
    n = math.sqrt(w * w + x * x + y * y + z * z)
    if not math.isfinite(n) or n < min_norm:
        return None
    return (w / n, x / n, y / n, z / n)


def multiply(a: Quat, b: Quat) -> Quat:
    """Hamilton product ``a ⊗ b`` (apply ``b`` first, then ``a``)."""
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return (
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    )


def conjugate(q: Quat) -> Quat:
    """The inverse of a unit quaternion."""
    return (q[0], -q[1], -q[2], -q[3])


def from_axis_angle(axis: Vec, angle: float) -> Quat:
    """Rotation by ``angle`` radians about ``axis`` (need not be unit length)."""
    n = math.sqrt(sum(c * c for c in axis)) or 1.0
    s = math.sin(angle / 2) / n
    return (math.cos(angle / 2), axis[0] * s, axis[1] * s, axis[2] * s)


def from_euler(yaw: float, pitch: float, roll: float) -> Quat:
    """Quaternion of aerospace Euler angles in degrees (Z-Y'-X'': yaw about z, pitch about y, roll about x)."""
    cy, sy = math.cos(math.radians(yaw) / 2), math.sin(math.radians(yaw) / 2)
    cp, sp = math.cos(math.radians(pitch) / 2), math.sin(math.radians(pitch) / 2)
    cr, sr = math.cos(math.radians(roll) / 2), math.sin(math.radians(roll) / 2)
    return (
        cr * cp * cy + sr * sp * sy,
        sr * cp * cy - cr * sp * sy,
        cr * sp * cy + sr * cp * sy,
        cr * cp * sy - sr * sp * cy,
    )


def relative(q: Quat, neutral: Quat) -> Quat:
    """The rotation from the neutral pose to ``q``, expressed in the sensor's own (neutral) frame."""
    return multiply(conjugate(neutral), q)


def swing_twist(q: Quat, axis: Vec) -> tuple[Quat, Quat]:
    """Split ``q = swing ⊗ twist`` where ``twist`` turns about the unit vector ``axis`` and ``swing`` about
    an axis perpendicular to it.

    When ``q`` is a half-turn swing the twist is undefined; the identity is returned as its twist.
    """
    w, x, y, z = q
    p = x * axis[0] + y * axis[1] + z * axis[2]
    twist = normalise((w, p * axis[0], p * axis[1], p * axis[2]), min_norm=1e-9)
    if twist is None:
        return q, IDENTITY
    return multiply(q, conjugate(twist)), twist


def twist_angle(q: Quat, axis: Vec) -> float:
    """Signed rotation of ``q`` about ``axis`` in radians, in (-π, π].

    Same as the angle of the twist part of :func:`swing_twist`, computed directly; ``q`` and ``-q``
    (the same rotation) give the same angle.
    """
    w, x, y, z = q
    p = x * axis[0] + y * axis[1] + z * axis[2]
    if abs(w) < 1e-12 and abs(p) < 1e-12:
        return 0.0
    angle = 2.0 * math.atan2(p, w)
    # atan2 gives (-2π, 2π] for the half-angle doubled; bring it back to one turn.
    if angle > math.pi:
        angle -= 2 * math.pi
    elif angle <= -math.pi:
        angle += 2 * math.pi
    return angle


def average(quats: list[Quat]) -> Quat | None:
    """A mean orientation of nearby quaternions (sign-aligned sum, normalised); None for an empty list."""
    if not quats:
        return None
    ref = quats[0]
    sw = sx = sy = sz = 0.0
    for q in quats:
        sign = 1.0 if (q[0] * ref[0] + q[1] * ref[1] + q[2] * ref[2] + q[3] * ref[3]) >= 0 else -1.0
        sw += sign * q[0]
        sx += sign * q[1]
        sy += sign * q[2]
        sz += sign * q[3]
    return normalise((sw, sx, sy, sz))


def angle_between(a: Quat, b: Quat) -> float:
    """The rotation angle from ``a`` to ``b`` in radians, in [0, π]."""
    d = abs(a[0] * b[0] + a[1] * b[1] + a[2] * b[2] + a[3] * b[3])
    return 2.0 * math.acos(min(1.0, d))
