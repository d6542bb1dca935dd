"""Fuzzing the serial path: random lines, binary noise, 10 kB lines, partial lines cut anywhere, and every
supported line format mutated, through the line splitter, the line parser and the input pipeline.

Allowed outcomes: an ImuSample whose numbers are finite (a unit quaternion), None (text of no known
format), or InvalidMessageError; the splitter never holds more than one line's worth of bytes and never
hands out a line longer than its limit. Derandomized, a few seconds each.
"""

from __future__ import annotations

import math

import pytest
from aego.sensors.events import ImuSample, Reward
from aego.sensors.osc_formats import InvalidMessageError
from aego.sensors.pipeline import InputPipeline
from aego.sensors.serial_imu import MAX_LINE, LineSplitter, parse_line
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = settings(max_examples=1000, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

VALID_LINES = [
    b"q,left,17,5120,1,0,0,0", b"q,right,18,5130,0.7071,0.7071,0,0,87", b"e,left,3,100,10.5,-20,30",
    b"e,right,4,110,0,0,0,55.5", b"ypr\t10.0\t20.0\t30.0", b"quat\t1.0\t0.0\t0.0\t0.0",
    b"Orientation: 359.9 10.0 -5.0", b"Orientation: 359.9, 10.0, -5.0", b"Quaternion: 1.0 0.0 0.0 0.0",
    b"Calibration: Sys=3 Gyro=3 Accel=3 Mag=3", b"Initializing I2C devices...",
]
NUMBERS = ["nan", "inf", "-inf", "1e400", "-0", "0x10", "1_000", "", " ", "1e-400", "9" * 5000, "١٢", "+-1", "1e", "."]


def check(line: bytes) -> None:
    try:
        item = parse_line(line, "ttyFUZZ", 1.0)
    except InvalidMessageError as exc:
        assert exc.key and exc.sensor_id
        return
    if item is None:
        return
    assert isinstance(item, ImuSample)
    assert item.quat is not None and all(math.isfinite(v) for v in item.quat)
    assert abs(math.sqrt(sum(v * v for v in item.quat)) - 1.0) < 1e-6
    assert 0 < len(item.sensor_id) <= 80
    for v in (item.device_ms, item.battery):
        assert v is None or math.isfinite(v)


@st.composite
def mutated_line(draw: st.DrawFn) -> bytes:
    line = bytearray(draw(st.sampled_from(VALID_LINES)))
    for _ in range(draw(st.integers(1, 4))):
        how = draw(st.sampled_from(["flip", "truncate", "insert", "field", "number", "sep", "dup"]))
        if how == "flip" and line:
            i = draw(st.integers(0, len(line) - 1))
            line[i] ^= 1 << draw(st.integers(0, 7))
        elif how == "truncate":
            del line[draw(st.integers(0, len(line))):]
        elif how == "insert":
            i = draw(st.integers(0, len(line)))
            line[i:i] = draw(st.binary(min_size=1, max_size=6))
        elif how in ("field", "number"):
            sep = b"\t" if b"\t" in line else (b"," if b"," in line else b" ")
            fields = bytes(line).split(sep)
            i = draw(st.integers(0, len(fields) - 1))
            if how == "field":
                fields[i] = draw(st.binary(max_size=12))
            else:
                fields[i] = draw(st.sampled_from(NUMBERS)).encode()
            line = bytearray(sep.join(fields))
        elif how == "sep":  # separators swapped or doubled
            line = bytearray(bytes(line).replace(b",", draw(st.sampled_from([b",,", b";", b"\t", b" ", b""]))))
        elif how == "dup":  # too many fields
            line += line[line.find(b",") if b"," in line else 0:] * draw(st.integers(1, 3))
    return bytes(line)


@pytest.mark.timeout(120)
@FUZZ
@given(st.binary(max_size=300))
def test_binary_noise(line: bytes) -> None:
    check(line)
    check(b"q," + line)
    check(b"ypr\t" + line)
    check(b"Quaternion: " + line)


@pytest.mark.timeout(120)
@FUZZ
@given(st.text(max_size=200))
def test_random_text_lines(text: str) -> None:
    check(text.encode("utf-8"))
    check(text.encode("ascii", "ignore"))


@pytest.mark.timeout(120)
@FUZZ
@given(mutated_line())
def test_every_line_format_mutated(line: bytes) -> None:
    check(line)


@pytest.mark.timeout(120)
@settings(FUZZ, max_examples=200)
@given(st.sampled_from(VALID_LINES), st.integers(10_000, 12_000))
def test_ten_kilobyte_lines(line: bytes, size: int) -> None:
    # The parser on its own (the splitter drops such lines first; see below).
    check(line + b"," + b"1" * size)
    check(line + b"x" * size)


@pytest.mark.timeout(120)
@settings(FUZZ, max_examples=300)
@given(st.lists(st.one_of(st.sampled_from(VALID_LINES), st.binary(max_size=50),
                          st.integers(MAX_LINE + 1, 12_000).map(lambda n: b"7" * n)), max_size=30),
       st.lists(st.integers(1, 4096), min_size=1, max_size=40),
       st.sampled_from([b"\n", b"\r\n"]))
def test_splitter_on_any_chunking(lines: list[bytes], cuts: list[int], ending: bytes) -> None:
    """Lines cut into chunks anywhere (partial lines): complete lines come out whole and in order, long ones
    are dropped whole, and the buffer never grows past one line."""
    # No line ends or lengths right at the limit inside the generated lines: the expected output is exact.
    lines = [line.replace(b"\n", b"").replace(b"\r", b"") for line in lines]
    lines = [line for line in lines if not MAX_LINE - 2 <= len(line) <= MAX_LINE + 2]
    stream = b"".join(line + ending for line in lines)
    splitter = LineSplitter()
    out: list[bytes] = []
    pos, i = 0, 0
    while pos < len(stream):
        n = cuts[i % len(cuts)]
        out += splitter.feed(stream[pos:pos + n])
        assert len(splitter._buf) <= MAX_LINE
        pos += n
        i += 1
    assert out == [line for line in lines if len(line) <= MAX_LINE]
    assert splitter.overlong == sum(1 for line in lines if len(line) > MAX_LINE)
    for line in out:
        assert len(line) <= MAX_LINE
        check(line)


@pytest.mark.timeout(120)
@settings(FUZZ, max_examples=200)
@given(st.lists(st.one_of(mutated_line(), st.sampled_from(VALID_LINES), st.binary(max_size=80)), max_size=40))
def test_pipeline_never_raises_on_serial_lines(lines: list[bytes]) -> None:
    pipeline = InputPipeline()
    for i, line in enumerate(lines):
        pipeline.serial_line(line, "ttyFUZZ", float(i) * 0.01)
    pipeline.tick(1.0)
    pipeline.flush_reward()
    c = pipeline.counters
    assert c["serial_lines"] == len(lines) and c["errors"] == 0
    assert pipeline.lost_serial_lines >= 0
    for ev in pipeline.take():
        if isinstance(ev, Reward):
            assert math.isfinite(ev.value) and -1.0 <= ev.value <= 1.0
