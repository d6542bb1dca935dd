"""A full disk under the session folder: a real, small tmpfs mounted for the test (root only; skipped
elsewhere), filled up while a session writes, then given room again.

The run goes on (the sound, the inputs, the explorer), the problem is said once on stderr, nothing
already written is lost or torn, and once there is room again one ``error`` event in the log says what
happened and how many events were dropped.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aego.session import EVENTS, SUMMARY, Session, read_events


@contextlib.contextmanager
def small_disk(path: Path, size: str = "1m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path`` for the duration (unmounted even if the test fails)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    path.mkdir(parents=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(disk: Path) -> Path:
    """Fill ``disk`` to the last byte: a file grown until the kernel says ENOSPC."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as f:
        for chunk in (65536, 4096, 1):
            while True:
                try:
                    f.write(b"\0" * chunk)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
                    break
    return filler


def wait_until(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("the expected state never came")
        time.sleep(0.05)


def test_a_session_on_a_disk_that_fills_up_and_frees(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk") as disk:
        folder = disk / "session"
        warnings: list[str] = []
        s = Session(folder, warn=warnings.append)
        for i in range(200):
            s.log("action", i=i)
        s.write_summary({"duration_s": 1.0, "actions": 200})
        wait_until(lambda: (folder / SUMMARY).exists() and s.written == 200)
        before = (folder / EVENTS).read_bytes()
        summary_before = (folder / SUMMARY).read_text()
        filler = fill(disk)
        # events and summaries keep coming while the disk is full
        for i in range(200, 5200):
            s.log("action", i=i, pad="x" * 40)
            if i % 500 == 0:
                s.write_summary({"duration_s": 2.0, "actions": i})
                time.sleep(0.05)
        wait_until(lambda: s.error is not None)
        wait_until(lambda: s.dropped > 0)
        full_log = (folder / EVENTS).read_bytes()
        assert full_log.startswith(before)  # nothing written before is lost
        assert full_log.endswith(b"\n") and all(json.loads(x) for x in full_log.splitlines())  # no torn line
        assert (folder / SUMMARY).read_text() == summary_before  # the old summary is intact
        assert not list(folder.glob(".*.tmp"))
        assert len(warnings) == 1 and "No space left on device" in warnings[0] and "goes on" in warnings[0]
        filler.unlink()
        time.sleep(1.2)  # past the retry interval, so the next batch is tried
        s.log("cue", what="after")
        s.close()
        events = list(read_events(folder))
        lines = (folder / EVENTS).read_bytes()
    assert lines.startswith(full_log) and len(lines.splitlines()) == len(events)
    assert s.error is None and len(warnings) == 2 and "writable again" in warnings[1]
    outage = [e for e in events if e["type"] == "error" and e.get("source") == "session"]
    assert len(outage) == 1 and outage[0]["dropped"] == s.dropped > 0
    assert "No space left on device" in outage[0]["message"]
    assert events[-1] == {"t": events[-1]["t"], "type": "cue", "what": "after"}
    actions = [e["i"] for e in events if e["type"] == "action"]
    assert actions == sorted(actions) and actions[:200] == list(range(200))
    # every event was written or counted as dropped (the outage's own event is one more written)
    assert s.written == len(events) and s.written - 1 + s.dropped == 5201


def test_sensor_recording_on_a_disk_that_fills_up(tmp_path: Path) -> None:
    """The input process records raw sensor streams into the session folder: a full disk must cost the
    recording only, never the sensors (an exception there once ended the input process)."""
    from aego.sensors.pipeline import InputPipeline
    from aego.sensors.recording import SensorRecorder, read_recording

    with small_disk(tmp_path / "disk", "256k") as disk:
        path = disk / "sensors.jsonl"
        recorder = SensorRecorder(path, flush_s=0.0, retry_s=0.0)
        pipeline = InputPipeline(recorder=recorder)
        quat = ["/aego/imu/1/quat", [1.0, 0.0, 0.0, 0.0]]
        for _ in range(100):
            pipeline.message(quat[0], quat[1], "test", time.monotonic())
        kept = path.read_bytes()
        filler = fill(disk)
        for _ in range(100, 3100):
            pipeline.message(quat[0], quat[1], "test", time.monotonic())
        recorder.flush()
        assert recorder.error == "No space left on device" and recorder.lost > 0
        assert pipeline.counters["samples"] == 3100 and pipeline.counters["errors"] == 0  # all still used
        reports = [e for e in pipeline.take() if getattr(e, "state", "") == "error"]
        assert len(reports) == 1 and "recording paused" in reports[0].detail
        data = path.read_bytes()
        assert data.startswith(kept) and data.endswith(b"\n")
        filler.unlink()
        for _ in range(3100, 3200):
            pipeline.message(quat[0], quat[1], "test", time.monotonic())
        recorder.close()
        assert recorder.error is None
        rows = list(read_recording(path))
        assert all(kind != "bad" for _t, kind, _p in rows)
        assert len(rows) == recorder.written - 1  # every line written is whole (the header is not a row)
        assert recorder.written + recorder.lost == 3201


def _osc_out(sock: socket.socket) -> list[tuple[str, list]]:
    """Every OSC message the run sent us so far."""
    from pythonosc.osc_message import OscMessage

    out = []
    while True:
        try:
            data = sock.recv(65536)
        except (BlockingIOError, TimeoutError):
            return out
        with contextlib.suppress(Exception):
            m = OscMessage(data)
            out.append((m.address, list(m.params)))


def _f32(value: float) -> float:
    return float(struct.unpack(">f", struct.pack(">f", value))[0])


def _rewards(events: list[dict]) -> list[float]:
    return [e["value"] for e in events if e["type"] == "reward" and e.get("source") == "osc"]


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_a_performance_whose_session_disk_fills_up(tmp_path: Path) -> None:
    """``aego perform`` with its session folder on a 4 MB disk that is filled mid-run (the sound goes to a
    WAV file elsewhere), while wrist sensors stream and clicks arrive, then given room again."""
    from aego.sensors.bench import riot_bundle
    from piece_support import command, env, free_port, wait_for

    from aego.bench_load import build

    wav = tmp_path / "out.wav"
    listen, send = free_port(), free_port()
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    out.bind(("127.0.0.1", send))
    out.setblocking(False)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stderr = tmp_path / "stderr.txt"
    with small_disk(tmp_path / "disk", "4m") as disk, open(stderr, "w") as err:
        log = disk / "session"
        cmd = command("perform", log, "--score", "aego", "--seed", "5", listen=listen, send=send)
        cmd[cmd.index("null")] = f"file:{wav}"
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env())
        try:
            wait_for(log, lambda evs: sum(e["type"] == "action" for e in evs) >= 3)
            for k in range(10):  # clicks A, before the disk fills
                sender.sendto(build("/aego/reward", [0.01 * (k + 1)]), ("127.0.0.1", listen))
            wait_for(log, lambda evs: len(_rewards(evs)) >= 10)
            wait_for(log, lambda evs: (log / SUMMARY).exists() and (log / "state.json").exists())
            before = (log / EVENTS).read_bytes()
            filler = fill(disk)
            _osc_out(out)
            wav_at_fill = wav.stat().st_size
            # the wrists stream (recorded to sensors.jsonl in the session folder) and clicks B arrive
            # the run echoes every reward on OSC out; the wrists' rewards are echoed too, so the clicks are
            # told apart by their exact float32 values
            echoed: set[float] = set()
            actions = 0
            # 800 samples of each wrist at about 200 Hz, a click every 40 (counts, not times: a loaded
            # machine makes it last longer, never send less)
            for n in range(800):
                for sid in ("1", "2"):
                    sender.sendto(riot_bundle(sid, n / 200, n), ("127.0.0.1", listen))
                if n % 40 == 0:
                    sender.sendto(build("/aego/reward", [-0.01 * (n // 40 + 1)]), ("127.0.0.1", listen))
                time.sleep(0.005)
                for address, args in _osc_out(out):
                    if address == "/aego/reward":
                        echoed.add(args[0])
                    actions += address == "/aego/action"
            clicks_b = {_f32(-0.01 * (k + 1)) for k in range(20)}
            wait_until(lambda: echoed.update(a[0] for ad, a in _osc_out(out) if ad == "/aego/reward")
                       or clicks_b <= echoed)
            wav_at_free = wav.stat().st_size
            during = (log / EVENTS).read_bytes()
            summary_during = json.loads((log / SUMMARY).read_text())
            state_during = json.loads((log / "state.json").read_text())
            filler.unlink()
            time.sleep(1.5)  # past the retry interval
            for k in range(10):  # clicks C, once there is room again
                sender.sendto(build("/aego/reward", [0.5 + 0.01 * k]), ("127.0.0.1", listen))
            wait_for(log, lambda evs: sum(v >= 0.5 for v in _rewards(evs)) >= 10)
            sender.sendto(build("/aego/stop", []), ("127.0.0.1", listen))
            proc.wait(120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            out.close()
            sender.close()
        final = (log / EVENTS).read_bytes()
        events = list(read_events(log))
        summary = json.loads((log / SUMMARY).read_text())
    text = stderr.read_text()
    assert proc.returncode == 0 and "Traceback" not in text, text[-3000:]
    # said once on stderr, and once that it is over
    assert text.count("cannot write the session folder") == 1 and "No space left on device" in text, text
    assert text.count("is writable again") == 1, text
    # the run went on while the disk was full: the explorer acted, the clicks reached it, the wrists
    # were heard, and the sound kept coming out
    assert actions >= 3
    assert len(clicks_b) == 20 and clicks_b <= echoed
    assert summary["osc"]["restarts"] == 0 and summary["osc"]["samples"] >= 2 * 800
    assert wav_at_free > wav_at_fill
    import numpy as np
    import soundfile as sf

    heard = sf.read(wav, start=(wav_at_fill - 44) // 2, stop=(wav_at_free - 44) // 2)[0]
    assert len(heard) and float(np.sqrt(np.mean(heard ** 2))) > 1e-4  # not silence
    # nothing already written was lost, and no line was torn
    assert during.startswith(before) and final.startswith(during)
    assert len(final.splitlines()) == len(events)
    assert "actions" in summary_during and state_during["scheduler"]["section"]  # whole, readable files
    # one event says what happened, once there was room again; the summary counts what was dropped
    outage = [e for e in events if e["type"] == "error" and e.get("source") == "session"]
    assert len(outage) == 1 and outage[0]["dropped"] > 0 and "No space left on device" in outage[0]["message"]
    assert summary["log"]["dropped"] >= outage[0]["dropped"] and summary["log"]["error"] is None
    assert summary["ended_by"] == "stop" and summary["errors"] >= 1
    values = _rewards(events)
    assert values[:10] == [round(0.01 * (k + 1), 4) for k in range(10)]
    assert [v for v in values if v >= 0.5] == [round(0.5 + 0.01 * k, 4) for k in range(10)]


@pytest.mark.timeout(180)
def test_the_sound_goes_on_when_its_wav_file_fills_the_disk(tmp_path: Path) -> None:
    """``aego play`` without an audio device writes ``audio.wav`` into the session folder: when that disk
    fills, the file stops (one error event, what was written stays readable) and the synthesis goes on."""
    import numpy as np
    import soundfile as sf

    from aego.engine import Engine, EngineConfig
    from aego.space import SoundSpace

    space = tmp_path / "toys.space"
    SoundSpace.untrained(seed=0).save(space)
    with small_disk(tmp_path / "disk", "256k") as disk:
        wav = disk / "audio.wav"
        engine = Engine(EngineConfig(audio=f"file:{wav}", sample_rate=48000, realtime=False), space=str(space))
        engine.start()
        events: list[dict] = []
        try:
            rng = np.random.default_rng(0)
            deadline = time.monotonic() + 60
            while not any(e.get("what") == "audio file" for e in events) and time.monotonic() < deadline:
                engine.set_target(rng.standard_normal(8) * 0.5)
                events += engine.events()
                time.sleep(0.05)
            blocks = engine.stats()["blocks"]
            for _ in range(20):  # another second
                engine.set_target(rng.standard_normal(8) * 0.5)
                time.sleep(0.05)
            events += engine.events()
            stats = engine.stats()
            spectra = engine.spectra()
        finally:
            engine.stop()
        audio, rate = sf.read(wav)
    errors = [e for e in events if e.get("what") == "audio file"]
    assert len(errors) == 1 and str(wav) in errors[0]["detail"], errors  # (libsndfile says only "System error.")
    assert stats["blocks"] > blocks and stats["errors"] == 0 and len(spectra) and spectra.max() > 0
    assert rate == 48000 and len(audio) > 48000 and audio.std() > 1e-4  # what was written is whole and heard
