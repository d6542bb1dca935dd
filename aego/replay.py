"""``aego replay SESSION -o OUT.wav``: the performance re-rendered offline from its event log.

The event log holds everything the engine was told: every latent target (``action`` events and the
explorer's jumps), every section entered (its space file and crossfade), gain and mute changes, and
the final fade. Replay turns them into the timeline of controls of :mod:`aego.render` and runs the
very same synthesis path (:class:`aego.synth.Synth`), at the sample rate the run used, hop by hop,
writing the WAV as it goes (a session of hours needs no more memory than one of seconds).

Time zero of the file is the first section's entry (the second or so of start-up before it is not
rendered). Rotated logs (installations) are read from their oldest kept part.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aego.errors import UsageError
from aego.session import event_files, read_events


@dataclass
class ReplayPlan:
    """A session turned into a timeline.

    Attributes:
        space: the space the run began with (path or bundled name).
        timeline: the controls (:class:`aego.render.TimelineEvent`), times relative to ``t0``.
        seconds: length to render (to the end of the final fade).
        sample_rate: the run's output rate, Hz.
        t0: the session time of the first section (the file's time zero).
        sections: names of the sections in order.
    """

    space: str
    timeline: list[Any]
    seconds: float
    sample_rate: int
    t0: float
    sections: list[str]
    skipped: int = 0


def plan(folder: str | Path) -> ReplayPlan:
    """Read a session folder into a :class:`ReplayPlan`; UsageError if it cannot be replayed."""
    from aego.render import TimelineEvent

    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"no session folder '{folder}': give the folder a run wrote (with events.jsonl)")
    if not event_files(folder):
        raise UsageError(f"{folder} has no events.jsonl, so there is nothing to replay")
    sample_rate = None
    space = None
    t0 = None
    last_t = 0.0
    fade_end = 0.0
    timeline: list[TimelineEvent] = []
    sections: list[str] = []
    current = None
    skipped = 0
    for e in read_events(folder):
        try:
            t = float(e.get("t", 0.0))
            if not math.isfinite(t):
                raise ValueError("time is not finite")
            event = _timeline_event(e, t)
        except (ValueError, TypeError, KeyError, OverflowError):
            skipped += 1  # a damaged line: the rest of the performance still replays
            continue
        last_t = max(last_t, t)
        kind = e["type"]
        if kind == "cue" and e.get("what") == "start" and event is not None:
            sample_rate = int(event)
            continue
        if kind == "section":
            sections.append(str(e.get("name")))
            path, crossfade, latent = event
            if t0 is None:
                t0, space, current = t, path, path
            elif path != current:
                timeline.append(TimelineEvent(t, "space", path, crossfade_s=crossfade))
                current = path
            if latent is not None:
                timeline.append(TimelineEvent(t, "target", latent))
            continue
        if t0 is None or event is None:
            continue
        timeline.append(event)
        if event.kind == "fade_out":
            fade_end = max(fade_end, t + float(event.value))
    if t0 is None or space is None:
        raise UsageError(f"{folder}: the event log has no section event, so the run never started to play")
    if sample_rate is None:
        sample_rate = _summary_rate(folder)
    if skipped:
        print(f"aego replay: {skipped} damaged event line(s) skipped", file=sys.stderr)
    for event in timeline:
        event.t -= t0
    seconds = max(last_t, fade_end) - t0 + 0.2
    return ReplayPlan(space=str(space), timeline=timeline, seconds=seconds, sample_rate=sample_rate, t0=t0,
                      sections=sections, skipped=skipped)


def _finite(value: Any, low: float, high: float) -> float:
    v = float(value)
    if not (math.isfinite(v) and low <= v <= high):
        raise ValueError(f"{v} is outside {low}-{high}")
    return v


def _timeline_event(e: dict, t: float) -> Any:
    """What one logged event means for the synthesis (ValueError/TypeError/KeyError when it is damaged):
    a sample rate (start), ``(path, crossfade, latent)`` (section), a TimelineEvent, or None."""
    from aego.render import TimelineEvent

    kind, what = e["type"], e.get("what")
    if kind == "cue" and what == "start":
        rate = e.get("sample_rate")
        return None if rate is None else int(_finite(rate, 8000, 384000))
    latent = None
    if "latent" in e and kind in ("section", "action", "cue"):
        latent = np.asarray(e["latent"], dtype=np.float32)
        if latent.ndim != 1 or not np.all(np.isfinite(latent)):
            raise ValueError("latent is not a finite vector")
    if kind == "section":
        path = e.get("path") or e.get("space")
        if not isinstance(path, str) or not path:
            raise ValueError("section without a space")
        return path, _finite(e.get("crossfade", 2.0), 0.0, 600.0), latent
    if latent is not None:
        return TimelineEvent(t, "target", latent)
    if kind == "cue" and what == "gain":
        return TimelineEvent(t, "gain", _finite(e["value"], 0.0, 4.0))
    if kind == "cue" and what == "mute":
        value = e["value"]
        if not isinstance(value, bool | int | float):
            raise TypeError("mute is not a flag")
        return TimelineEvent(t, "mute", bool(value))
    if kind == "end":
        return TimelineEvent(t, "fade_out", _finite(e.get("fade_s", 1.5), 0.0, 600.0))
    if kind == "cue" and what == "resume":
        # a resumed run restarted the engine: the sound came back from the fade
        return TimelineEvent(t, "fade_in", 0.05)
    return None


def _summary_rate(folder: Path) -> int:
    import json

    try:
        return int(_finite(json.loads((folder / "summary.json").read_text())["audio"]["sample_rate"], 8000, 384000))
    except (OSError, ValueError, KeyError, TypeError, OverflowError, RecursionError):
        return 48000


def replay(folder: str | Path, output: str | Path, progress: bool = True) -> dict:
    """Render the session in ``folder`` to the WAV ``output``; returns figures (seconds, sections...)."""
    import soundfile as sf

    from aego.render import hops, timeline_length
    from aego.space import SoundSpace
    from aego.synth import Synth, SynthConfig

    p = plan(folder)
    space = SoundSpace.load(p.space)
    config = SynthConfig(sample_rate=p.sample_rate)
    report: list[dict] = []
    synth = Synth(space, config, report=report.append)
    tf = synth.transform
    delay, n_out, n_hops = timeline_length(synth, p.seconds)
    cache: dict[str, Any] = {p.space: space}

    def load(name: Any) -> Any:
        key = str(name)
        if key not in cache:
            cache[key] = SoundSpace.load(key)
        return cache[key]

    output = Path(output)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        wav = sf.SoundFile(str(output), "w", samplerate=tf.sample_rate, channels=1, subtype="FLOAT")
    except (OSError, RuntimeError) as exc:
        raise UsageError(f"cannot write {output} ({exc}); choose another -o OUT.wav") from None
    steps: Any = hops(synth, p.timeline, n_hops, load, report)
    if progress:
        from tqdm import tqdm

        steps = tqdm(steps, total=n_hops, desc="replay", unit="hop", unit_scale=True, leave=False, mininterval=0.5)
    skip = delay  # samples of latency to drop at the start, as render_timeline does
    written = 0
    block: list[np.ndarray] = []
    with wav:
        for _j, out in steps:
            if skip >= len(out):
                skip -= len(out)
                continue
            out = out[skip:]
            skip = 0
            out = out[: max(0, n_out - written)]
            written += len(out)
            block.append(out.copy())  # next_hop reuses its output buffer
            if len(block) >= 256:
                wav.write(np.concatenate(block))
                block = []
        if block:
            wav.write(np.concatenate(block))
    return {"seconds": written / tf.sample_rate, "sample_rate": tf.sample_rate, "sections": p.sections,
            "targets": sum(1 for e in p.timeline if e.kind == "target"), "errors": len(report)}
