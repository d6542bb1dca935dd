"""Control-to-sound latency: how the engine measures it (no timing thresholds; figures are `aego bench synth`'s).

The engine marks, for each accepted target, the stream position of the first sample whose frame carries
it, and turns the mark into a latency when an output reports the block that took that sample.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from aego.audio_out import SLOT_NAMES, Slots
from aego.engine import CMD_DTYPE, ENGINE_SLOTS, EVENT_DTYPE, Engine, EngineConfig, _EngineProcess, _Shared
from aego.ring import Ring
from aego.space import SoundSpace


@pytest.fixture(scope="module")
def space_file(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("space") / "untrained.space"
    SoundSpace.untrained(seed=2).save(path)
    return str(path)


@pytest.fixture
def proc():
    rings = [Ring.create(16, (), CMD_DTYPE), Ring.create(16, (), EVENT_DTYPE), Ring.create(4, (8,), "float32"),
             Ring.create(4096, (), "float32")]
    stats, device = Slots(ENGINE_SLOTS), Slots(SLOT_NAMES)
    shared = _Shared(*(r.spec for r in rings), stats=stats.name, device=device.name)
    p = _EngineProcess(EngineConfig(audio="null", block=256), shared)
    p.sample_rate = 48000
    p.device["blocksize"] = 256
    yield p
    p.close()
    for r in rings:
        r.close()
    stats.close()
    device.close()


def _mark(p: _EngineProcess, pos: int, sent: float) -> None:
    i = p.marks_in % len(p.mark_pos)
    p.mark_pos[i], p.mark_time[i] = pos, sent
    p.marks_in += 1


def _block_taken(p: _EngineProcess, first: int, when: float, count: int = 256) -> None:
    p.device["cb_seq"] += 1
    p.device["cb_read"] = first
    p.device["cb_time"] = when
    p.device["cb_count"] = count
    p.device["cb_seq"] += 1


def test_a_mark_becomes_a_latency_when_its_block_is_taken(proc):
    _mark(proc, 1000, 10.0)
    _block_taken(proc, 512, 10.001)  # samples 512..767: not yet
    proc.resolve_marks()
    assert proc.n_lat == 0
    _block_taken(proc, 896, 10.013)  # samples 896..1151: sample 1000 is 104 samples in
    proc.resolve_marks()
    assert proc.n_lat == 1 and proc.marks_out == 1
    expected = 10.013 + 104 / 48000 + 256 / 48000 - 10.0  # taken, its place in the block, one block of output
    assert proc.latencies[0, 0] == pytest.approx(expected)
    assert proc.latencies[0, 1] == pytest.approx(expected)  # no device delay reported: the nominal block
    assert proc.latency_estimated == 0


def test_the_device_reported_delay_replaces_the_nominal_block(proc):
    proc.device["dac_delay"] = 0.0106667
    _mark(proc, 300, 5.0)
    _block_taken(proc, 256, 5.004)
    proc.resolve_marks()
    assert proc.latencies[0, 1] - proc.latencies[0, 0] == pytest.approx(0.0106667 - 256 / 48000)


def test_a_starved_block_does_not_take_the_samples_it_did_not_get(proc):
    _mark(proc, 600, 2.0)
    _block_taken(proc, 512, 2.005, count=50)  # starved: took 512..561 only
    proc.resolve_marks()
    assert proc.n_lat == 0
    _block_taken(proc, 562, 2.010)
    proc.resolve_marks()
    assert proc.latencies[0, 0] == pytest.approx(2.010 + 38 / 48000 + 256 / 48000 - 2.0)


def test_a_mark_taken_while_the_loop_was_away_is_placed_on_the_block_clock(proc):
    _mark(proc, 100, 1.0)
    _block_taken(proc, 768, 1.020)  # three blocks after the one (0..255) that took sample 100
    proc.resolve_marks()
    assert proc.latency_estimated == 1
    assert proc.latencies[0, 0] == pytest.approx(1.020 - 3 * 256 / 48000 + 100 / 48000 + 256 / 48000 - 1.0)


def _walk(engine: Engine, steps: int, seed: int) -> int:
    """A random target every 50 ms; returns how many the engine accepted."""
    rng = np.random.default_rng(seed)
    sent = 0
    for _ in range(steps):
        sent += engine.set_target(rng.standard_normal(8))
        time.sleep(0.05)
    return sent


def test_every_target_of_a_walk_is_measured_and_none_is_heard_before_it_can_be(space_file):
    engine = Engine(EngineConfig(audio="null", block=256, realtime=False), space=space_file)
    engine.start()
    try:
        sent = _walk(engine, 40, seed=0)
        time.sleep(1.3)  # the last marks are heard, and the once-a-second figures published
        stats = engine.stats()
    finally:
        engine.stop()
    assert stats["latency_count"] == sent == 40
    # Causality, not speed: the first carrying sample comes after the look-ahead hop and goes through one
    # block of output, so no latency can be shorter than that.
    floor_ms = (stats["hop"] + stats["blocksize"]) / stats["sample_rate"] * 1e3
    assert floor_ms <= stats["latency_ms_p50"] <= stats["latency_ms_max"]


def test_a_deep_queue_delays_the_sound_but_not_the_picture_against_it(space_file):
    engine = Engine(EngineConfig(audio="null", block=256, realtime=False, buffer_ms=100.0), space=space_file)
    engine.start()
    try:
        _walk(engine, 20, seed=1)
        time.sleep(1.3)
        stats = engine.stats()
    finally:
        engine.stop()
    block, rate = stats["blocksize"], stats["sample_rate"]
    assert stats["fill_target"] == 19 * block  # 100 ms in whole 256-sample blocks at 48 kHz
    # Every target waits behind the queue: nothing is heard sooner than the queue minus the block being played.
    assert stats["latency_ms_p50"] >= (stats["fill_target"] - block) / rate * 1e3
    # The spectrum frames are held back to the default two blocks ahead of the output, not the 100 ms.
    assert 0.0 < stats["spectrum_lead_ms"] <= (2 * block + stats["hop"]) / rate * 1e3


def test_stopping_plays_out_the_queue_and_starves_no_block(space_file):
    engine = Engine(EngineConfig(audio="null", block=256, realtime=False, buffer_ms=100.0), space=space_file)
    engine.start()
    try:
        engine.set_target(np.zeros(8))
        time.sleep(1.0)
        engine.fade_out(0.2)
        time.sleep(0.3)
        before = engine.stats()
    finally:
        engine.stop()
    after = engine.stats()
    # The output stops once the queue (the end of the fade, then silence) has been played, not while the
    # engine winds down: stopping counts no starved block.
    assert after["starved"] == before["starved"]
    assert after["frames"] - before["frames"] >= before["fill_target"] - before["blocksize"]


def test_starved_blocks_are_told_with_what_explains_them_once_a_second(proc):
    import json

    def told() -> list[dict]:
        return [json.loads(r["text"].decode()) for r in proc.event_ring.read()]

    proc.note_starvation(10.0, 3.0)
    assert told() == []  # nothing starved yet
    proc.device["starved"] = 3
    proc.note_starvation(10.0, 57.2)
    (event,) = told()
    assert event["what"] == "audio starved" and event["blocks"] == 3 and event["gap_ms_max"] == 57.2
    assert event["fill_target"] == 2 * 256
    proc.device["starved"] = 5
    proc.note_starvation(10.5, 1.0)
    assert told() == []  # within the second: kept for the next report
    proc.note_starvation(11.2, 1.0)
    (event,) = told()
    assert event["blocks"] == 2 and event["total"] == 5
