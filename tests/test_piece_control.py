"""Running the piece: OSC controls (CONTRACT §4), /aego/stop, SIGTERM, --duration, --seed, no device/no display."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from piece_support import SUMMARY_KEYS, events, free_port, run, start, summary, wait_for
from pythonosc.udp_client import SimpleUDPClient

pytestmark = pytest.mark.slow


def _entered(evs: list[dict]) -> list[str]:
    return [e["name"] for e in evs if e["type"] == "section"]


def test_osc_controls_and_stop(tmp_path: Path):
    log = tmp_path / "session"
    port = free_port()
    proc = start("perform", log, "--score", "aego", "--seed", "2", listen=port)
    try:
        wait_for(log, lambda evs: len([e for e in evs if e["type"] == "action"]) >= 3)
        osc = SimpleUDPClient("127.0.0.1", port)
        osc.send_message("/aego/dims", 3)
        wait_for(log, lambda evs: any(e.get("what") == "dims" for e in evs))
        osc.send_message("/aego/section", "orchestra-2")
        wait_for(log, lambda evs: "orchestra-2" in _entered(evs))
        osc.send_message("/aego/cue", [])
        osc.send_message("/aego/reward", 0.5)
        osc.send_message("/aego/reward", 7.0)  # clipped to 1
        osc.send_message("/aego/section", "no-such-section")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
            raw.sendto(b"\x00garbage", ("127.0.0.1", port))
        osc.send_message("/aego/gain", 0.5)
        osc.send_message("/aego/pause", 1)
        osc.send_message("/aego/pause", 0)
        wait_for(log, lambda evs: "orchestra-1" in _entered(evs) and sum(e["type"] == "reward" for e in evs) >= 2)
        if shutil.which("oscsend"):
            subprocess.run(["oscsend", "127.0.0.1", str(port), "/aego/stop"], check=True, timeout=10)
        else:
            osc.send_message("/aego/stop", [])
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    evs = events(log)
    assert _entered(evs) == ["toys-1", "orchestra-2", "orchestra-1"]
    dims = next(e for e in evs if e.get("what") == "dims")
    assert dims["value"] == 3
    after_dims = [e for e in evs if e["type"] == "action" and e["t"] > dims["t"] and e["section"] == "toys-1"]
    assert all(len(a["z"]) == 3 for a in after_dims)
    rewards = [e for e in evs if e["type"] == "reward"]
    assert [(r["value"], r["source"]) for r in rewards[:2]] == [(0.5, "osc"), (1.0, "osc")]
    assert any(e["type"] == "error" and "no-such-section" in e.get("message", "") for e in evs)
    assert any(e.get("what") == "gain" and e["value"] == 0.5 for e in evs)
    s = summary(log)
    assert s["ended_by"] == "stop" and s["rewards"] == 2
    assert s["osc"]["malformed"] >= 1 and s["osc"]["received"] >= 10
    assert s["sections"] == ["toys-1", "orchestra-2", "orchestra-1"]


def test_sigterm_ends_cleanly_and_seed_repeats(tmp_path: Path):
    log = tmp_path / "session"
    proc = start("install", log, "--score", "aego", "--seed", "1")
    try:
        wait_for(log, lambda evs: len([e for e in evs if e["type"] == "action"]) >= 8)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    s = summary(log)
    assert set(s) >= SUMMARY_KEYS and s["ended_by"] == "signal"
    # the same seed, another run (at another time scale): the same first moves
    other = tmp_path / "other"
    out = run("play", other, "--score", "aego", "--seed", "1", "--duration", "2")
    assert out.returncode == 0, out.stderr
    assert summary(other)["ended_by"] == "duration"
    first = [(e["dim"], e["dir"]) for e in events(log) if e["type"] == "action"][:8]
    again = [(e["dim"], e["dir"]) for e in events(other) if e["type"] == "action"][:8]
    assert len(first) == 8 and first == again


def test_play_without_device_or_display_writes_audio_and_says_so(tmp_path: Path):
    import soundfile as sf
    from piece_support import env, space_args

    log = tmp_path / "session"
    cmd = [sys.executable, "-m", "aego", "play", "--duration", "2", "--log", str(log), "--console", "off",
           "--osc-listen", f"127.0.0.1:{free_port()}", "--osc-send", f"127.0.0.1:{free_port()}", *space_args()]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=150, env=env())
    assert out.returncode == 0, out.stderr
    if "no audio device" not in out.stderr:
        pytest.skip("this machine has an audio device, so 'aego play' played to it")
    assert "no display" in out.stderr or "no window" in out.stderr
    audio, rate = sf.read(log / "audio.wav")
    assert rate > 0 and len(audio) > rate and float(abs(audio).max()) > 0


def test_bad_space_override_exits_2(tmp_path: Path):
    out = run("play", tmp_path / "s", "--space", f"nowhere={tmp_path / 'x.space'}", timeout=60)
    assert out.returncode == 2
    assert "nowhere" in out.stderr and "Traceback" not in out.stderr


def test_dims_beyond_the_space_are_refused_before_any_sound(tmp_path: Path):
    score = tmp_path / "wide.toml"
    score.write_text('[spaces]\ntoys = "synthetic"\norchestra = "orchestral"\n'
                     '[[section]]\nname = "wide"\nspace = "toys"\ndims = 9\nduration = 10\n')
    wav = tmp_path / "out.wav"
    out = run("play", tmp_path / "session", "--score", str(score), "--audio", f"file:{wav}", timeout=120)
    assert out.returncode == 2, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "wide.toml" in lines[0] and "dims" in lines[0] and "at most 8" in lines[0]
    assert not wav.exists() and not (tmp_path / "session").exists()
