"""The operator's keys and MIDI map to the contract's controls; the console draws; MIDI never fails a run."""

from __future__ import annotations

import time

import mido
from aego.sensors.events import Control, Reward

from aego.console import ConsoleState, render
from aego.operator import MidiInput, Operator, OperatorState


def _addresses(items):
    return [(i.address, i.args) if isinstance(i, Control) else ("reward", i.value) for i in items]


def test_keys_map_to_controls():
    op = Operator(OperatorState(period=0.08, gain=0.8), ["a", "b"])
    assert _addresses(op.key("n", 0.0)) == [("/aego/cue", ())]
    assert _addresses(op.key("return", 0.0)) == [("/aego/cue", ())]
    assert _addresses(op.key("3", 0.0)) == [("/aego/dims", (3,))]
    assert _addresses(op.key("space", 0.0)) == [("/aego/pause", (1,))]
    op.state.paused = True
    assert _addresses(op.key(" ", 0.0)) == [("/aego/pause", (0,))]
    assert _addresses(op.key("e", 0.0)) == [("/aego/explore", ())]
    assert _addresses(op.key("z", 0.0)) == [("/aego/zone", (1.0,))]
    assert _addresses(op.key("x", 0.0)) == [("/aego/zone", (-1.0,))]
    (slower,) = op.key("[", 0.0)
    assert slower.args[0] > 0.08
    (louder,) = op.key(".", 0.0)
    assert louder.args[0] > 0.8
    assert _addresses(op.key("0", 0.0)) == [("/aego/mute", (1,))]
    assert op.key("w", 0.0) == []


def test_stop_needs_two_presses():
    op = Operator()
    first = op.key("Q", 10.0)
    assert first[0].address == "/aego/notice"
    assert _addresses(op.key("Q", 11.0)) == [("/aego/stop", ())]
    assert op.key("Q", 20.0)[0].address == "/aego/notice"  # too late: armed again, not stopped
    assert op.key("q", 20.5) == []  # lower-case q does nothing
    assert op.key("escape", 30.0)[0].address == "/aego/notice"
    assert _addresses(op.key("escape", 30.5)) == [("/aego/stop", ())]


def test_midi_map():
    op = Operator(OperatorState(), ["one", "two", "three"])
    assert _addresses(op.midi(mido.Message("note_on", note=60, velocity=90), 0.0)) == [("/aego/cue", ())]
    assert _addresses(op.midi(mido.Message("note_on", note=60, velocity=0), 0.0)) == []
    assert _addresses(op.midi(mido.Message("note_on", note=37, velocity=90), 0.0)) == [("/aego/section", ("two",))]
    assert op.midi(mido.Message("note_on", note=45, velocity=90), 0.0) == []  # no tenth section
    assert _addresses(op.midi(mido.Message("control_change", control=1, value=0), 0.0)) == [("/aego/dims", (1,))]
    assert _addresses(op.midi(mido.Message("control_change", control=1, value=127), 0.0)) == [("/aego/dims", (8,))]
    assert _addresses(op.midi(mido.Message("control_change", control=7, value=127), 0.0)) == [("/aego/gain", (2.0,))]
    assert _addresses(op.midi(mido.Message("control_change", control=64, value=127), 0.0)) == [("/aego/pause", (1,))]
    (like,) = op.midi(mido.Message("note_on", note=72, velocity=100), 0.0)
    assert isinstance(like, Reward) and like.value == 1.0 and like.source == "midi"


def test_an_absent_midi_port_never_fails():
    ok, reason = MidiInput(None, time.monotonic).open()
    assert not ok and "not given" in reason
    ok, reason = MidiInput("no-such-port-xyz", time.monotonic).open()
    assert not ok and reason
    MidiInput("auto", time.monotonic).close()


def test_console_renders_every_part():
    from rich.console import Console

    state = ConsoleState(mode="perform", score="aego", section="toys-2", section_index=1, sections=8, elapsed=42.0,
                         remaining=108.0, space="toys", projection="ica", dims=2, period=0.08, position=(0.2, 0.7),
                         actions=120, reward=-0.4, reward_source="imu", rewards=9,
                         sensors=[{"id": "left", "state": "left", "rate_hz": 200.0}],
                         audio={"backend": "jack", "sample_rate": 48000, "load": 0.12, "underflows": 0},
                         hold=0.5, notices=["sensor right: stale"], session="/tmp/s")
    console = Console(width=120, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(render(state))
    text = console.export_text()
    for expected in ("toys-2", "[2/8]", "0:42", "1:48 left", "dims 2", "0.20 0.70", "-0.40 imu", "left",
                     "load 12 %", "underflows 0", "stale", "next section", "fixed point"):
        assert expected in text, expected
