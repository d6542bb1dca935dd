"""From wrists to one reward: wrist assignment, mixing, the watchdog, keyboard and calibration."""

from __future__ import annotations

import json
import math

import pytest
from aego.sensors import calibration
from aego.sensors.events import ImuSample, Reward
from aego.sensors.keyboard import LEGEND, KeyboardReward
from aego.sensors.pipeline import InputPipeline
from aego.sensors.quaternion import IDENTITY, from_axis_angle, from_euler, multiply
from aego.sensors.reward_mix import MixConfig, RewardMixer, SourceMix
from aego.sensors.wrist import WristConfig

from aego.errors import UsageError

X = (1.0, 0.0, 0.0)
FAST = WristConfig(min_cutoff_hz=80.0, beta=0.0, dead_band_deg=0.0, range_neg_deg=90.0, range_pos_deg=90.0)


def _twist(deg, neutral=IDENTITY):
    return multiply(neutral, from_axis_angle(X, math.radians(deg)))


def _feed(mixer, sid, deg, t0, seconds, rate=200.0, fmt="riot-v3"):
    events = []
    n = int(seconds * rate)
    for i in range(n):
        events += mixer.sample(ImuSample(sid, fmt, t0 + i / rate, quat=_twist(deg)))
    return events, t0 + n / rate


def _mixer(**kw):
    return RewardMixer(MixConfig(wrist=FAST, neutral={"L": IDENTITY, "R": IDENTITY, "C": IDENTITY}, **kw))


def test_one_wrist_alone_spans_the_range():
    m = _mixer()
    _, t = _feed(m, "L", 90.0, 0.0, 0.5)
    assert m.reward(t)[0] == pytest.approx(1.0, abs=1e-3)
    _, t = _feed(m, "L", -45.0, t, 0.5)
    assert m.reward(t)[0] == pytest.approx(-0.5, abs=1e-3)


def test_two_wrists_sum_and_cancel():
    m = _mixer()
    for i in range(100):
        t = i / 200
        m.sample(ImuSample("L", "riot-v3", t, quat=_twist(90.0)))
        m.sample(ImuSample("R", "riot-v3", t, quat=_twist(-90.0)))
    assert m.reward(0.5)[0] == pytest.approx(0.0, abs=1e-3)
    for i in range(100):
        t = 0.5 + i / 200
        m.sample(ImuSample("L", "riot-v3", t, quat=_twist(45.0)))
        m.sample(ImuSample("R", "riot-v3", t, quat=_twist(45.0)))
    assert m.reward(1.0)[0] == pytest.approx(0.5, abs=1e-3)


def test_first_two_ids_heard_are_the_wrists_and_a_third_is_unknown():
    m = _mixer()
    _feed(m, "L", 10.0, 0.0, 0.1)
    _feed(m, "R", 10.0, 0.0, 0.1)
    events, _ = _feed(m, "C", 90.0, 0.0, 0.2)
    assert [e.state for e in events] == ["connect", "unknown"]  # logged once, not per sample
    assert m.unknown("C") and set(m.wrists) == {"L", "R"}
    assert m.reward(0.1)[0] == pytest.approx(10 / 90, abs=1e-2)


def test_configured_ids_win():
    m = _mixer(wrist_ids=("C",))
    _feed(m, "L", 90.0, 0.0, 0.1)
    _feed(m, "C", -90.0, 0.0, 0.1)
    assert set(m.wrists) == {"C"} and m.reward(0.1)[0] == pytest.approx(-1.0, abs=1e-3)


