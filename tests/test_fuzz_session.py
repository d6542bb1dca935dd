"""Fuzzing the readers of files a run wrote (and a user may hand back, damaged or from someone else):
the session event log (``aego.session.read_events``, ``repair_log``, the resume state), the replay plan
(``aego replay``) and the raw sensor recording (``--replay-sensors``).

Acceptable outcomes: the reader's documented result (torn, junk and damaged lines skipped, counted or
cut), or a UsageError for ``aego replay``. The tests after the fuzzing pin what it found (fields of the
wrong type, NaN times, deep nesting: fixed in the event-log reader, the replay plan and the sensor
recording reader).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aego.errors import UsageError
from aego.replay import ReplayPlan, plan
from aego.session import read_events, repair_log

FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])

latent = st.lists(st.floats(-3, 3, width=32), min_size=8, max_size=8)
event = st.one_of(
    st.fixed_dictionaries({"t": st.floats(0, 1e4), "type": st.just("section"),
                           "name": st.text(max_size=8), "space": st.sampled_from(["synthetic", "orchestral"])},
                          optional={"latent": latent, "crossfade": st.floats(0, 60), "dims": st.integers(1, 8)}),
    st.fixed_dictionaries({"t": st.floats(0, 1e4), "type": st.just("action"), "latent": latent,
                           "dim": st.integers(0, 7), "dir": st.sampled_from([-1, 1])}),
    st.fixed_dictionaries({"t": st.floats(0, 1e4), "type": st.just("cue"),
                           "what": st.sampled_from(["start", "resume", "cue", "stop"])},
                          optional={"sample_rate": st.sampled_from([22050, 44100, 48000])}),
    st.fixed_dictionaries({"t": st.floats(0, 1e4), "type": st.just("cue"), "what": st.sampled_from(["gain", "mute"]),
                           "value": st.floats(0, 4)}),
    st.fixed_dictionaries({"t": st.floats(0, 1e4), "type": st.sampled_from(["end", "reward", "sensor", "error"])},
                          optional={"fade_s": st.floats(0, 10), "value": st.floats(-1, 1)}),
)
anything = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5),
                     st.lists(st.floats() | st.text(max_size=2), max_size=9))
damaged = st.fixed_dictionaries(
    {"t": anything | st.floats(0, 100), "type": st.sampled_from(["section", "action", "cue", "end", "reward"])},
    optional={"latent": anything | latent, "space": anything, "path": anything, "name": anything,
              "crossfade": anything, "what": st.sampled_from(["start", "gain", "mute", "resume", "x"]),
              "value": anything, "sample_rate": anything, "fade_s": anything})
junk = st.one_of(st.text(max_size=40), st.just("{"), st.just('{"t": 1'), st.just("[]"), st.just("null"),
                 st.just('"text"'), st.just('{"no": "type"}'),
                 st.binary(max_size=30).map(lambda b: b.decode("latin-1")))


def lines_of(items: list) -> str:
    return "".join((json.dumps(x) if isinstance(x, dict) else x.replace("\n", " ")) + "\n" for x in items)


@pytest.mark.timeout(120)
@FUZZ
@given(items=st.lists(st.one_of(event, junk), max_size=15), torn=st.text(max_size=30))
def test_event_log_reader_skips_junk_and_torn_lines(tmp_path: Path, items: list, torn: str) -> None:
    (tmp_path / "events.jsonl").write_text(lines_of(items) + torn.replace("\n", " "), encoding="utf-8")
    got = list(read_events(tmp_path))
    assert all(isinstance(e, dict) and "type" in e for e in got)
    assert len(got) >= sum(1 for x in items if isinstance(x, dict))


@pytest.mark.timeout(120)
@FUZZ
@given(items=st.lists(st.one_of(event, event, damaged, junk), max_size=15))
def test_replay_plan_of_any_log(tmp_path: Path, items: list) -> None:
    (tmp_path / "events.jsonl").write_text(lines_of(items), encoding="utf-8")
    try:
        p = plan(tmp_path)
    except UsageError as exc:
        assert "\n" not in str(exc)
        return
    assert isinstance(p, ReplayPlan) and math.isfinite(p.seconds) and p.seconds > 0
    assert p.sample_rate in (22050, 44100, 48000)
    assert all(math.isfinite(e.t) for e in p.timeline)


@pytest.mark.timeout(120)
@FUZZ
@given(blob=st.binary(max_size=600))
def test_repair_log_on_any_bytes(tmp_path: Path, blob: bytes) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(blob)
    last = repair_log(path)
    assert isinstance(last, float)
    data = path.read_bytes()
    assert data == blob[:len(data)] and (not data or data.endswith(b"\n"))  # only the torn tail was cut


@pytest.mark.timeout(120)
@FUZZ
@given(lines=st.lists(st.one_of(junk, st.fixed_dictionaries(
    {"t": st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=3)},
    optional={"osc": st.text(max_size=10) | st.integers(), "args": st.lists(st.floats() | st.text(max_size=3)),
              "serial": st.text(max_size=5), "line": st.text(max_size=20), "from": st.text(max_size=5)})),
    max_size=12))
def test_sensor_recording_reader(tmp_path: Path, lines: list) -> None:
    from aego.sensors.recording import read_recording

    path = tmp_path / "sensors.jsonl"
    path.write_text('{"aego_sensors": 1}\n' + lines_of(lines), encoding="utf-8")
    for t, kind, payload in read_recording(path):
        assert kind in ("osc", "serial", "bad")
        assert math.isfinite(t)
        if kind == "osc":
            assert isinstance(payload[0], str) and isinstance(payload[1], list)


# -- found by fuzzing ------------------------------------------------------------------
def _plan_of(tmp_path: Path, *events: dict | str) -> None:
    start = {"t": 0.0, "type": "section", "name": "one", "space": "synthetic", "latent": [0.0] * 8}
    (tmp_path / "events.jsonl").write_text(lines_of([start, *events]), encoding="utf-8")
    with pytest.raises(UsageError):
        p = plan(tmp_path)
        if all(math.isfinite(e.t) for e in p.timeline) and math.isfinite(p.seconds):
            raise UsageError("accepted, and usable")  # a damaged value that is harmless is fine too


@pytest.mark.parametrize("t", ["soon", [1], {"a": 1}])
def test_replay_time_that_is_not_a_number(tmp_path: Path, t: object) -> None:
    _plan_of(tmp_path, {"t": t, "type": "action", "latent": [0.0] * 8})


@pytest.mark.parametrize("bad", [
    {"type": "action", "latent": [[1.0], [1.0, 2.0]]},
    {"type": "end", "fade_s": "long"},
    {"type": "section", "name": "two", "space": "orchestral", "crossfade": [2]},
    {"type": "cue", "what": "start", "sample_rate": math.inf},
    {"type": "cue", "what": "gain", "value": "loud"},
])
def test_replay_malformed_fields(tmp_path: Path, bad: dict) -> None:
    _plan_of(tmp_path, {"t": 1.0, **bad})


@pytest.mark.parametrize("what", ["gain", "mute"])
def test_replay_cue_without_value(tmp_path: Path, what: str) -> None:
    _plan_of(tmp_path, {"t": 1.0, "type": "cue", "what": what})


def test_replay_time_nan(tmp_path: Path) -> None:
    _plan_of(tmp_path, {"t": math.nan, "type": "action", "latent": [0.0] * 8})


def test_event_log_deeply_nested_line(tmp_path: Path) -> None:
    (tmp_path / "events.jsonl").write_text("[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    assert list(read_events(tmp_path)) == []


def test_repair_log_deeply_nested_line(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    assert repair_log(path) == 0.0


def test_sensor_recording_deeply_nested_line(tmp_path: Path) -> None:
    from aego.sensors.recording import read_recording

    path = tmp_path / "sensors.jsonl"
    path.write_text('{"aego_sensors": 1}\n' + "[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    assert [kind for _, kind, _ in read_recording(path)] == ["bad"]
