"""Calibration of the wrists: the neutral pose and each performer's range, saved as JSON in the user's
config folder (``aego.paths.config_dir() / "calibration.json"``) and loaded by later runs instead of the
automatic 2-second calibration.

File format::

    {"aego_calibration": 1,
     "wrists": {"<sensor id>": {"neutral": [w, x, y, z], "range_neg_deg": 75.0, "range_pos_deg": 82.0,
                                "axis": [1, 0, 0], "sign": 1}}}
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

from aego.sensors.quaternion import Quat, Vec, average, normalise, relative, twist_angle
from aego.sensors.reward_mix import MixConfig
from aego.sensors.wrist import WristConfig

from aego.errors import UsageError
from aego.paths import config_dir

FILE_NAME = "calibration.json"
MIN_RANGE_DEG = 15.0  # a performer who barely turned: keep a usable range rather than amplify noise


def default_path() -> Path:
    return config_dir() / FILE_NAME


@dataclass
class WristCalibration:
    """One wrist: neutral pose ``(w, x, y, z)``, twist in degrees giving -1 and +1, forearm axis, sign."""

    neutral: Quat
    range_neg_deg: float = 80.0
    range_pos_deg: float = 80.0
    axis: Vec = (1.0, 0.0, 0.0)
    sign: float = 1.0


def compute(neutral: list[Quat], turns: list[Quat], axis: Vec = (1.0, 0.0, 0.0), sign: float = 1.0) -> WristCalibration:
    """Calibration of one wrist from the samples held in the neutral pose and those taken while the
    performer turned the forearm as far as is comfortable both ways.

    The range on each side is the 95th percentile of the twist reached on that side (a single spike
    does not set it), at least ``MIN_RANGE_DEG``.
    """
    n = average(neutral)
    if n is None:
        raise ValueError("no neutral-pose samples")
    twists = sorted(math.degrees(twist_angle(relative(q, n), axis)) * sign for q in turns)
    pos = sorted(a for a in twists if a > 0)
    neg = sorted(-a for a in twists if a < 0)

    def reach(values: list[float]) -> float:
        if not values:
            return 80.0  # never turned that way: the default
        return max(MIN_RANGE_DEG, values[int(0.95 * (len(values) - 1))])

    return WristCalibration(n, reach(neg), reach(pos), axis, sign)


def save(wrists: dict[str, WristCalibration], path: str | Path | None = None) -> Path:
    """Write the calibration (atomically: a crash never leaves half a file); returns the path."""
    p = Path(path) if path else default_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    data = {"aego_calibration": 1, "wrists": {
        sid: {"neutral": list(c.neutral), "range_neg_deg": round(c.range_neg_deg, 2),
              "range_pos_deg": round(c.range_pos_deg, 2), "axis": list(c.axis), "sign": c.sign}
        for sid, c in wrists.items()}}
    tmp = p.with_suffix(p.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(p)
    return p


def load(path: str | Path | None = None) -> dict[str, WristCalibration]:
    """Read a calibration; {} when the default file does not exist. UsageError for a broken file."""
    p = Path(path) if path else default_path()
    if not p.exists():
        if path:
            raise UsageError(f"calibration file '{p}' does not exist; run 'aego calibrate' to make one")
        return {}
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        if data.get("aego_calibration") != 1:
            raise ValueError("not an ægo calibration")
        out = {}
        for sid, w in data["wrists"].items():
            q = normalise(tuple(float(v) for v in w["neutral"]))
            axis = tuple(float(v) for v in w.get("axis", (1, 0, 0)))
            ranges = float(w["range_neg_deg"]), float(w["range_pos_deg"])
            axis_ok = len(axis) == 3 and all(math.isfinite(v) for v in axis) and any(axis)
            if q is None or not axis_ok or not all(math.isfinite(r) and 0 < r <= 360 for r in ranges):
                raise ValueError(f"bad values for wrist '{sid}'")
            sign = -1.0 if float(w.get("sign", 1)) < 0 else 1.0
            out[str(sid)] = WristCalibration(q, ranges[0], ranges[1], axis, sign)
        return out
    except (OSError, ValueError, KeyError, TypeError, AttributeError, OverflowError, RecursionError) as exc:
        raise UsageError(f"calibration file '{p}' is unreadable ({exc}); run 'aego calibrate' again or delete it") \
            from None


def apply(mix: MixConfig, wrists: dict[str, WristCalibration]) -> MixConfig:
    """A MixConfig using these calibrations (neutral poses, ranges, axes, signs) for the sensors they name.

    Which sensors are the wrists is left as configured (by default the first two heard), so a spare
    sensor swapped in on stage still works, with the automatic calibration.
    """
    per_wrist = dict(mix.per_wrist)
    neutral = dict(mix.neutral)
    for sid, c in wrists.items():
        base = per_wrist.get(sid, mix.wrist)
        per_wrist[sid] = replace(base, axis=c.axis, sign=c.sign, range_neg_deg=c.range_neg_deg,
                                 range_pos_deg=c.range_pos_deg)
        neutral[sid] = c.neutral
    return replace(mix, per_wrist=per_wrist, neutral=neutral)


__all__ = ["WristCalibration", "WristConfig", "apply", "compute", "default_path", "load", "save"]
