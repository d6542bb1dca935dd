"""Scores: the form of a piece as a TOML file, loaded and checked before any sound.

A score names its sound spaces, then lists sections (space, projection, explored dimensions,
action period and step, how long it lasts or whether it waits for the operator, how the sound
crosses into it) and, optionally, an ending condition (the fixed point: the explorer held within
a radius for ``hold`` seconds). The full schema, every key with its meaning and default, is in
``docs/piece.md``; :func:`load_score` enforces it and every refusal names the file, the key and
what is expected (:class:`aego.errors.ScoreError`).

Times in a score are seconds on the score clock (``--time-scale`` speeds that clock up), except
``crossfade`` which is heard and so stays in real seconds.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from aego.errors import ScoreError

PROJECTIONS = ("ica", "pca", "none")
MAX_DIMS = 64
#: a cue section moves on by itself after this many score seconds in install/play when it has no duration
AUTO_CUE_S = 60.0

_SCORE_KEYS = {"name", "loop", "period", "step", "crossfade", "description"}
_SECTION_KEYS = {"name", "space", "projection", "dims", "period", "step", "duration", "cue", "crossfade",
                 "until", "description"}
_END_KEYS = {"hold", "radius", "sections"}
_TOP_KEYS = {"score", "spaces", "section", "end"}


@dataclass(frozen=True)
class Section:
    """One section of a score.

    Attributes:
        name: unique within the score.
        space: the score-local space name (a key of ``Score.spaces``).
        projection: ``ica``, ``pca`` or ``none`` (the latent axes themselves).
        dims: how many axes of the projection the explorer moves along (from the first).
        period: seconds between explorer actions (real time).
        step: size of one action along one axis, in normalised units ([0, 1] spans the trained zone).
        duration: score seconds before the next section; ``None`` only for cue sections.
        cue: wait for the operator (in install/play: move on after ``duration`` or 60 s anyway).
        crossfade: real seconds of crossfade when this section changes the space.
        until: ``"fixed-point"`` to leave the section as soon as the explorer holds still
            (see :class:`EndCondition` for radius and hold), else ``None``.
    """

    name: str
    space: str
    projection: str = "ica"
    dims: int = 1
    period: float = 0.08
    step: float = 0.01
    duration: float | None = 60.0
    cue: bool = False
    crossfade: float = 2.0
    until: str | None = None


@dataclass(frozen=True)
class EndCondition:
    """The fixed-point ending: the piece ends when the explorer stays within ``radius`` (normalised
    units, on every explored axis) of one point for ``hold`` real seconds (not scaled by ``--time-scale``:
    the performer holds the machine in real time), in one of ``sections``."""

    hold: float
    radius: float = 0.05
    sections: tuple[str, ...] = ()


@dataclass(frozen=True)
class Score:
    """A validated score.

    Attributes:
        name: the score's name.
        path: where it was read from.
        spaces: score-local name -> bundled space name or file path (paths resolved against the score's folder).
        sections: in playing order, at least one.
        loop: start again after the last section instead of ending.
        end: the fixed-point ending, or ``None``.
    """

    name: str
    path: str
    spaces: dict[str, str]
    sections: tuple[Section, ...]
    loop: bool = False
    end: EndCondition | None = None
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def index_of(self, name: str) -> int:
        """The index of the section called ``name``; ``KeyError`` if there is none."""
        for i, section in enumerate(self.sections):
            if section.name == name:
                return i
        raise KeyError(name)

    def total_duration(self) -> float:
        """Score seconds of one pass, counting a cue section as its duration or 60 s."""
        return sum(s.duration if s.duration is not None else AUTO_CUE_S for s in self.sections)


def bundled_scores() -> list[str]:
    """Names of the scores shipped in the package (the ``scores/`` folder)."""
    folder = resources.files("aego.scores")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def resolve_score_path(name_or_path: str) -> Path:
    """A bundled score name (``aego``, ``installation``) or a path to a TOML file -> the file's path."""
    try:
        candidate = Path(name_or_path).expanduser()
        is_file = candidate.is_file()
    except (OSError, RuntimeError, ValueError) as exc:  # a name too long, an unknown ~user, a NUL byte
        raise ScoreError(_one_line(f"score '{name_or_path[:80]}' cannot be opened ({exc}): give a TOML file or one "
                                   f"of the bundled scores ({', '.join(bundled_scores())})")) from None
    if candidate.suffix == ".toml" or "/" in name_or_path or is_file:
        if not is_file:
            raise ScoreError(f"score file '{name_or_path}' not found: give a TOML file or one of the bundled "
                             f"scores ({', '.join(bundled_scores())})")
        return candidate
    bundled = resources.files("aego.scores") / f"{name_or_path}.toml"
    if not bundled.is_file():
        raise ScoreError(f"no bundled score called '{name_or_path}': use one of {', '.join(bundled_scores())} "
                         "or the path of a TOML file")
    return Path(str(bundled))


def load_score(name_or_path: str) -> Score:
    """Read and validate a score; raises :class:`ScoreError` naming file, key and what is expected."""
    path = resolve_score_path(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScoreError(f"{path}: cannot read the score ({exc})") from None
    return parse_score(text, str(path))


def parse_score(text: str, source: str = "<score>") -> Score:
    """Validate the TOML ``text`` of a score; ``source`` names it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScoreError(_one_line(f"{source}: not valid TOML ({exc})")) from None
    except RecursionError:
        raise ScoreError(f"{source}: values nested too deeply for a score") from None
    try:
        return _Validator(source).score(data)
    except ScoreError as exc:
        raise ScoreError(_one_line(str(exc))) from None


def _one_line(message: str) -> str:
    """Keys and values quoted from a score may hold line breaks: a refusal stays one line."""
    return message.replace("\r", "\\r").replace("\n", "\\n")


class _Validator:
    """Checks one score's data; every message starts with the file and names the key."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.folder = Path(source).parent if source and not source.startswith("<") else Path.cwd()

    def fail(self, key: str, expected: str, got: Any = None, *, show_got: bool = True) -> ScoreError:
        tail = f", got {got!r}" if show_got else ""
        return ScoreError(f"{self.source}: '{key}' must be {expected}{tail}")

    def unknown(self, table: dict, allowed: set[str], where: str) -> None:
        for key in table:
            if key not in allowed:
                raise ScoreError(f"{self.source}: unknown key '{where}{key}' (expected one of: "
                                 f"{', '.join(sorted(allowed))})")

    def number(self, table: dict, key: str, where: str, default: float | None, *, low: float, high: float,
               low_open: bool = True) -> float | None:
        if key not in table:
            return default
        value = table[key]
        try:
            finite = not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
        except OverflowError:  # an integer beyond any float
            finite = False
        if not finite:
            raise self.fail(where + key, f"a number of seconds/units between {low:g} and {high:g}", value)
        if (value <= low if low_open else value < low) or value > high:
            bound = "above" if low_open else "at least"
            raise self.fail(where + key, f"{bound} {low:g} and at most {high:g}", value)
        return float(value)

    def boolean(self, table: dict, key: str, where: str, default: bool) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(where + key, "true or false", value)
        return value

    def text(self, table: dict, key: str, where: str, default: str | None = None) -> str:
        if key not in table:
            if default is None:
                raise ScoreError(f"{self.source}: '{where}{key}' is missing (a text value is expected)")
            return default
        value = table[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where + key, "a non-empty text", value)
        return value.strip()

    def score(self, data: dict) -> Score:
        self.unknown(data, _TOP_KEYS, "")
        head = data.get("score", {})
        if not isinstance(head, dict):
            raise self.fail("score", "a table ([score])", head)
        self.unknown(head, _SCORE_KEYS, "score.")
        name = self.text(head, "name", "score.", Path(self.source).stem or "score")
        loop = self.boolean(head, "loop", "score.", False)
        period = self.number(head, "period", "score.", 0.08, low=0.005, high=10.0)
        step = self.number(head, "step", "score.", 0.01, low=0.0, high=0.5)
        crossfade = self.number(head, "crossfade", "score.", 2.0, low=0.0, high=60.0, low_open=False)
        description = head.get("description", "")
        if not isinstance(description, str):
            raise self.fail("score.description", "a text", description)

        spaces = self.spaces(data.get("spaces"))
        raw_sections = data.get("section")
        if not isinstance(raw_sections, list) or not raw_sections:
            raise ScoreError(f"{self.source}: 'section' is missing: a score needs at least one [[section]] "
                             "table with name, space and duration (or cue = true)")
        sections: list[Section] = []
        names: set[str] = set()
        for i, raw in enumerate(raw_sections):
            section = self.section(raw, i, spaces, period, step, crossfade)  # type: ignore[arg-type]
            if section.name in names:
                raise ScoreError(f"{self.source}: 'section[{i}].name' must be unique, "
                                 f"'{section.name}' is used twice")
            names.add(section.name)
            sections.append(section)
        end = self.end(data.get("end"), [s.name for s in sections])
        if any(s.until == "fixed-point" for s in sections) and end is None:
            raise ScoreError(f"{self.source}: a section has until = \"fixed-point\" but there is no [end] table "
                             "with 'hold' (seconds) and 'radius' to define the fixed point")
        return Score(name=name, path=self.source, spaces=spaces, sections=tuple(sections), loop=loop, end=end,
                     description=description)

    def spaces(self, table: Any) -> dict[str, str]:
        if table is None:
            raise ScoreError(f"{self.source}: 'spaces' is missing: add a [spaces] table mapping names to bundled "
                             "spaces or files, e.g. a = \"synthetic\"")
        if not isinstance(table, dict) or not table:
            raise self.fail("spaces", "a table of name = \"space name or path\"", table)
        out: dict[str, str] = {}
        for key, value in table.items():
            if not isinstance(value, str) or not value.strip():
                raise self.fail(f"spaces.{key}", "a bundled space name (synthetic, orchestral) or a file path",
                                value)
            value = value.strip()
            if "/" in value or value.endswith(".space"):
                try:
                    path = Path(value).expanduser()
                    if not path.is_absolute():
                        path = self.folder / path
                    exists = path.is_file()
                except (OSError, RuntimeError, ValueError):  # too long, an unknown ~user, a NUL byte
                    exists = False
                    path = Path(value)
                if not exists:
                    raise self.fail(f"spaces.{key}", "an existing sound-space file", str(path)[:300])
                value = str(path)
            out[key] = value
        return out

    def section(self, raw: Any, i: int, spaces: dict[str, str], period: float | None, step: float | None,
                crossfade: float | None) -> Section:
        where = f"section[{i}]."
        if not isinstance(raw, dict):
            raise self.fail(f"section[{i}]", "a table ([[section]])", raw)
        self.unknown(raw, _SECTION_KEYS, where)
        name = self.text(raw, "name", where, f"section-{i + 1}")
        where = f"section[{i}] ({name})."
        space = self.text(raw, "space", where)
        if space not in spaces:
            raise self.fail(where + "space", f"one of the names in [spaces] ({', '.join(spaces)})", space)
        projection = raw.get("projection", "ica")
        if projection not in PROJECTIONS:
            raise self.fail(where + "projection", "one of ica, pca, none", projection)
        dims = raw.get("dims", 1)
        if isinstance(dims, bool) or not isinstance(dims, int) or not 1 <= dims <= MAX_DIMS:
            raise self.fail(where + "dims", f"a whole number from 1 to the space's latent size (≤ {MAX_DIMS})", dims)
        cue = self.boolean(raw, "cue", where, False)
        duration = self.number(raw, "duration", where, None, low=0.0, high=1e7)
        if duration is None and not cue:
            raise ScoreError(f"{self.source}: '{where}duration' is missing: give the section's length in score "
                             "seconds, or cue = true to wait for the operator")
        until = raw.get("until")
        if until is not None and until != "fixed-point":
            raise self.fail(where + "until", "\"fixed-point\" (the only condition so far)", until)
        return Section(
            name=name,
            space=space,
            projection=projection,
            dims=dims,
            period=self.number(raw, "period", where, period, low=0.005, high=10.0),  # type: ignore[arg-type]
            step=self.number(raw, "step", where, step, low=0.0, high=0.5),  # type: ignore[arg-type]
            duration=duration,
            cue=cue,
            crossfade=self.number(raw, "crossfade", where, crossfade, low=0.0, high=60.0,  # type: ignore[arg-type]
                                  low_open=False),
            until=until,
        )

    def end(self, raw: Any, names: list[str]) -> EndCondition | None:
        if raw is None:
            return None
        if not isinstance(raw, dict):
            raise self.fail("end", "a table ([end]) with hold and radius", raw)
        self.unknown(raw, _END_KEYS, "end.")
        if "hold" not in raw:
            raise ScoreError(f"{self.source}: 'end.hold' is missing: the seconds the explorer must stay on "
                             "a fixed point for the piece to end")
        hold = self.number(raw, "hold", "end.", None, low=0.0, high=1e6)
        radius = self.number(raw, "radius", "end.", 0.05, low=0.0, high=1.0)
        sections = raw.get("sections", [names[-1]])
        if isinstance(sections, str):
            sections = [sections]
        if not isinstance(sections, list) or not sections:
            raise self.fail("end.sections", "a list of section names", sections)
        for s in sections:
            if s not in names:
                raise self.fail("end.sections", f"names of sections of this score ({', '.join(names)})", s)
        return EndCondition(hold=hold, radius=radius, sections=tuple(sections))  # type: ignore[arg-type]
