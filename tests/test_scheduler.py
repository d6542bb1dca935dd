"""The score clock: durations, time scale, cues, goto, loops, dims override, the fixed point."""

from __future__ import annotations

import numpy as np

from aego.scheduler import FixedPoint, Scheduler
from aego.score import parse_score

SCORE = """
[score]
name = "t"
[spaces]
a = "synthetic"
[[section]]
name = "one"
space = "a"
dims = 1
duration = 10
[[section]]
name = "two"
space = "a"
dims = 2
cue = true
[[section]]
name = "three"
space = "a"
dims = 4
duration = 5
[end]
hold = 2
radius = 0.05
"""


def make(**kw) -> Scheduler:
    return Scheduler(parse_score(SCORE, "t.toml"), **kw)


def test_durations_on_a_scaled_clock():
    s = make(time_scale=10.0, auto_cue=True)
    t = s.start(100.0)
    assert (t.kind, t.section.name, t.reason) == ("enter", "one", "start")
    assert s.update(100.5) == []
    assert abs(s.elapsed(100.5) - 5.0) < 1e-9
    (t,) = s.update(101.0)
    assert t.section.name == "two" and t.reason == "duration"
    # the cue section moves on by itself after 60 score seconds in unattended modes
    (t,) = s.update(107.0)
    assert t.section.name == "three" and t.reason == "auto-cue"
    (t,) = s.update(107.5)
    assert t.kind == "end" and t.ended_by == "duration"


def test_a_clock_jump_passes_every_section_in_order():
    s = make(time_scale=1000.0, auto_cue=True)
    s.start(0.0)
    names = [t.section.name for t in s.update(10.0)]
    assert names == ["two", "three", "three"]
    assert s.ended == "duration"


def test_cue_sections_wait_for_the_operator_when_attended():
    s = make(auto_cue=False)
    s.start(0.0)
    s.update(10.0)
    assert s.section.name == "two"
    assert s.update(10_000.0) == []
    t = s.cue(10_000.0)
    assert t.section.name == "three" and t.reason == "cue"


def test_goto_dims_override_and_loop():
    s = make(loop=True)
    s.start(0.0)
    s.set_dims(3)
    assert s.dims == 3
    t = s.goto("three", 1.0)
    assert t.section.name == "three" and s.dims == 4  # an override lasts until the next section
    (t,) = s.update(6.0)
    assert t.section.name == "one" and t.reason == "loop" and s.loops == 1


def test_resume_state_round_trip():
    s = make()
    s.start(0.0)
    s.update(10.0)
    state = s.state(13.0)
    assert state["section"] == "two" and abs(state["elapsed"] - 3.0) < 1e-9
    r = make()
    t = r.start(500.0, state)
    assert t.section.name == "two" and t.reason == "resume"
    assert abs(r.elapsed(500.0) - 3.0) < 1e-9


def test_fixed_point_ends_the_piece_only_in_its_section():
    s = make()
    s.start(0.0)
    still = np.array([0.5])
    assert s.observe(still, 0.0) is None
    assert s.observe(still, 5.0) is None  # not armed in the first section
    s.goto("three", 6.0)
    assert s.observe(np.array([0.5, 0.5, 0.5, 0.5]), 6.0) is None
    assert s.observe(np.array([0.52, 0.5, 0.5, 0.5]), 7.0) is None
    t = s.observe(np.array([0.49, 0.5, 0.5, 0.5]), 8.1)
    assert t is not None and t.kind == "end" and t.ended_by == "fixed-point"


def test_fixed_point_restarts_when_the_explorer_moves():
    f = FixedPoint(radius=0.05, hold=2.0)
    assert not f.update(np.array([0.5]), 0.0)
    assert not f.update(np.array([0.6]), 1.5)  # left the radius: a new anchor
    assert not f.update(np.array([0.6]), 3.0)
    assert f.update(np.array([0.61]), 3.6)


def test_installations_never_end_on_a_fixed_point():
    s = make(ending=False, loop=True)
    s.start(0.0)
    s.goto("three", 0.0)
    assert s.observe(np.array([0.5] * 4), 0.0) is None
    assert s.observe(np.array([0.5] * 4), 10.0) is None and s.ended is None


def test_the_hold_is_in_real_seconds_whatever_the_time_scale():
    s = make(time_scale=100.0)
    s.start(0.0)
    s.goto("three", 0.0)
    still = np.array([0.5] * 4)
    assert s.observe(still, 0.0) is None
    assert s.observe(still, 1.0) is None  # 100 score seconds, but only 1 real second of the 2 s hold
    t = s.observe(still, 2.01)
    assert t is not None and t.ended_by == "fixed-point"
