"""The user's sensor settings: ``sensors.toml`` in the config folder (``aego.paths.config_dir()``).

Everything is optional; without the file the defaults of CONTRACT §5 hold (the first two sensor ids
heard are the wrists, x is the forearm axis, 2-second auto-calibration)::

    [wrists]
    ids = ["left", "right"]     # which sensors are the wrists, in order (default: the first two heard)
    timeout_s = 0.2             # silence after which a sensor is stale
    fade_s = 0.3                # then its share fades to 0 over this long

    [wrist]                     # every wrist
    dead_band_deg = 4.0
    range_deg = 80.0            # the twist that gives ±1 (or range_neg_deg / range_pos_deg)
    min_cutoff_hz = 2.0         # 1€ filter
    beta = 0.02
    calibration_s = 2.0

    [wrist.right]               # one wrist (by id): anything from [wrist], plus
    axis = [0.0, 1.0, 0.0]      # the forearm axis in this sensor's frame (mounted across the wrist)
    sign = -1                   # turning outwards counts as positive on both arms
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from aego.sensors.reward_mix import MixConfig
from aego.sensors.wrist import WristConfig

from aego.errors import UsageError
from aego.paths import config_dir

FILE_NAME = "sensors.toml"
_FLOAT_KEYS = {f.name for f in fields(WristConfig)} - {"axis"}


def default_path() -> Path:
    return config_dir() / FILE_NAME


def _finite(value: float) -> bool:
    """True for a finite number that fits a float (TOML integers are unbounded)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _wrist(base: WristConfig, table: dict[str, Any], where: str) -> WristConfig:
    changes: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            continue  # a per-wrist table inside [wrist]
        if key == "range_deg":
            key_values = {"range_neg_deg": value, "range_pos_deg": value}
        elif key == "axis":
            if (not isinstance(value, list) or len(value) != 3
                    or not all(isinstance(v, int | float) and _finite(v) for v in value)
                    or not any(value)):
                raise UsageError(f"{where}.axis: expected three numbers, not all zero (e.g. [1.0, 0.0, 0.0])")
            changes["axis"] = tuple(float(v) for v in value)
            continue
        elif key in _FLOAT_KEYS:
            key_values = {key: value}
        else:
            raise UsageError(f"{where}: unknown key '{key}' (expected one of: axis, range_deg, "
                             f"{', '.join(sorted(_FLOAT_KEYS))})")
        for k, v in key_values.items():
            if isinstance(v, bool) or not isinstance(v, int | float) or not _finite(v):
                raise UsageError(f"{where}.{key}: expected a number")
            if k == "sign":
                v = -1.0 if v < 0 else 1.0
            elif v < 0 or (k.startswith("range") and v == 0):
                raise UsageError(f"{where}.{key}: expected a positive number")
            changes[k] = float(v)
    return replace(base, **changes)


def load(path: str | Path | None = None) -> MixConfig:
    """The MixConfig of the settings file (defaults when the default file does not exist).
    UsageError naming the file and key for anything wrong."""
    p = Path(path) if path else default_path()
    if not p.exists():
        if path:
            raise UsageError(f"sensor settings '{p}' do not exist")
        return MixConfig()
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError) as exc:
        raise UsageError(f"sensor settings '{p}' are unreadable: {exc}") from None
    mix = MixConfig()
    wrists = data.get("wrists", {})
    if not isinstance(wrists, dict):
        raise UsageError(f"{p}: [wrists] must be a table")
    ids = wrists.get("ids", [])
    if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
        raise UsageError(f"{p}: wrists.ids must be a list of sensor ids (strings), e.g. [\"1\", \"2\"]")
    for key in ("timeout_s", "fade_s"):
        if key in wrists:
            v = wrists[key]
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v <= 10:
                raise UsageError(f"{p}: wrists.{key} must be a number of seconds (0-10)")
            mix = replace(mix, **{key: float(v)})
    table = data.get("wrist", {})
    if not isinstance(table, dict):
        raise UsageError(f"{p}: [wrist] must be a table")
    base = _wrist(WristConfig(), table, f"{p}: wrist")
    per = {str(sid): _wrist(base, t, f"{p}: wrist.{sid}") for sid, t in table.items() if isinstance(t, dict)}
    return replace(mix, wrist_ids=tuple(ids), wrist=base, per_wrist=per)