def test_watchdog_stale_fades_within_half_a_second_and_reconnects():
    m = _mixer()
    _, t_l = _feed(m, "L", 90.0, 0.0, 1.0)
    _feed(m, "R", 90.0, 0.0, 0.2)  # R stops at 0.2 s
    last_r = 0.2 - 1 / 200
    assert m.tick(last_r + 0.1) == []
    stale = m.tick(last_r + 0.25)
    assert [(e.sensor_id, e.state) for e in stale] == [("R", "stale")]
    assert m.tick(last_r + 0.3) == []  # once
    assert 0.0 < m.share("R", last_r + 0.3) < 1.0
    assert m.share("R", last_r + 0.5) == 0.0
    # Both wrists silent: the reward reaches 0 within 0.5 s of the last sample.
    assert m.reward(t_l + 0.5)[0] == 0.0
    assert m.reward(t_l + 0.1)[0] == pytest.approx(1.0, abs=1e-3)
    events, _ = _feed(m, "R", -90.0, 3.0, 0.1)
    assert [e.state for e in events] == ["reconnect"]
    assert m.reward(3.1)[0] == pytest.approx(-1.0, abs=1e-3)  # L long gone, R alone


def test_pipeline_counts_and_emits_fading_rewards():
    p = InputPipeline(MixConfig(wrist=FAST, neutral={"L": IDENTITY}))
    for i in range(40):
        p.message("/aego/imu/L", [90.0, 0.0, 0.0], "x", i / 200)
    p.flush_reward(now=39 / 200)
    p.message("/aego/imu/L", [math.nan, 0.0, 0.0], "x", 0.2)
    p.message("/aego/imu/L", [math.nan, 0.0, 0.0], "x", 0.2)
    p.message("/somewhere", [1], "x", 0.2)
    p.datagram(b"\xff\xfe garbage", ("127.0.0.1", 1), 0.2)
    p.datagram(b"/aego/cue\0\0\0", ("10.0.0.9", 1), 0.2, allowed=False)
    c = p.counters
    assert c["samples"] == 40 and c["malformed"] == 3 and c["unknown"] == 1 and c["dropped"] == 1
    out = p.take()
    invalid = [e for e in out if getattr(e, "state", "") == "invalid"]
    assert len(invalid) == 3  # NaN (once for two), garbage, refused sender
    rewards = [e for e in out if isinstance(e, Reward)]
    assert rewards and rewards[-1].value > 0.9 and rewards[-1].continuous and rewards[-1].source == "imu"
    # Silence: the watchdog fades the reward to exactly 0.
    last = 39 / 200
    for k in range(1, 80):
        p.tick(last + k * 0.01)
    tail = [e for e in p.take() if isinstance(e, Reward)]
    assert tail[-1].value == 0.0 and tail[-1].t <= last + 0.5 + 0.011


def test_keyboard_taps_and_holds():
    k = KeyboardReward()
    assert k.press("up", 0.0) == [Reward(1.0, "keyboard", 0.0, False)]
    assert k.press("up", 0.05) == []  # key repeat
    assert k.tick(0.1) == []
    held = k.tick(0.4)
    assert held == [Reward(1.0, "keyboard", 0.4, True)]
    assert k.release("up", 0.6) == [Reward(0.0, "keyboard", 0.6, True)]
    assert k.press("-", 1.0)[0].value == -1.0
    assert k.release("-", 1.1) == []  # a tap ends without a continuous 0
    assert k.press("q", 2.0) == [] and not k.handles("q")
    assert LEGEND and all(len(row) == 2 for row in LEGEND)


def test_source_mix():
    s = SourceMix(timeout_s=0.5)
    s.update("imu", 0.6, 0.0)
    s.update("keyboard", 0.7, 0.0)
    assert s.value(0.1) == 1.0
    s.update("keyboard", -1.0, 0.2)
    assert s.value(0.3) == pytest.approx(-0.4)
    assert s.value(1.0) == 0.0 and s.sources(1.0) == []


