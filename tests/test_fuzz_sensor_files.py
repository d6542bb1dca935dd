"""Fuzzing the user's sensor files, read by every run: the settings (``sensors.toml``) and the saved
calibration (``calibration.json``). Only a result or a UsageError (one line, exit 2) is acceptable.

The cases that once escaped (huge integers, deep nesting, degenerate forearm axes) are plain tests at
the end; the broad fuzzing keeps to 64-bit numbers and shallow nesting so it stays fast.
"""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path

import pytest
from aego.sensors import calibration
from aego.sensors import settings as sensor_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aego.errors import UsageError

FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

number = st.one_of(st.floats(), st.integers(-(2 ** 63), 2 ** 63 - 1), st.sampled_from([0, 1, -1, 45, 360, 361]))
value = st.one_of(number, st.text(max_size=4), st.none(), st.booleans(), st.lists(number, max_size=5))
wrist = st.fixed_dictionaries({}, optional={"neutral": st.lists(number, min_size=4, max_size=4) | value,
                                            "axis": st.lists(number, min_size=3, max_size=3) | value,
                                            "range_neg_deg": number | value, "range_pos_deg": number | value,
                                            "sign": value})
calibration_doc = st.fixed_dictionaries({"aego_calibration": st.sampled_from([1, 1, 1, 2, "1", None]),
                                         "wrists": st.dictionaries(st.text(max_size=3), wrist | value, max_size=3)
                                         | value})


def toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return json.dumps(str(v))


settings_key = st.sampled_from(["axis", "range_deg", "sign", "range_neg_deg", "range_pos_deg", "deadzone_deg",
                                "smoothing", "gain", "nothing"])
settings_doc = st.fixed_dictionaries({}, optional={
    "wrists": st.fixed_dictionaries({}, optional={"ids": st.lists(st.text(max_size=3), max_size=3) | value,
                                                  "timeout_s": value, "fade_s": value}),
    "wrist": st.dictionaries(settings_key, number | value, max_size=4),
    "wrist.left": st.dictionaries(settings_key, number | value, max_size=3),
})


@pytest.mark.timeout(120)
@FUZZ
@given(doc=calibration_doc | value)
def test_calibration_file(tmp_path: Path, doc: object) -> None:
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    try:
        wrists = calibration.load(path)
    except UsageError as exc:
        assert "\n" not in str(exc)
        return
    for c in wrists.values():
        assert all(math.isfinite(v) for v in c.neutral) and abs(math.sqrt(sum(v * v for v in c.neutral)) - 1) < 1e-6
        assert 0 < c.range_neg_deg <= 360 and 0 < c.range_pos_deg <= 360 and c.sign in (-1.0, 1.0)


@pytest.mark.timeout(120)
@FUZZ
@given(blob=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_calibration_and_settings_random_bytes(tmp_path: Path, blob: bytes) -> None:
    for loader, name in ((calibration.load, "calibration.json"), (sensor_settings.load, "sensors.toml")):
        path = tmp_path / name
        path.write_bytes(blob)
        with contextlib.suppress(UsageError):
            loader(path)


@pytest.mark.timeout(120)
@FUZZ
@given(doc=settings_doc)
def test_settings_file(tmp_path: Path, doc: dict) -> None:
    lines = []
    for table, content in doc.items():
        lines.append(f"[{table}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in content.items()]
    path = tmp_path / "sensors.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        mix = sensor_settings.load(path)
    except UsageError as exc:
        assert "\n" not in str(exc)
        return
    for w in (mix.wrist, *mix.per_wrist.values()):
        assert all(math.isfinite(v) for v in w.axis) and any(w.axis)


# -- cases that once escaped, kept as plain tests -----------------------------------------------------------
def _calibration(tmp_path: Path, text: str) -> None:
    path = tmp_path / "calibration.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError):
        calibration.load(path)


def _settings(tmp_path: Path, text: str) -> None:
    path = tmp_path / "sensors.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError):
        sensor_settings.load(path)


WRIST = {"neutral": [1, 0, 0, 0], "axis": [1, 0, 0], "range_neg_deg": 45, "range_pos_deg": 45, "sign": 1}


def test_calibration_huge_integer(tmp_path: Path) -> None:
    _calibration(tmp_path, json.dumps({"aego_calibration": 1, "wrists": {"l": WRIST}}).replace("45", "1" + "0" * 400))


def test_calibration_deep_nesting(tmp_path: Path) -> None:
    _calibration(tmp_path, "[" * 100_000 + "]" * 100_000)


@pytest.mark.parametrize("axis", [[math.nan, 0, 0], [0, 0, 0]])
def test_calibration_bad_axis(tmp_path: Path, axis: list) -> None:
    _calibration(tmp_path, json.dumps({"aego_calibration": 1, "wrists": {"l": {**WRIST, "axis": axis}}}))


def test_settings_huge_integer(tmp_path: Path) -> None:
    _settings(tmp_path, "[wrist]\nsign = 1" + "0" * 400 + "\n")


def test_settings_deep_nesting(tmp_path: Path) -> None:
    _settings(tmp_path, "[wrist]\naxis = " + "[" * 5000 + "]" * 5000 + "\n")
