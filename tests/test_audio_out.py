"""Rings, the callback copy, the clock outputs, and the engine on the null and file outputs."""

from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

from aego.audio_out import ClockOutput, DeviceUnavailableError, OutputSpec, Slots
from aego.engine import Engine, EngineConfig
from aego.ring import Ring, read_audio
from aego.space import SoundSpace


def test_ring_wraps_around_and_never_overwrites_unread_items():
    ring = Ring.local(8, (), "float32")
    assert ring.write(np.arange(6, dtype=np.float32)) == 6
    assert list(ring.read(4)) == [0, 1, 2, 3]
    assert ring.write(np.arange(10, 20, dtype=np.float32)) == 6  # only 6 free
    assert ring.available() == 8 and ring.free() == 0
    assert not ring.push(np.float32(99))
    assert list(ring.read()) == [4, 5, 10, 11, 12, 13, 14, 15]
    assert ring.available() == 0


def test_ring_of_records_and_frames():
    frames = Ring.local(4, (3,), "float32")
    assert frames.push(np.array([1, 2, 3], np.float32))
    assert frames.read().shape == (1, 3)
    records = Ring.local(4, (), np.dtype([("kind", "i4"), ("text", "S16")]))
    rec = np.zeros((), records.data.dtype)
    rec["kind"], rec["text"] = 7, b"hello"
    records.push(rec)
    got = records.read()[0]
    assert got["kind"] == 7 and got["text"] == b"hello"


def _producer(spec, n):
    ring = Ring.attach(spec)
    sent = 0
    while sent < n:
        sent += ring.write(np.arange(sent, min(n, sent + 100), dtype=np.float64))
    ring.close()


def test_ring_between_processes_keeps_every_item_in_order():
    ring = Ring.create(64, (), "float64")
    try:
        p = mp.get_context("spawn").Process(target=_producer, args=(ring.spec, 20000))
        p.start()
        got: list[np.ndarray] = []
        deadline = time.monotonic() + 60
        while sum(len(g) for g in got) < 20000 and time.monotonic() < deadline:
            got.append(ring.read())
        p.join(10)
        assert np.array_equal(np.concatenate(got), np.arange(20000))
    finally:
        ring.close()


def test_callback_copy_fills_every_channel_and_zeros_what_is_missing():
    ring = Ring.local(16, (), "float32")
    ring.write(np.arange(1, 6, dtype=np.float32))
    out = np.full((8, 2), 9.0, np.float32)
    assert read_audio(ring.data, ring.counters, out, True) == 5
    assert np.array_equal(out[:5, 0], np.arange(1, 6)) and np.array_equal(out[:, 0], out[:, 1])
    assert np.all(out[5:] == 0)
    ring.write(np.ones(4, np.float32))
    assert read_audio(ring.data, ring.counters, out, False) == 0  # not active: silence, ring untouched
    assert np.all(out == 0) and ring.available() == 4


def test_output_spec_parsing():
    assert OutputSpec.parse("file:/tmp/a.wav") == OutputSpec("file", "/tmp/a.wav")
    assert OutputSpec.parse("jack").is_device and not OutputSpec.parse("null").is_device
    with pytest.raises(ValueError, match="default, jack, null"):
        OutputSpec.parse("speakers")


def test_clock_output_writes_what_it_consumes(tmp_path):
    ring = Ring.local(48000, (), "float32")
    slots = Slots()
    try:
        signal = np.sin(np.arange(4800) / 10).astype(np.float32) * 0.5
        ring.write(signal)
        out = ClockOutput(ring, slots, 48000, block=480, path=str(tmp_path / "o.wav"))
        out.start()
        time.sleep(0.3)
        out.close()
        audio, rate = sf.read(tmp_path / "o.wav", dtype="float32")
        assert rate == 48000 and len(audio) >= 4800
        assert np.allclose(audio[:4800], signal, atol=1e-4)
        assert slots["blocks"] >= 10 and slots["starved"] >= 1  # it went on after the ring ran dry
    finally:
        slots.close()


@pytest.fixture(scope="module")
def untrained_space(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("space") / "untrained.space"
    SoundSpace.untrained(seed=1).save(path)
    return str(path)


def test_the_clock_output_has_its_copy_compiled_before_its_first_tick(tmp_path):
    """On a fresh checkout numba compiles on first use; the clock's first tick must not be that use (it came
    a few hundred ms late and emptied the queue catching up)."""
    code = (
        "from aego.audio_out import ClockOutput, Slots\n"
        "from aego.ring import Ring, read_audio\n"
        "assert not read_audio.signatures, 'compiled before the test started'\n"
        "ring = Ring.local(1024, (), 'float32')\n"
        "ClockOutput(ring, Slots(), 48000, 256)\n"
        "print(len(read_audio.signatures))\n"
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}  # a cold cache
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip()) >= 1


def test_engine_to_a_file_with_controls_spectra_and_bad_input(untrained_space, tmp_path):
    wav = tmp_path / "out.wav"
    engine = Engine(EngineConfig(audio=f"file:{wav}", sample_rate=44100, realtime=False), space=untrained_space)
    engine.start()
    try:
        rng = np.random.default_rng(0)
        for _ in range(20):
            engine.set_target(rng.standard_normal(8))
            time.sleep(0.05)
        engine.set_target([float("nan")] * 8)
        engine.set_target([1.0, 2.0])
        engine.set_target([1e9] * 8)
        engine.set_space(str(tmp_path / "missing.space"), 0.5)
        engine.set_gain(0.5)
        time.sleep(1.5)
        stats = engine.stats()
        spectra = engine.spectra()
        events = engine.events()
    finally:
        engine.stop()
    assert stats["backend"] == f"file:{wav}" and stats["sample_rate"] == 44100
    assert stats["blocks"] > 0 and stats["refused"] == 2 and stats["clamped"] == 1
    assert spectra.ndim == 2 and spectra.shape[1] == 1025 and len(spectra) > 20 and spectra.max() > 0
    whats = {e["what"] for e in events}
    assert {"latent refused", "latent clamped", "space not loaded"} <= whats
    audio, rate = sf.read(wav)
    assert rate == 44100 and len(audio) > 44100 and audio.std() > 1e-4


def test_engine_refuses_a_bad_space_before_any_sound(tmp_path):
    bad = tmp_path / "x.space"
    bad.write_bytes(b"\x80\x04 pickle")
    from aego.errors import SpaceFileError

    with pytest.raises(SpaceFileError, match="pickle"):
        Engine(EngineConfig(audio="null"), space=str(bad)).start()


def test_jack_without_a_server_is_a_clear_error(untrained_space, monkeypatch):
    monkeypatch.setenv("JACK_DEFAULT_SERVER", f"aego-absent-{time.monotonic_ns()}")
    monkeypatch.setenv("JACK_NO_START_SERVER", "1")
    engine = Engine(EngineConfig(audio="jack", realtime=False, start_timeout=30), space=untrained_space)
    with pytest.raises(DeviceUnavailableError, match="JACK"):
        engine.start()
    assert not engine.running
