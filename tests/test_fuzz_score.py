"""Fuzzing the score parser: random text, random TOML documents built from the schema's keys, and the
bundled scores mutated (bytes flipped, lines dropped or doubled, values swapped for values of other types).

The only acceptable outcomes: a valid Score, or ScoreError (a UsageError: one line naming the file and
the key). Anything else would be a traceback instead of a clear refusal before any sound.

The tests at the end pin refusals the fuzzing found raising other exceptions (huge integers, deep
nesting, over-long and unresolvable paths, keys with line breaks), all fixed since.
"""

from __future__ import annotations

import json
import math
from importlib import resources

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aego.errors import ScoreError, UsageError
from aego.score import MAX_DIMS, PROJECTIONS, Score, load_score, parse_score

FUZZ = settings(max_examples=600, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])

BUNDLED = {name: (resources.files("aego.scores") / f"{name}.toml").read_text(encoding="utf-8")
           for name in ("aego", "installation")}


def outcome(text: str, source: str = "fuzz.toml") -> Score | None:
    """Parse; return the Score, or None after a clear refusal. Any other exception fails the test."""
    try:
        score = parse_score(text, source)
    except ScoreError as exc:
        message = str(exc)
        assert message.startswith(source), message
        return None
    check_score(score)
    return score


def check_score(score: Score) -> None:
    """A Score that got through is usable as it stands."""
    assert score.sections
    names = [s.name for s in score.sections]
    assert len(set(names)) == len(names)
    for s in score.sections:
        assert s.space in score.spaces
        assert s.projection in PROJECTIONS
        assert isinstance(s.dims, int) and 1 <= s.dims <= MAX_DIMS
        assert math.isfinite(s.period) and s.period > 0
        assert math.isfinite(s.step) and s.step > 0
        assert s.duration is not None or s.cue
        assert s.duration is None or (math.isfinite(s.duration) and s.duration > 0)
    if score.end is not None:
        assert math.isfinite(score.end.hold) and set(score.end.sections) <= set(names)


# -- a TOML writer for generated documents (tomllib only reads) ------------------------------------------------
def toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # JSON's escapes are TOML basic-string escapes
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


def toml_document(doc: dict) -> str:
    lines = []
    for key, value in doc.items():
        if isinstance(value, dict):
            lines.append(f"[{json.dumps(key)}]")
            lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()]
        elif isinstance(value, list) and value and all(isinstance(x, dict) for x in value):
            for table in value:
                lines.append(f"[[{json.dumps(key)}]]")
                lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in table.items()]
        else:
            lines.append(f"{json.dumps(key)} = {toml_value(value)}")
    return "\n".join(lines) + "\n"


text = st.text(max_size=40) | st.sampled_from(["~", "~nobody-here/x.space", "x" * 300 + ".space", "a/" * 200])
scalar = st.one_of(st.integers(), st.integers(-(10 ** 400), 10 ** 400), st.floats(allow_nan=True, allow_infinity=True),
                   st.booleans(), text, st.sampled_from(["ica", "pca", "none", "fixed-point", "a", "b", "synthetic",
                                                         "orchestral", "one", "two", "x.space", "../x.space"]))
value = st.recursive(scalar, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(text, inner, max_size=3)), max_leaves=8)
SECTION_KEYS = ["name", "space", "projection", "dims", "period", "step", "duration", "cue", "crossfade", "until",
                "description"]


@st.composite
def schema_document(draw: st.DrawFn) -> dict:
    """Mostly the schema's own keys with values of any type, sometimes a stray key or a missing table."""
    def table(keys: list[str]) -> dict:
        chosen = draw(st.lists(st.sampled_from(keys), unique=True, max_size=len(keys)))
        out = {k: draw(value) for k in chosen}
        if draw(st.integers(0, 9)) == 0:
            out[draw(text)] = draw(value)
        return out

    if draw(st.booleans()):  # a valid score with a few values replaced: refusals one key at a time
        doc = {"score": {"name": "s", "loop": False}, "spaces": {"a": "synthetic", "b": "orchestral"},
               "section": [{"name": f"s{i}", "space": "ab"[i % 2], "duration": 10 + i} for i in range(3)],
               "end": {"hold": 5, "radius": 0.1}}
        for _ in range(draw(st.integers(0, 3))):
            where = draw(st.sampled_from(["score", "end", 0, 1, 2]))
            target = doc["section"][where] if isinstance(where, int) else doc[where]
            keys = SECTION_KEYS if isinstance(where, int) else [*target, "sections", "period", "step"]
            target[draw(st.sampled_from(keys))] = draw(value | st.sampled_from([1, 8, 64, 65, 0.005, 10.0, True]))
        return doc
    doc: dict = {}
    if draw(st.booleans()):
        doc["score"] = table(["name", "loop", "period", "step", "crossfade", "description"])
    if draw(st.integers(0, 5)):
        doc["spaces"] = draw(st.dictionaries(st.sampled_from(["a", "b", "c", ""]) | text,
                                             st.sampled_from(["synthetic", "orchestral"]) | value, max_size=3))
    if draw(st.integers(0, 5)):
        sections = []
        for _ in range(draw(st.integers(0, 4))):
            s = table(SECTION_KEYS)
            if draw(st.booleans()):
                s.setdefault("space", draw(st.sampled_from(["a", "b", "z"])))
                s.setdefault("duration", draw(st.sampled_from([1, 60, 0, -1, 1e7, 1e8, 0.001])))
            sections.append(s)
        doc["section"] = sections
    if draw(st.integers(0, 3)) == 0:
        doc["end"] = table(["hold", "radius", "sections"])
    if draw(st.integers(0, 9)) == 0:
        doc[draw(text)] = draw(value)
    return doc