def test_calibration_compute_save_load_apply(tmp_path):
    neutral_pose = from_euler(20.0, 10.0, 60.0)
    held = [multiply(neutral_pose, from_axis_angle(X, math.radians(d))) for d in (-1.0, 0.0, 1.0) * 20]
    turns = [multiply(neutral_pose, from_axis_angle(X, math.radians(d))) for d in range(-50, 71)]
    c = calibration.compute(held, turns)
    assert abs(abs(sum(a * b for a, b in zip(c.neutral, neutral_pose, strict=True))) - 1) < 1e-6
    assert c.range_pos_deg == pytest.approx(66.0, abs=1.5) and c.range_neg_deg == pytest.approx(47.5, abs=1.5)
    path = calibration.save({"L": c})  # the user's config folder (a temporary one in tests)
    assert path == calibration.default_path() and path.exists()
    loaded = calibration.load()
    assert loaded["L"].range_pos_deg == pytest.approx(c.range_pos_deg, abs=0.01)
    mix = calibration.apply(MixConfig(), loaded)
    m = RewardMixer(mix)
    sample = multiply(neutral_pose, from_axis_angle(X, math.radians(30.0)))
    for i in range(200):
        m.sample(ImuSample("L", "riot-v3", i / 200, quat=sample))
    assert m.wrists["L"].calibrated  # no 2-second auto-calibration needed
    assert m.reward(1.0)[0] == pytest.approx((30 - 4) / (c.range_pos_deg - 4), abs=0.02)


def test_broken_calibration_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "c.json"
    bad.write_text(json.dumps({"aego_calibration": 1, "wrists": {"L": {"neutral": [0, 0, 0, 0]}}}))
    with pytest.raises(UsageError, match="calibrate"):
        calibration.load(bad)
    bad.write_text("not json")
    with pytest.raises(UsageError):
        calibration.load(bad)
    with pytest.raises(UsageError, match="does not exist"):
        calibration.load(tmp_path / "none.json")
    assert calibration.load() == {}  # no default file: auto-calibration


def test_sensor_settings_file():
    from aego.sensors import settings

    assert settings.load() == MixConfig()  # no file: CONTRACT defaults
    path = settings.default_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('[wrists]\nids = ["left", "right"]\ntimeout_s = 0.3\n[wrist]\nrange_deg = 60\n'
                    '[wrist.right]\naxis = [0, 1, 0]\nsign = -1\n')
    mix = settings.load()
    assert mix.wrist_ids == ("left", "right") and mix.timeout_s == 0.3
    assert mix.wrist.range_pos_deg == 60.0 and mix.per_wrist["right"].axis == (0.0, 1.0, 0.0)
    assert mix.per_wrist["right"].sign == -1.0 and mix.per_wrist["right"].range_neg_deg == 60.0
    from dataclasses import replace

    m = RewardMixer(replace(mix, neutral={"right": IDENTITY}))
    for i in range(200):  # right wrist turned 30° about its y axis: counts, with its sign flipped
        m.sample(ImuSample("right", "aego", i / 200, quat=from_axis_angle((0.0, 1.0, 0.0), math.radians(30.0))))
    assert m.reward(1.0)[0] == pytest.approx(-(30 - 4) / (60 - 4), abs=0.01)
    m.sample(ImuSample("other", "aego", 1.0, quat=IDENTITY))
    assert m.unknown("other")  # ids configured: anything else is not a wrist
    for bad in ('[wrist]\naxis = [0, 0, 0]\n', '[wrist]\nwhat = 1\n', '[wrists]\nids = [1]\n', 'not toml ['):
        path.write_text(bad)
        with pytest.raises(UsageError, match=r"sensors\.toml"):
            settings.load()


def test_slow_senders_get_a_longer_timeout():
    m = _mixer()
    for i in range(30):  # a phone app at 10 Hz
        m.sample(ImuSample("L", "aego", i / 10, quat=_twist(10.0)))
    last = 29 / 10
    assert m.tick(last + 0.25) == []  # a normal gap for this sender, not a dropout
    assert [e.state for e in m.tick(last + 0.35)] == ["stale"]
