"""Offline rendering through exactly the live synthesis path: timelines, trajectories, morphs, cross-synthesis.

:func:`render_timeline` is the one entry point: a list of timed controls (latent targets, space changes,
gain, mute, fades) applied hop by hop to a :class:`aego.synth.Synth`, as the engine applies them live.
``aego render``, ``aego morph``, ``aego cross`` and the session replay build a timeline and call it.

Time alignment: the output is trimmed by the synthesis latency (half a window, plus one hop with
look-ahead), so a control at time ``t`` is heard from about ``t`` on in the file, and frame ``m`` of
:attr:`Rendering.magnitudes` is the frame centred on sample ``m * hop`` of the audio (the frame a
re-analysis with :attr:`Rendering.transform` lines up with).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aego.errors import UsageError
from aego.synth import Synth, SynthConfig
from aego.transform import Transform

KINDS = ("target", "space", "gain", "mute", "fade_out", "fade_in", "panic")


@dataclass
class TimelineEvent:
    """One timed control.

    Attributes:
        t: seconds from the start of the rendering.
        kind: ``"target"`` (value: latent ``(d,)``), ``"space"`` (value: a SoundSpace, a bundled name or a
            path; ``crossfade_s``; optional ``latent`` start), ``"gain"`` (float), ``"mute"`` (bool),
            ``"fade_out"`` / ``"fade_in"`` (seconds), ``"panic"`` (no value).
        value: see ``kind``.
        crossfade_s: for ``"space"``: crossfade length, seconds.
        latent: for ``"space"``: where the new space starts (default: current position or centre).
    """

    t: float
    kind: str
    value: Any = None
    crossfade_s: float = 2.0
    latent: Any = None


@dataclass
class Rendering:
    """What :func:`render_timeline` gives back.

    Attributes:
        audio: ``(samples,)`` float32 in [-1, 1] at ``transform.sample_rate``.
        transform: the synthesis transform (rate, FFT size, synthesis hop, window).
        magnitudes: ``(frames, bins)`` float32, the magnitudes as decoded (mapped to the synthesis bins, times
            the output level); frame ``m`` is centred on audio sample ``m * transform.hop``.
        drawn: ``(frames, bins)`` float32, the magnitudes of the frames the engine inverted, the same frames.
            With RTPGHI they are the decoded magnitudes; a peak decoder's frames are its partials with their
            own phases (two close partials beat, a gliding one spreads) and its noise envelope shaping a noise
            (:mod:`aego.partials`). ``None`` if not recorded.
        latents: ``(frames, d)`` float32, the newest voice's glided latent position at each frame.
        events: the events the synthesis reported (refused/clamped targets, decode errors, failed spaces).
    """

    audio: np.ndarray
    transform: Transform
    magnitudes: np.ndarray
    latents: np.ndarray
    events: list[dict[str, Any]] = field(default_factory=list)
    drawn: np.ndarray | None = None

    def save_frames(self, path: str | Path) -> None:
        """Write CONTRACT §8's frames file: magnitudes, sample_rate, n_fft, hop, window (+ latents)."""
        np.savez_compressed(
            path,
            magnitudes=self.magnitudes,
            sample_rate=np.int64(self.transform.sample_rate),
            n_fft=np.int64(self.transform.n_fft),
            hop=np.int64(self.transform.hop),
            window=np.array(self.transform.window_name),
            latents=self.latents,
        )


