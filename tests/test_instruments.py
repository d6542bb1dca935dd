"""The orchestral plan and its FluidSynth rendering: real notes at the right pitch and dynamics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _pitch import cents, yin_f0

from aego.errors import UsageError
from aego.instruments import (
    BY_NAME,
    DEFAULT_SOUNDFONT,
    DYNAMICS,
    HOLD,
    INSTRUMENTS,
    RELEASE,
    SAMPLE_RATE,
    Note,
    NoteRenderer,
    check_soundfont,
    full_plan,
    midi_to_hz,
    note_name,
    random_plan,
)

TIMGM = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")


@pytest.fixture(scope="module")
def synth():
    with NoteRenderer() as r:
        yield r


def test_plan_covers_twelve_instruments_over_their_ranges_at_four_dynamics():
    assert len(INSTRUMENTS) == 12
    assert set(DYNAMICS) == {"pp", "p", "mf", "ff"}
    velocities = [DYNAMICS[d] for d in ("pp", "p", "mf", "ff")]
    assert velocities == sorted(velocities) and all(1 <= v <= 127 for v in velocities)
    plan = full_plan()
    assert len(plan) == 4 * sum(i.high - i.low + 1 for i in INSTRUMENTS)
    assert len(set(plan)) == len(plan)
    # GM programs (0-based) of the thesis' instruments; the piano over its 88 keys.
    assert {i.name: i.program for i in INSTRUMENTS}["piano"] == 0
    assert BY_NAME["piano"].pitches == range(21, 109)
    assert BY_NAME["flute"].program == 73 and BY_NAME["oboe"].program == 68 and BY_NAME["cello"].program == 42
    # Transposing instruments sound below their written range: clarinet in Bb written E3 sounds D3.
    assert BY_NAME["clarinet_bb"].low == 50 and BY_NAME["english_horn"].low == 52 and BY_NAME["alto_sax"].low == 49
    for inst in INSTRUMENTS:
        assert 21 <= inst.low < inst.high <= 108


def test_random_plan_stays_in_range_and_is_reproducible():
    notes = random_plan(200, seed=5)
    assert notes == random_plan(200, seed=5)
    assert notes != random_plan(200, seed=6)
    for n in notes:
        inst = BY_NAME[n.instrument]
        assert inst.low <= n.pitch <= inst.high and n.program == inst.program and DYNAMICS[n.dynamic] == n.velocity
    assert len({n.instrument for n in notes}) == 12 and len({n.dynamic for n in notes}) == 4


def test_note_names_and_frequencies():
    assert note_name(60) == "C4" and note_name(69) == "A4" and note_name(61) == "C#4" and note_name(21) == "A0"
    assert midi_to_hz(69) == pytest.approx(440.0) and midi_to_hz(57) == pytest.approx(220.0)


@pytest.mark.parametrize(
    ("instrument", "pitch"),
    [("flute", 69), ("cello", 48), ("trumpet_c", 67), ("clarinet_bb", 58), ("piano", 45), ("bassoon", 43),
     ("violin", 76), ("french_horn", 53)],
)
def test_rendered_note_has_the_midi_pitch(synth, instrument, pitch):
    inst = BY_NAME[instrument]
    audio = synth.render(Note(instrument, inst.program, pitch, "mf", DYNAMICS["mf"]))
    assert audio.shape == (round((HOLD + RELEASE) * SAMPLE_RATE),) and audio.dtype == np.float32
    sustain = audio[int(0.25 * SAMPLE_RATE): int(0.85 * SAMPLE_RATE)]
    f0 = yin_f0(sustain, SAMPLE_RATE)
    assert abs(cents(f0, midi_to_hz(pitch))) < 15, f"{instrument} {note_name(pitch)}: measured {f0:.2f} Hz"


def test_pitch_estimator_can_tell_a_semitone(synth):
    # The check above is meaningful: a note a semitone away measures ~100 cents off.
    audio = synth.render(Note("flute", 73, 70, "mf", 80))
    f0 = yin_f0(audio[5000:19000], SAMPLE_RATE)
    assert abs(cents(f0, midi_to_hz(69)) - 100) < 15


def test_dynamics_are_louder_in_order_and_release_is_captured(synth):
    levels = []
    for dyn, vel in DYNAMICS.items():
        audio = synth.render(Note("oboe", 68, 69, dyn, vel))
        hold = int(HOLD * SAMPLE_RATE)
        sustain_rms = float(np.sqrt(np.mean(audio[hold // 2: hold] ** 2)))
        tail = audio[hold:]
        assert np.sqrt(np.mean(tail[:500] ** 2)) > 0.05 * sustain_rms  # the release starts from the note
        assert np.sqrt(np.mean(tail[-500:] ** 2)) < 0.05 * sustain_rms  # ... and has died away by the end
        levels.append(sustain_rms)
    assert levels == sorted(levels) and levels[-1] > 3 * levels[0]
    assert max(levels) < 1.0


def test_rendering_is_deterministic_and_notes_do_not_bleed(synth):
    note = Note("violin", 40, 67, "ff", 112)
    first = synth.render(note)
    synth.render(Note("piano", 0, 30, "ff", 112))
    again = synth.render(note)
    np.testing.assert_array_equal(first, again)


@pytest.mark.skipif(not TIMGM.is_file(), reason="timgm6mb-soundfont is not installed (make setup installs it)")
def test_another_soundfont_renders_the_same_plan():
    with NoteRenderer(TIMGM) as other:
        audio = other.render(Note("flute", 73, 69, "mf", 80))
    assert abs(cents(yin_f0(audio[5000:19000], SAMPLE_RATE), 440.0)) < 15


def test_missing_or_foreign_soundfont_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match=r"fluid-soundfont-gm.*--soundfont"):
        check_soundfont(tmp_path / "nope.sf2")
    fake = tmp_path / "fake.sf2"
    fake.write_bytes(b"RIFF\0\0\0\0WAVEfmt junk")
    with pytest.raises(UsageError, match="not a SoundFont 2"):
        NoteRenderer(fake)
    assert check_soundfont(None) == DEFAULT_SOUNDFONT
