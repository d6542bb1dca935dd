"""The engine through a real JACK server (dummy driver): it plays, at 44.1 and 48 kHz, under load, and
survives the server being killed and restarted. Behaviour only: timings go to ``aego bench``."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from aego.engine import Engine, EngineConfig
from aego.space import SoundSpace
from tests.jack_server import JackServer, fifo_threads, realtime_permitted


@pytest.fixture(scope="module")
def space_file(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("space") / "untrained.space"
    SoundSpace.untrained(seed=2).save(path)
    return str(path)


def _engine_ports(jack: JackServer) -> list[str]:
    return [p for p in jack.ports() if ":out_" in p and not p.startswith("system:")]


def _capture(jack: JackServer, path: Path, seconds: float = 1.0) -> np.ndarray:
    """Record the engine's first output port with jack_rec (a separate JACK client)."""
    ports = _engine_ports(jack)
    assert ports, f"the engine has no JACK output port: {jack.ports()}"
    subprocess.run(["jack_rec", "-f", str(path), "-d", str(seconds), "-b", "16", ports[0]], env=jack.env(),
                   capture_output=True, timeout=60, check=True)
    audio, _ = sf.read(path)
    return np.asarray(audio).reshape(-1)


def _walk(engine: Engine, seconds: float, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        engine.set_target(rng.standard_normal(8))
        time.sleep(0.05)


def _wait_for(engine: Engine, what: str, timeout: float) -> list[dict]:
    seen: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen += engine.events()
        if any(e.get("what") == what for e in seen):
            return seen
        engine.set_target(np.zeros(8))
        time.sleep(0.1)
    raise AssertionError(f"no '{what}' event within {timeout} s; events: {seen}")


@pytest.mark.parametrize("rate", [44100, 48000])
def test_engine_plays_through_jack(space_file, tmp_path, rate):
    with JackServer(rate=rate, period=256) as jack:
        jack.activate()
        engine = Engine(EngineConfig(audio="jack"), space=space_file)
        engine.start()
        try:
            _walk(engine, 1.0)
            recorded = _capture(jack, tmp_path / "capture.wav", 1.0)
            _walk(engine, 0.5)
            stats = engine.stats()
        finally:
            engine.stop()
    assert stats["backend"] == "jack" and stats["device"] == "running"
    assert stats["sample_rate"] == rate and stats["blocksize"] == 256
    assert stats["blocks"] > 0 and stats["frames"] == stats["blocks"] * 256
    assert isinstance(stats["underflows"], int) and stats["callback_errors"] == 0
    assert np.abs(recorded).max() > 1e-3, "the JACK port carried silence"


def test_synthesis_and_callback_run_real_time_under_a_real_time_jack(space_file):
    """Under ``jackd -R`` the synthesis thread and the device callback run SCHED_FIFO, the callback above the
    synthesis thread (it only copies, and must never wait for it)."""
    permitted, why = realtime_permitted()
    if not permitted:
        pytest.skip(f"real-time scheduling is not permitted here: {why}")
    with JackServer(rate=48000, period=256, realtime=True) as jack:
        jack.activate()
        server_fifo = fifo_threads(jack.process.pid)
        engine = Engine(EngineConfig(audio="jack"), space=space_file)
        engine.start()
        try:
            _walk(engine, 0.5)  # the device process raises the callback once it has seen it run
            stats = engine.stats()
            engine_fifo = fifo_threads(stats["engine_pid"])
            device_fifo = fifo_threads(stats["device_pid"])
        finally:
            engine.stop()
    assert jack.realtime and server_fifo, "jackd -R runs no SCHED_FIFO thread"
    assert stats["realtime"] and stats["synth_tid"] in engine_fifo, f"synthesis thread not SCHED_FIFO: {engine_fifo}"
    assert stats["callback_tid"] in device_fifo, f"callback thread not SCHED_FIFO: {device_fifo}"
    assert device_fifo[stats["callback_tid"]] > engine_fifo[stats["synth_tid"]]
    assert stats["blocks"] > 0 and stats["callback_errors"] == 0


def test_jack_server_falls_back_without_real_time_and_says_why(monkeypatch):
    import tests.jack_server as js

    monkeypatch.setattr(js, "realtime_permitted", lambda: (False, "SCHED_FIFO refused (test)"))
    with JackServer(rate=48000, period=256) as jack:
        assert not jack.realtime and "refused" in jack.fallback_reason
        assert "-r" in jack.command(False) and jack.process.poll() is None


def _busy_process() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


@pytest.mark.slow
def test_engine_keeps_playing_while_everything_else_is_busy(space_file, tmp_path):
    """Another process burns a core, this process runs pure Python and torch; the stream goes on.

    The underflow count is read and reported (the 10-minute figure is scripts/soak_engine.py's job)."""
    import torch

    with JackServer(rate=48000, period=256) as jack:
        jack.activate()
        engine = Engine(EngineConfig(audio="jack"), space=space_file)
        engine.start()
        hog = _busy_process()
        stop = threading.Event()

        def python_work() -> None:
            x = 0
            while not stop.is_set():
                x = (x * 31 + 7) % 1000003

        worker = threading.Thread(target=python_work, daemon=True)
        worker.start()
        try:
            before = engine.stats()["blocks"]
            end = time.monotonic() + 10.0
            rng = np.random.default_rng(0)
            a = torch.randn(256, 256)
            while time.monotonic() < end:
                engine.set_target(rng.standard_normal(8))
                for _ in range(5):
                    a = torch.tanh(a @ a.T / 256)
                time.sleep(0.02)
            recorded = _capture(jack, tmp_path / "busy.wav", 1.0)
            stats = engine.stats()
        finally:
            stop.set()
            hog.kill()
            hog.wait()
            engine.stop()
    print(f"\nunder load: blocks {stats['blocks'] - before}, underflows {stats['underflows']} "
          f"(xruns {stats['xruns']}, starved {stats['starved']}), load {stats['load']}")
    assert stats["blocks"] > before and stats["callback_errors"] == 0
    assert np.abs(recorded).max() > 1e-3
    assert stats["underflows"] >= 0


def test_engine_survives_a_jack_restart(space_file, tmp_path):
    with JackServer(rate=48000, period=256) as jack:
        jack.activate()
        engine = Engine(EngineConfig(audio="jack"), space=space_file)
        engine.start()
        try:
            _walk(engine, 0.5)
            jack.kill()
            events = _wait_for(engine, "device lost", 20)
            lost = engine.stats()
            assert lost["device"] != "running" or lost["device_lost"] == 1
            spectra_while_lost = len(engine.spectra())
            time.sleep(1.0)
            spectra_while_lost = len(engine.spectra())  # synthesis goes on against a clock
            jack.start()
            events += _wait_for(engine, "device back", 60)
            blocks = engine.stats()["blocks"]
            _walk(engine, 1.0)
            recorded = _capture(jack, tmp_path / "after.wav", 1.0)
            stats = engine.stats()
        finally:
            engine.stop()
    assert [e["what"] for e in events if e["what"] in ("device lost", "device back")] == ["device lost", "device back"]
    assert spectra_while_lost > 10
    assert stats["device"] == "running" and stats["device_lost"] == 1 and stats["device_back"] == 1
    assert stats["blocks"] > blocks
    assert np.abs(recorded).max() > 1e-3, "no sound after the server came back"