def render_timeline(
    space: Any,
    timeline: Iterable[TimelineEvent],
    seconds: float,
    config: SynthConfig | None = None,
    load_space: Callable[[Any], Any] | None = None,
    progress: bool = False,
) -> Rendering:
    """Render ``seconds`` of audio from a timeline of controls, through the live synthesis path.

    Args:
        space: the initial :class:`aego.space.SoundSpace` (or a bundled name / path, loaded with ``load_space``).
        timeline: events in any order (sorted here by ``t``, stable).
        seconds: length of the output, seconds.
        config: synthesis configuration; its ``sample_rate`` is the output rate (default: the space's rate).
        load_space: turns a ``"space"`` event's value into a SoundSpace when it is not one already
            (default :meth:`aego.space.SoundSpace.load`). A space that fails to load is reported in
            ``events`` and the previous space keeps playing, as live.
        progress: show a progress bar (tqdm).

    Returns:
        A :class:`Rendering`.
    """
    from aego.space import SoundSpace

    load = load_space or SoundSpace.load
    if not isinstance(space, SoundSpace) and not hasattr(space, "frame_decoder"):
        space = load(space)
    if config is None:
        config = SynthConfig(sample_rate=space.transform.sample_rate)
    events: list[dict[str, Any]] = []
    synth = Synth(space, config, report=events.append)
    synth.record = True
    for voice in synth.voices:
        voice.keep_inverted = True
    tf = synth.transform
    hop = tf.hop
    lead = 1 if config.lookahead else 0
    delay, n_out, n_hops = timeline_length(synth, seconds)
    audio = np.zeros(n_hops * hop, dtype=np.float32)
    mags = np.zeros((n_hops, tf.bins), dtype=np.float32)
    drawn = np.zeros((n_hops, tf.bins), dtype=np.float32)
    latents = np.zeros((n_hops, space.latent_dim), dtype=np.float32)
    steps: Iterable[tuple[int, np.ndarray]] = hops(synth, timeline, n_hops, load, events)
    if progress:
        from tqdm import tqdm

        steps = tqdm(steps, total=n_hops, desc="render", unit="hop", leave=False)
    # Single-frame decodes are small matrix products: BLAS threads only add contention.
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        for j, out in steps:
            audio[j * hop : (j + 1) * hop] = out
            heard = np.zeros(tf.bins)
            meant = np.zeros(tf.bins)
            for voice in synth.voices:
                heard += voice.inverted * np.sin(0.5 * np.pi * voice.level)
                meant += voice.decoded * np.sin(0.5 * np.pi * voice.level)
            drawn[j] = heard * synth.level
            mags[j] = meant * synth.level
            z = synth.voices[-1].z
            latents[j, : min(len(z), latents.shape[1])] = z[: latents.shape[1]]
    frames = 1 + n_out // hop
    return Rendering(
        audio=audio[delay : delay + n_out].copy(),
        transform=tf,
        magnitudes=mags[lead : lead + frames].copy(),
        latents=latents[lead : lead + frames].copy(),
        events=events,
        drawn=drawn[lead : lead + frames].copy(),
    )


