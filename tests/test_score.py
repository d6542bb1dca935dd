"""Scores: the bundled ones load; every bad key is refused with file, key and what is expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from aego.errors import ScoreError, UsageError
from aego.score import bundled_scores, load_score, parse_score

GOOD = """
[score]
name = "study"
loop = false

[spaces]
a = "synthetic"
b = "orchestral"

[[section]]
name = "one"
space = "a"
projection = "ica"
dims = 1
period = 0.05
duration = 60

[[section]]
name = "two"
space = "b"
cue = true

[end]
hold = 10
"""


def test_the_contract_example_loads():
    score = parse_score(GOOD, "study.toml")
    assert score.name == "study" and not score.loop
    assert [s.name for s in score.sections] == ["one", "two"]
    one, two = score.sections
    assert (one.space, one.projection, one.dims, one.period, one.duration) == ("a", "ica", 1, 0.05, 60)
    assert two.cue and two.duration is None
    assert score.end is not None and score.end.hold == 10 and score.end.sections == ("two",)


def test_bundled_scores_are_the_piece_and_the_installation():
    assert {"aego", "installation"} <= set(bundled_scores())
    piece = load_score("aego")
    assert [(piece.spaces[s.space], s.dims) for s in piece.sections] == [
        ("synthetic", 1), ("synthetic", 2), ("synthetic", 4), ("synthetic", 8),
        ("orchestral", 8), ("orchestral", 4), ("orchestral", 2), ("orchestral", 1)]
    assert all(s.projection == "ica" for s in piece.sections)
    assert all(0.03 <= s.period <= 0.1 for s in piece.sections)
    assert piece.end is not None and piece.end.sections == (piece.sections[-1].name,)
    assert not piece.loop
    install = load_score("installation")
    assert install.loop and install.end is None


def test_score_by_path(tmp_path: Path):
    path = tmp_path / "mine.toml"
    path.write_text(GOOD)
    assert load_score(str(path)).path == str(path)


@pytest.mark.parametrize(
    ("change", "key", "expected"),
    [
        (("dims = 1", "dims = 0"), "dims", "whole number"),
        (("dims = 1", 'dims = "two"'), "dims", "whole number"),
        (('projection = "ica"', 'projection = "tsne"'), "projection", "ica, pca, none"),
        (("period = 0.05", "period = -1"), "period", "above"),
        (("duration = 60", "duration = 0"), "duration", "above"),
        (("duration = 60", ""), "duration", "missing"),
        (('space = "a"', 'space = "c"'), "space", "[spaces]"),
        (("loop = false", 'loop = "yes"'), "score.loop", "true or false"),
        (("hold = 10", "hold = -2"), "end.hold", "above"),
        (("hold = 10", "hold = 10\nradius = 3"), "end.radius", "at most"),
        (("hold = 10", "hold = 10\nsections = [\"nine\"]"), "end.sections", "names of sections"),
        (("hold = 10", ""), "end.hold", "missing"),
        (("dims = 1", "dims = 1\nspeed = 3"), "speed", "unknown key"),
        (("[end]", "[ending]"), "ending", "unknown key"),
        (("cue = true", 'cue = "yes"'), "cue", "true or false"),
        (('name = "two"', 'name = "one"'), "name", "unique"),
        (("cue = true", 'cue = true\nuntil = "silence"'), "until", "fixed-point"),
        (('a = "synthetic"', 'a = "missing/dir/x.space"'), "spaces.a", "existing sound-space file"),
    ],
)
def test_each_bad_key_is_named(change, key, expected):
    old, new = change
    assert old in GOOD
    with pytest.raises(ScoreError) as exc:
        parse_score(GOOD.replace(old, new, 1), "/scores/study.toml")
    message = str(exc.value)
    assert message.startswith("/scores/study.toml:")
    assert key in message and expected in message
    assert "\n" not in message


def test_not_toml_and_no_sections():
    with pytest.raises(ScoreError, match="not valid TOML"):
        parse_score("[score\nname=1", "x.toml")
    with pytest.raises(ScoreError, match="section"):
        parse_score('[spaces]\na = "synthetic"\n', "x.toml")
    with pytest.raises(ScoreError, match="spaces"):
        parse_score('[[section]]\nname="a"\nspace="a"\nduration=3\n', "x.toml")


def test_unknown_score_names_are_a_usage_error(tmp_path: Path):
    with pytest.raises(UsageError, match="no bundled score called 'nope'"):
        load_score("nope")
    with pytest.raises(UsageError, match="not found"):
        load_score(str(tmp_path / "nope.toml"))


def test_bad_score_exits_2_before_any_sound(tmp_path: Path):
    import subprocess
    import sys

    path = tmp_path / "bad.toml"
    path.write_text(GOOD.replace("dims = 1", "dims = 0"))
    out = subprocess.run([sys.executable, "-m", "aego", "play", "--score", str(path), "--audio", "null",
                          "--no-window", "--log", str(tmp_path / "s")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "bad.toml" in out.stderr and "dims" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "s" / "audio.wav").exists()