@st.composite
def mutated_score(draw: st.DrawFn) -> str:
    lines = draw(st.sampled_from(sorted(BUNDLED.values()))).splitlines()
    for _ in range(draw(st.integers(1, 5))):
        how = draw(st.sampled_from(["drop", "double", "value", "flip", "cut", "swap"]))
        i = draw(st.integers(0, len(lines) - 1)) if lines else 0
        if how == "drop" and lines:
            del lines[i]
        elif how == "double" and lines:
            lines.insert(i, lines[i])
        elif how == "value" and lines and "=" in lines[i]:
            key = lines[i].split("=", 1)[0]
            lines[i] = f"{key}= {toml_value(draw(value))}"
        elif how == "flip" and lines and lines[i]:
            j = draw(st.integers(0, len(lines[i]) - 1))
            lines[i] = lines[i][:j] + chr(ord(lines[i][j]) ^ (1 << draw(st.integers(0, 6)))) + lines[i][j + 1:]
        elif how == "cut":
            lines = lines[:i]
        elif how == "swap" and len(lines) > 1:
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
    return "\n".join(lines)


# -- tests --------------------------------------------------------------------------------------------------------
def test_bundled_scores_are_the_valid_starting_points() -> None:
    for text_ in BUNDLED.values():
        assert outcome(text_) is not None


@pytest.mark.timeout(120)
@FUZZ
@given(st.text(max_size=400))
def test_random_text(doc: str) -> None:
    outcome(doc)


@pytest.mark.timeout(120)
@settings(FUZZ, max_examples=300)
@given(schema_document())
def test_random_toml_documents_of_the_schema(doc: dict) -> None:
    outcome(toml_document(doc))


@pytest.mark.timeout(120)
@FUZZ
@given(mutated_score())
def test_bundled_scores_mutated(doc: str) -> None:
    outcome(doc)


@pytest.mark.timeout(60)
def test_score_files_that_are_not_text(tmp_path) -> None:
    """The file loader: binary, empty, a folder, a missing file: ScoreError, never a traceback."""
    (tmp_path / "bin.toml").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "empty.toml").write_bytes(b"")
    (tmp_path / "dir.toml").mkdir()
    (tmp_path / "utf16.toml").write_text(BUNDLED["aego"], encoding="utf-16")
    for name in ("bin.toml", "empty.toml", "dir.toml", "utf16.toml", "missing.toml"):
        with pytest.raises(ScoreError):
            load_score(str(tmp_path / name))


# -- found by fuzzing, fixed: one line, ScoreError ---------------------------------------------------------------
def _refused_cleanly(doc: str) -> None:
    with pytest.raises(UsageError):
        parse_score(doc, "fuzz.toml")


MINIMAL = '[spaces]\na = "synthetic"\n[[section]]\nname = "one"\nspace = "a"\n'


def test_huge_integer_is_refused_cleanly() -> None:
    _refused_cleanly(MINIMAL + "duration = 1" + "0" * 400 + "\n")


def test_deeply_nested_value_is_refused_cleanly() -> None:
    _refused_cleanly(MINIMAL + "duration = 5\ndescription = " + "[" * 5000 + "]" * 5000 + "\n")


def test_overlong_space_path_is_refused_cleanly() -> None:
    _refused_cleanly(MINIMAL.replace('"synthetic"', '"' + "x" * 300 + '.space"') + "duration = 5\n")


def test_unknown_home_in_space_path_is_refused_cleanly() -> None:
    _refused_cleanly(MINIMAL.replace('"synthetic"', '"~nobody-here-at-all/x.space"') + "duration = 5\n")


def test_overlong_score_name_is_refused_cleanly() -> None:
    with pytest.raises(UsageError):
        load_score("x" * 300)


def test_refusal_is_one_line_whatever_the_key() -> None:
    with pytest.raises(ScoreError) as info:
        parse_score('[spaces]\n"a\\nb" = 0\n', "fuzz.toml")
    assert "\n" not in str(info.value)