def timeline_length(synth: Synth, seconds: float) -> tuple[int, int, int]:
    """``(delay, n_out, n_hops)`` for rendering ``seconds`` through ``synth``: the samples from a control
    being applied to its being heard at the centre of its frame, the output length in samples, and the
    hops to run so that the last output sample is produced."""
    tf = synth.transform
    lead = 1 if synth.config.lookahead else 0
    delay = tf.n_fft // 2 + lead * tf.hop
    n_out = max(0, round(seconds * tf.sample_rate))
    return delay, n_out, -(-(n_out + delay) // tf.hop) + 1


def hops(synth: Synth, timeline: Iterable[TimelineEvent], n_hops: int, load: Callable[[Any], Any],
         events: list[dict[str, Any]]) -> Iterator[tuple[int, np.ndarray]]:
    """Run ``synth`` for ``n_hops`` hops, applying each timeline event (sorted by ``t``, stable) once its
    time has come; yields ``(j, audio)`` for hop ``j`` (``synth.transform.hop`` samples, a buffer the next
    hop reuses: copy it to keep it)."""
    tf = synth.transform
    pending = sorted(timeline, key=lambda e: e.t)
    i = 0
    for j in range(n_hops):
        now = j * tf.hop / tf.sample_rate
        while i < len(pending) and pending[i].t <= now:
            _apply(synth, pending[i], load, events)
            i += 1
        yield j, synth.next_hop()


def _apply(synth: Synth, event: TimelineEvent, load: Callable[[Any], Any], events: list[dict[str, Any]]) -> None:
    kind = event.kind
    if kind == "target":
        synth.set_target(event.value)
    elif kind == "space":
        try:
            space = event.value if hasattr(event.value, "frame_decoder") else load(event.value)
        except Exception as exc:  # the previous space keeps playing, as in the live engine
            events.append({"type": "error", "what": "space not loaded", "detail": str(exc)})
            return
        synth.set_space(space, event.crossfade_s, event.latent)
    elif kind == "gain":
        synth.set_gain(event.value)
    elif kind == "mute":
        synth.set_mute(bool(event.value))
    elif kind == "fade_out":
        synth.fade_out(float(event.value))
    elif kind == "fade_in":
        synth.fade_in(float(event.value))
    elif kind == "panic":
        synth.panic()
    else:
        events.append({"type": "error", "what": "unknown timeline event", "detail": kind})


# -- trajectories ------------------------------------------------------------------------------------

def trajectory(space: Any, kind: str, seconds: float, seed: int = 0, step_s: float = 0.05) -> list[TimelineEvent]:
    """Latent targets for ``aego render``.

    Args:
        kind: ``random`` (one dimension at a time, ±5 % of its trained range every ``step_s``, like the
            explorer), ``line`` (between two random points), ``circle`` (one turn in the plane of the first two
            principal axes), or a CSV file path (see :func:`read_csv_trajectory`).
        seconds: length, seconds.

    Returns:
        ``"target"`` events, in time order.
    """
    if kind not in ("random", "line", "circle"):
        return read_csv_trajectory(kind, space.latent_dim, seconds)
    rng = np.random.default_rng(seed)
    n = max(2, int(seconds / step_s) + 1)
    times = np.arange(n) * step_s
    d = space.latent_dim
    if kind == "circle":
        proj = space.projection("pca")
        angle = 2 * np.pi * times / max(seconds, 1e-9)
        u = np.full((n, proj.dims if hasattr(proj, "dims") else d), 0.5)
        u[:, 0] = 0.5 + 0.4 * np.cos(angle)
        if u.shape[1] > 1:
            u[:, 1] = 0.5 + 0.4 * np.sin(angle)
    else:
        proj = space.projection("none")
        if kind == "line":
            a, b = rng.uniform(0.1, 0.9, d), rng.uniform(0.1, 0.9, d)
            w = (times / max(seconds, 1e-9))[:, None]
            u = a + (b - a) * w
        else:
            u = np.empty((n, d))
            u[0] = rng.uniform(0.25, 0.75, d)
            for i in range(1, n):
                u[i] = u[i - 1]
                dim = rng.integers(d)
                u[i, dim] = np.clip(u[i, dim] + rng.choice((-0.05, 0.05)), 0.0, 1.0)
    z = proj.to_latent(proj.denormalise(u))
    return [TimelineEvent(float(t), "target", np.asarray(zi, dtype=np.float32)) for t, zi in zip(times, z, strict=True)]


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def read_csv_trajectory(path: str | Path, dims: int, seconds: float) -> list[TimelineEvent]:
    """A trajectory from a CSV file.

    Each row is ``t, z0, …, z{d-1}`` (``d + 1`` numbers: time in seconds, then latent coordinates) or
    ``z0, …, z{d-1}`` (``d`` numbers: spread evenly over ``seconds``). An optional first header row is
    skipped. Raises :class:`UsageError` naming the line for anything else.
    """
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"the trajectory '{path}' is neither random, line, circle nor a CSV file")
    rows: list[list[float]] = []
    try:
        with open(p, newline="") as f:
            for number, row in enumerate(csv.reader(f), start=1):
                cells = [c.strip() for c in row if c.strip()]
                if not cells or cells[0].startswith("#"):
                    continue
                try:
                    values = [float(c) for c in cells]
                except ValueError:
                    if number == 1 and not rows:
                        continue  # a header
                    shown = ','.join(cells)[:60].encode('unicode_escape').decode('ascii')
                    raise UsageError(f"{path}, line {number}: '{shown}' is not a row of numbers") from None
                if len(values) not in (dims, dims + 1):
                    raise UsageError(f"{path}, line {number}: {len(values)} numbers; give {dims} latent coordinates "
                                     f"or t plus {dims} coordinates per row")
                if not np.isfinite(values).all() or np.abs(values).max() > _FLOAT32_MAX:
                    raise UsageError(f"{path}, line {number}: a NaN, infinite or out-of-range value")
                rows.append(values)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise UsageError(f"cannot read the trajectory '{path}': {reason}") from None
    if not rows:
        raise UsageError(f"{path}: no rows of latent coordinates")
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        raise UsageError(f"{path}: every row must have the same number of columns")
    data = np.asarray(rows, dtype=np.float64)
    if data.shape[1] == dims + 1:
        times, z = data[:, 0], data[:, 1:]
        if np.any(np.diff(times) < 0):
            raise UsageError(f"{path}: the times in the first column must not go backwards")
    else:
        times, z = np.linspace(0.0, seconds if len(data) > 1 else 0.0, len(data)), data
    return [TimelineEvent(float(t), "target", zi.astype(np.float32)) for t, zi in zip(times, z, strict=True)]


# -- morph and cross-synthesis -----------------------------------------------------------------------

def read_sound(path: str | Path) -> tuple[np.ndarray, int]:
    """Mono float32 audio and its rate; :class:`UsageError` if unreadable or empty."""
    import soundfile as sf

    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:
        reason = str(exc).splitlines()[0][:160]
        raise UsageError(f"cannot read the sound '{path}': {reason}; give a WAV/FLAC/OGG file") from None
    if audio.shape[0] == 0:
        raise UsageError(f"the sound '{path}' is empty")
    if not np.isfinite(audio).all():
        raise UsageError(f"the sound '{path}' holds NaN or infinite samples; export it again")
    return audio.mean(axis=1), int(rate)


def sound_latent(space: Any, audio: np.ndarray, rate: int) -> np.ndarray:
    """One latent point for a whole sound: the mean of its frames' codes, weighted by frame energy, ``(d,)``."""
    from aego.space import resample

    mags = space.transform.stft_magnitudes(resample(audio, rate, space.transform.sample_rate))
    codes = space.encode(mags)
    energy = (mags.astype(np.float64) ** 2).sum(axis=1)
    if energy.sum() <= 0:
        return codes.mean(axis=0)
    return (codes * (energy / energy.sum())[:, None]).sum(axis=0).astype(np.float32)


def morph_timeline(points: Sequence[np.ndarray], seconds: float, step_s: float = 0.02) -> list[TimelineEvent]:
    """Targets moving piecewise-linearly through ``points`` (``(d,)`` each) in ``seconds``, equal time per segment."""
    pts = np.asarray(points, dtype=np.float64)
    n = max(2, int(seconds / step_s) + 1)
    times = np.linspace(0.0, seconds, n)
    pos = times / max(seconds, 1e-9) * (len(pts) - 1)
    seg = np.minimum(pos.astype(int), len(pts) - 2)
    w = (pos - seg)[:, None]
    z = pts[seg] * (1 - w) + pts[seg + 1] * w
    return [TimelineEvent(float(t), "target", zi.astype(np.float32)) for t, zi in zip(times, z, strict=True)]


def cross_timeline(space: Any, audio: np.ndarray, rate: int) -> tuple[list[TimelineEvent], float]:
    """Targets following an outside sound's frame-by-frame codes; returns (timeline, seconds)."""
    from aego.space import resample

    resampled = resample(audio, rate, space.transform.sample_rate)
    codes = space.encode(space.transform.stft_magnitudes(resampled))
    hop_s = space.transform.hop / space.transform.sample_rate
    seconds = len(resampled) / space.transform.sample_rate
    return [TimelineEvent(i * hop_s, "target", z) for i, z in enumerate(codes)], seconds


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int) -> None:
    """16-bit PCM WAV (an unwritable path is a :class:`UsageError`)."""
    import soundfile as sf

    try:
        sf.write(str(path), np.asarray(audio, dtype=np.float32), int(sample_rate), subtype="PCM_16")
    except Exception as exc:
        raise UsageError(f"cannot write '{path}': {str(exc).splitlines()[0][:160]}") from None
