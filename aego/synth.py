"""The synthesis path: latent target → glide → decode → magnitudes at the device rate → phase → overlap-add.

One :class:`Synth` turns a stream of control changes (latent targets, space changes, gain, mute, fades)
into audio, one synthesis hop at a time. The live engine calls :meth:`Synth.next_hop` from its synthesis
thread; offline rendering (:mod:`aego.render`) calls exactly the same code, so a rendered timeline sounds
like the live run that produced it.

Per hop (``hop = n_fft / redundancy`` samples at the device rate):

1. every voice glides its latent position towards its target (one-pole, time constant ``glide_s``);
2. decodes it to linear magnitudes in the space's transform (the space's NumPy frame decoder);
3. moves them onto the synthesis transform's bins (:class:`MagnitudeMap`);
4. gets a phase by RTPGHI (:mod:`aego.pghi`), optionally with one frame of look-ahead. A peak decoder
   needs none: its partials are drawn with their own running phases and its noise envelope shapes a
   running noise (:mod:`aego.partials`; held back a frame with look-ahead, so the timing is the same);
5. inverse FFT and overlap-add with the dual window (:class:`aego.istft.OverlapAdd`).

Voices are mixed with equal-power crossfades (a space change starts a new voice and fades the old
ones out); then gain (ramped), mute and fades apply, and the result is clipped to ±1.

Bad control values never stop the sound: a NaN/inf target is refused, a target far outside the space's
trained range is clamped, a decoder error gives a silent frame; each is reported once per burst through
the ``report`` callback as an event dict.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba import njit

from aego.istft import OverlapAdd, synthesis_transform
from aego.partials import Partials, noise_loop
from aego.pghi import RTPGHI
from aego.transform import Transform


@dataclass
class SynthConfig:
    """How the engine synthesises.

    Attributes:
        sample_rate: output rate, Hz (the device's).
        redundancy: ``n_fft / hop`` of the synthesis (32: hop 3 ms at 48 kHz; see docs/engine.md for why).
        lookahead: RTPGHI with one frame of look-ahead (one hop later, better phase).
        glide_s: time constant of the glide towards a new latent target, seconds.
        ramp_s: time of gain and mute ramps, seconds (so they never click).
        gain: initial output gain (linear).
        clamp_margin: targets are clamped to the trained range widened by this many range widths.
        tol: RTPGHI's relative magnitude tolerance.
        phase: ``"partials"``: a peak decoder's partials keep their own phases and its noise envelope shapes
            a noise (:mod:`aego.partials`); ``"rtpghi"``: every frame phased from its magnitudes by RTPGHI,
            as for a decoder of bins (for comparison).
    """

    sample_rate: int = 48000
    redundancy: int = 32
    lookahead: bool = True
    glide_s: float = 0.03
    ramp_s: float = 0.02
    gain: float = 0.8
    clamp_margin: float = 1.0
    tol: float = 1e-5
    phase: str = "partials"


@njit(cache=True, nogil=True)
def _map_bins(src: np.ndarray, index: np.ndarray, frac: np.ndarray, gain: float, copy: np.ndarray,
              log_src: np.ndarray, out: np.ndarray, out_log: np.ndarray) -> bool:
    """Map ``src`` onto the target bins (linear ``out`` and natural-log ``out_log``, ``-inf`` for zeros),
    copying ``src`` into ``copy`` on the way; ``False`` (outputs unspecified) if ``src`` holds NaN/inf."""
    n = src.shape[0]
    for i in range(n):
        v = src[i]
        if not math.isfinite(v):
            return False
        copy[i] = v
        log_src[i] = math.log(v) if v > 0.0 else -math.inf
    log_gain = math.log(gain)
    last = n - 1
    for j in range(out.shape[0]):
        i = index[j]
        f = frac[j]
        if i < 0 or (i >= last and f != 0.0):
            out[j] = 0.0
            out_log[j] = -math.inf
        elif i >= last:
            out[j] = src[last] * gain
            out_log[j] = log_src[last] + log_gain
        else:
            a, b = src[i], src[i + 1]
            if a > 0.0 and b > 0.0:
                # geometric: a Gaussian peak is a parabola in log-magnitude, kept nearly exact
                lv = (1.0 - f) * log_src[i] + f * log_src[i + 1] + log_gain
                out[j] = math.exp(lv)
                out_log[j] = lv
            else:
                v = (a * (1.0 - f) + b * f) * gain
                out[j] = v
                out_log[j] = math.log(v) if v > 0.0 else -math.inf
    return True


@njit(cache=True, nogil=True)
def _copy_finite(src: np.ndarray, dst: np.ndarray) -> bool:
    """``dst[:] = src`` if every value is finite (else ``False``, ``dst`` unspecified); shapes must match."""
    if src.shape[0] != dst.shape[0]:
        return False
    for i in range(src.shape[0]):
        v = src[i]
        if not math.isfinite(v):
            return False
        dst[i] = v
    return True


@njit(cache=True, nogil=True)
def _glide(z: np.ndarray, target: np.ndarray, alpha: float, z32: np.ndarray) -> None:
    """One-pole step of ``z`` towards ``target`` (in place), and a float32 copy for the decoder."""
    for i in range(z.shape[0]):
        z[i] += alpha * (target[i] - z[i])
        z32[i] = z[i]


@njit(cache=True, nogil=True)
def _finish(mix: np.ndarray, env: np.ndarray, use_env: bool, level: float, out: np.ndarray) -> bool:
    """``out = clip(mix · (env if use_env else level), ±1)`` as float32; ``True`` if anything clipped."""
    clipped = False
    for i in range(out.shape[0]):
        v = mix[i] * (env[i] if use_env else level)
        if v > 1.0:
            v = 1.0
            clipped = True
        elif v < -1.0:
            v = -1.0
            clipped = True
        out[i] = v
    return clipped


class MagnitudeMap:
    """Magnitudes from one transform's bins onto another's (precomputed, no allocation per frame).

    Interpolates in log-magnitude (geometrically): the Gaussian window's peaks are parabolas there, so a
    sinusoid's peak keeps its shape and stays a consistent STFT frame at the new rate (linear interpolation
    flattens narrow peaks, which costs several dB of phase-reconstruction quality). Levels are rescaled by
    the ratio of the window sums, as :func:`aego.transform.map_magnitudes` does.
    """

    def __init__(self, source: Transform, target: Transform) -> None:
        f_src = source.frequencies()
        f_dst = target.frequencies()
        step = f_src[1] - f_src[0]
        pos = f_dst / step
        index = np.floor(pos).astype(np.int64)
        frac = pos - index
        index[f_dst > f_src[-1] + 1e-9] = -1  # above the source's Nyquist: silent
        self.index = index
        self.frac = frac
        self.gain = float(target.window().sum() / source.window().sum())
        self.out = np.zeros(target.bins)
        self.out_log = np.zeros(target.bins)
        self.source = np.zeros(source.bins, dtype=np.float32)
        self._log_src = np.zeros(source.bins)

    def __call__(self, mags: np.ndarray) -> np.ndarray:
        """Args: mags ``(source.bins,)``. Returns ``(target.bins,)`` float64 (reused buffer)."""
        if not self.load(np.asarray(mags)):
            self.out[:] = 0.0
        return self.out

    def load(self, mags: np.ndarray) -> bool:
        """Map ``mags`` ``(source.bins,)`` into :attr:`out` (linear), :attr:`out_log` (natural log, ``-inf``
        where silent) and keep a float32 copy in :attr:`source`. ``False`` when ``mags`` holds NaN/inf."""
        return bool(_map_bins(mags, self.index, self.frac, self.gain, self.source, self._log_src, self.out,
                              self.out_log))


class Voice:
    """One space being played: its decoder, glide, phase and overlap-add state.

    Args:
        space: a :class:`aego.space.SoundSpace`.
        synthesis: the synthesis transform (device rate, synthesis hop).
        config: the synth configuration.
        start: initial latent position ``(d,)`` (default: the median of the encoded training points).
        noise: the synth's white noise loop (:func:`aego.partials.noise_loop`), for a peak decoder's envelope.
        seed: the voice's partial phases and where it reads the noise.
    """

    def __init__(self, space: Any, synthesis: Transform, config: SynthConfig, start: np.ndarray | None = None,
                 noise: np.ndarray | None = None, seed: int = 0):
        self.space = space
        self.synthesis = synthesis
        self.decode = space.frame_decoder()
        self.map = MagnitudeMap(space.transform, synthesis)
        # A peak decoder names its partials: they are drawn with their own phases, RTPGHI phases the rest.
        partial_decoder = getattr(space, "partial_decoder", None)
        use_partials = partial_decoder is not None and config.phase == "partials"
        self.decode_partials = partial_decoder() if use_partials else None
        self.partials: Partials | None = None
        if self.decode_partials is not None:
            self.env_map = MagnitudeMap(space.transform, synthesis)
            self.partials = Partials(synthesis, space.transform, 2 * int(space.config.half_peaks) + 1,
                                     float(space.config.sigma_bins), delay=1 if config.lookahead else 0,
                                     seed=seed, noise=noise)
        self.pghi = RTPGHI(synthesis, lookahead=config.lookahead, tol=config.tol)
        self.ola = OverlapAdd(synthesis)
        d = space.latent_dim
        bounds = np.asarray(space.latent_bounds, dtype=np.float64).reshape(d, 2)
        width = np.maximum(bounds[:, 1] - bounds[:, 0], 1e-6)
        self.low = bounds[:, 0] - config.clamp_margin * width
        self.high = bounds[:, 1] + config.clamp_margin * width
        if start is None:
            points = np.asarray(space.points)
            # the centre needs no more than ~20 000 points; a big space's 400 000 would hold the GIL for tens of ms
            stride = max(1, len(points) // 20_000)
            start = np.median(np.asarray(points[::stride], dtype=np.float64), axis=0)
        self.z = np.asarray(start, dtype=np.float64).reshape(d).copy()
        self.z32 = self.z.astype(np.float32)
        self.target = self.z.copy()
        self.alpha = 1.0 - math.exp(-synthesis.hop / (synthesis.sample_rate * max(config.glide_s, 1e-4)))
        self.keep_inverted = False  # offline rendering records the magnitudes it inverts
        self.level = 0.0  # crossfade position in [0, 1]; amplitude is sin(level·π/2)
        self.level_target = 1.0
        self.level_step = 1.0  # per hop
        self.mags = self.map.source  # last decoded frame (space bins), float32
        self.silent = np.zeros(synthesis.bins)
        self.silent_spectrum = np.zeros(synthesis.bins, dtype=np.complex128)
        self.decode_errors = 0
        self.reported_errors = 0
        self.last_error = ""
        self.inverted: np.ndarray = self.silent  # magnitudes of the frame inverted by the last step
        self.decoded: np.ndarray = self.silent  # the decoder's magnitudes of that frame (at the synthesis bins)
        self._decoded: list[np.ndarray] = []

    @property
    def latent_dim(self) -> int:
        return int(self.space.latent_dim)

    def place(self, z: np.ndarray) -> None:
        """Put the voice at ``z`` ``(d,)``, with no glide (a voice not yet sounding)."""
        self.z[:] = z
        self.z32[:] = self.z
        self.target[:] = self.z

    def step(self) -> np.ndarray:
        """Glide, decode, phase, overlap-add. Returns ``(hop,)`` float64 (reused buffer)."""
        _glide(self.z, self.target, self.alpha, self.z32)
        partials = self.partials
        errors = self.decode_errors
        try:
            if partials is not None:
                frame = self.decode_partials(self.z32)
                mags = frame.mags
                finite = math.isfinite(frame.width) and np.isfinite(frame.freqs).all()
                if not finite or not np.isfinite(frame.heights).all():
                    raise ValueError("the decoder gave partials with NaN/inf")
                # The shape first: the compiled copies below write as many values as they are given. The frame
                # itself is only shown (and, offline, recorded at the synthesis bins): copied, not mapped.
                if (mags.shape != self.mags.shape
                        or not (self.map.load(mags) if self.keep_inverted else _copy_finite(mags, self.mags))
                        or not self.env_map.load(frame.envelope)):
                    raise ValueError("the decoder gave a frame of the wrong shape or with NaN/inf")
                partials.push(frame.freqs, frame.heights, frame.width, self.env_map.out)
                spectrum = partials.frame()
            else:
                mags = self.decode(self.z32)
                if mags.shape != self.mags.shape or not self.map.load(mags):
                    raise ValueError("the decoder gave a frame of the wrong shape or with NaN/inf")
                spectrum = self.pghi.push(self.map.out, self.map.out_log)
        except Exception as exc:  # a broken model must not stop the sound: one silent frame, counted
            self.decode_errors += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            self.mags[:] = 0.0
            if partials is not None:
                partials.silence()
                spectrum = partials.frame()
            else:
                spectrum = self.pghi.push(self.silent)
        if spectrum is None:  # look-ahead filling: the first hop of a voice is silent
            spectrum = self.silent_spectrum
        if self.keep_inverted:
            self.inverted = np.abs(spectrum)
            if partials is None:  # RTPGHI keeps the magnitudes it is given
                self.decoded = self.inverted
            else:  # the decoder's magnitudes of the frame sounded (held back as the frames are)
                self._decoded.append(self.map.out.copy() if self.decode_errors == errors else self.silent)
                self.decoded = self._decoded.pop(0) if len(self._decoded) > partials.delay else self.silent
        return self.ola.push(spectrum)


@dataclass
class _Ramp:
    """A value moving linearly to a target at a fixed rate per sample."""

    value: float
    target: float
    step: float = 1.0

    def set(self, target: float, seconds: float, sample_rate: int) -> None:
        self.target = float(target)
        n = max(1.0, seconds * sample_rate)
        self.step = max(abs(self.target - self.value) / n, 1e-12)

    def fill(self, out: np.ndarray) -> None:
        """Write the next ``len(out)`` values into ``out`` and advance."""
        n = len(out)
        if self.value == self.target:
            out[:] = self.value
            return
        direction = 1.0 if self.target > self.value else -1.0
        ramp = self.value + direction * self.step * np.arange(1, n + 1)
        if direction > 0:
            np.minimum(ramp, self.target, out=out)
        else:
            np.maximum(ramp, self.target, out=out)
        self.value = float(out[-1])


@dataclass
class SynthStats:
    """Counters of the synthesis path (plain numbers, for the engine's stats)."""

    hops: int = 0
    refused: int = 0
    clamped: int = 0
    decode_errors: int = 0
    clipped: int = 0
    crossfades: int = 0
    frame_s: list[float] = field(default_factory=list)


def warm_up(space: Any, config: SynthConfig) -> None:
    """Load (or compile) every kernel of the live path and make the FFT plans before the first hop.

    Plays a few hops of throw-away synths of ``space`` both ways of phasing, and draws a few frames of
    partials at its synthesis transform even when ``space`` has a decoder of bins: a peak space may come
    later in the piece, and loading a kernel on the synthesis thread took 3-6 ms a hop. Numba compiles per
    type, not per size, so a later space with another transform needs nothing more.
    """
    from dataclasses import replace

    for phase in ("partials", "rtpghi"):
        synth = Synth(space, replace(config, phase=phase))
        for _ in range(8):
            synth.next_hop()
    transform = synth.transform
    # what only the other kind of space, or a decoder error, would call
    _copy_finite(np.zeros(4, np.float32), np.zeros(4, np.float32))
    RTPGHI(transform, lookahead=config.lookahead, tol=config.tol).push(np.zeros(transform.bins))
    rng = np.random.default_rng(0)
    for delay in (0, 1):
        partials = Partials(transform, transform, count=5, sigma_bins=2.0, delay=delay)
        for _ in range(4):
            freqs = rng.uniform(100.0, 2000.0, 5)
            partials.push(freqs, rng.uniform(0.0, 0.1, 5), 1.0, np.full(transform.bins, 1e-4))
            partials.frame()


class Synth:
    """The synthesis path for one output stream.

    Args:
        space: the initial :class:`aego.space.SoundSpace`.
        config: sample rate, redundancy, look-ahead, glide, ramps, gain.
        report: called with an event dict (``{"type": "error"|"info", "what": ..., ...}``) on bad input;
            never called more than once per kind per second.
        display: the transform of the spectrum frames given to the visuals (default: the space's).
    """

    MAX_VOICES = 3

    def __init__(self, space: Any, config: SynthConfig | None = None,
                 report: Callable[[dict[str, Any]], None] | None = None,
                 display: Transform | None = None) -> None:
        self.config = config or SynthConfig()
        self.transform = synthesis_transform(space.transform, self.config.sample_rate, self.config.redundancy)
        self.hop = self.transform.hop
        self.sample_rate = self.config.sample_rate
        self.report = report or (lambda event: None)
        self.display = display or space.transform
        self._noise = noise_loop(self.transform)  # one for every voice: not made again at each space change
        self._voices_made = 1
        self.voices: list[Voice] = [Voice(space, self.transform, self.config, noise=self._noise)]
        self.voices[0].level = 1.0
        self.gain = _Ramp(self.config.gain, self.config.gain)
        self.mute = _Ramp(1.0, 1.0)
        self.fade = _Ramp(1.0, 1.0)
        self.stats = SynthStats()
        self.record = False  # offline rendering: voices keep the magnitudes they invert
        self._mix = np.zeros(self.hop)
        self._env = np.zeros(self.hop)
        self._tmp = np.zeros(self.hop)
        self._out = np.zeros(self.hop, dtype=np.float32)
        self.level = self.config.gain  # output level (gain · mute · fade) at the end of the last hop
        self.spectrum = np.zeros(self.display.bins, dtype=np.float32)
        self._display_maps: dict[Transform, MagnitudeMap] = {}
        self._last_report: dict[str, float] = {}

    # -- controls (applied between hops) ------------------------------------------------------------

    @property
    def space(self) -> Any:
        """The space heard last (the newest voice)."""
        return self.voices[-1].space

    @property
    def latent(self) -> np.ndarray:
        """The newest voice's current (glided) latent position, ``(d,)``."""
        return self.voices[-1].z.copy()

    def _event(self, kind: str, what: str, **detail: Any) -> None:
        now = time.monotonic()
        if now - self._last_report.get(what, -1e9) < 1.0:
            return
        self._last_report[what] = now
        self.report({"type": kind, "what": what, **detail})

    def set_target(self, latent: Any) -> bool:
        """Glide towards ``latent`` (``(d,)`` of the newest voice's space).

        Returns:
            ``False`` when the target is refused (wrong size, NaN/inf): the previous one is kept.
        """
        voice = self.voices[-1]
        try:
            z = np.asarray(latent, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            z = np.full(1, np.nan)
        if z.shape != (voice.latent_dim,) or not np.isfinite(z).all():
            self.stats.refused += 1
            shape = list(z.shape)
            self._event("error", "latent refused", detail=f"a latent target must be {voice.latent_dim} finite "
                        f"numbers, got shape {shape}" + ("" if np.isfinite(z).all() else " with NaN/inf"))
            return False
        clamped = np.clip(z, voice.low, voice.high)
        if not np.array_equal(clamped, z):
            self.stats.clamped += 1
            self._event("error", "latent clamped", detail="a latent target far outside the trained range was "
                        "clamped", latent=[round(float(v), 4) for v in z])
        voice.target[:] = clamped
        return True

    def _next_seed(self) -> int:
        self._voices_made += 1
        return self._voices_made

    def prepare_voice(self, space: Any) -> Voice:
        """What is costly about a new space, for a thread other than the synthesis thread to do: its decoder,
        magnitude maps and phase state, the median of its points and a first decode (milliseconds to tens of
        milliseconds for a big space: the synthesis thread would starve the audio). Pass the result to
        :meth:`set_space`."""
        voice = Voice(space, self.transform, self.config, noise=self._noise, seed=self._next_seed())
        voice.decode(voice.z32)
        if space.transform != self.display and space.transform not in self._display_maps:
            self._display_maps[space.transform] = MagnitudeMap(space.transform, self.display)
        return voice

    def set_space(self, space: Any, crossfade_s: float = 2.0, latent: Any = None, voice: Voice | None = None) -> None:
        """Crossfade (equal power, ``crossfade_s`` seconds) to a new space, starting at ``latent`` (default:
        the current position if the sizes match, else the new space's centre). ``voice``: the space already
        prepared by :meth:`prepare_voice` (cheap here), else it is prepared now."""
        start = None
        if latent is not None:
            z = np.asarray(latent, dtype=np.float64).reshape(-1)
            if z.shape == (space.latent_dim,) and np.isfinite(z).all():
                start = z
        elif space.latent_dim == self.voices[-1].latent_dim:
            start = self.voices[-1].target.copy()
        if voice is None or voice.space is not space or voice.synthesis != self.transform:
            voice = Voice(space, self.transform, self.config, start, noise=self._noise, seed=self._next_seed())
        elif start is not None:
            voice.place(start)
        voice.keep_inverted = self.record
        hops = max(1.0, float(crossfade_s) * self.sample_rate / self.hop)
        for old in self.voices:
            old.level_target = 0.0
            old.level_step = 1.0 / hops
        voice.level = 0.0
        voice.level_target = 1.0
        voice.level_step = 1.0 / hops
        self.voices.append(voice)
        while len(self.voices) > self.MAX_VOICES:
            self.voices.pop(0)
        self.stats.crossfades += 1

    def set_gain(self, gain: float) -> bool:
        """Output gain, linear, clipped to [0, 2]; NaN refused."""
        g = float(gain)
        if not math.isfinite(g):
            self._event("error", "gain refused", detail="the gain must be a finite number")
            return False
        self.gain.set(min(max(g, 0.0), 2.0), self.config.ramp_s, self.sample_rate)
        return True

    def set_mute(self, muted: bool) -> None:
        self.mute.set(0.0 if muted else 1.0, self.config.ramp_s, self.sample_rate)

    def panic(self) -> None:
        """Silence within one hop (mute; unmute with ``set_mute(False)``), and drop every fading voice."""
        self.mute.set(0.0, self.hop / self.sample_rate, self.sample_rate)
        self.voices = self.voices[-1:]

    def fade_out(self, seconds: float) -> None:
        self.fade.set(0.0, max(float(seconds), 0.0), self.sample_rate)

    def fade_in(self, seconds: float) -> None:
        self.fade.set(1.0, max(float(seconds), 0.0), self.sample_rate)

    @property
    def faded_out(self) -> bool:
        """True once a fade-out or mute has reached silence."""
        faded = self.fade.value == 0.0 and self.fade.target == 0.0
        return faded or (self.mute.value == 0.0 and self.mute.target == 0.0)

    # -- audio --------------------------------------------------------------------------------------

    def _display(self, voice: Voice) -> np.ndarray:
        if voice.space.transform == self.display:
            return voice.mags
        m = self._display_maps.get(voice.space.transform)
        if m is None:
            m = self._display_maps[voice.space.transform] = MagnitudeMap(voice.space.transform, self.display)
        return m(voice.mags)

    def _check_errors(self, voice: Voice) -> None:
        if voice.decode_errors > voice.reported_errors:
            self.stats.decode_errors += voice.decode_errors - voice.reported_errors
            voice.reported_errors = voice.decode_errors
            self._event("error", "decode failed", detail=voice.last_error)

    def next_hop(self) -> np.ndarray:
        """The next ``hop`` output samples, ``(hop,)`` float32 in [-1, 1] (reused buffer).

        :attr:`spectrum` then holds the decoded magnitudes heard in this hop, ``(display.bins,)``, scaled by
        the output level.
        """
        voices = self.voices
        if len(voices) == 1 and voices[0].level == voices[0].level_target == 1.0:
            # The usual case, one voice in full: no mixing buffers.
            voice = voices[0]
            mix = voice.step()
            self._check_errors(voice)
            self.spectrum[:] = self._display(voice)
        else:
            mix = self._mix
            mix[:] = 0.0
            self.spectrum[:] = 0.0
            n = self.hop
            for voice in list(voices):
                samples = voice.step()
                start = voice.level
                if voice.level != voice.level_target:
                    delta = voice.level_target - voice.level
                    voice.level += math.copysign(min(abs(delta), voice.level_step), delta)
                if start == voice.level == 1.0:
                    mix += samples
                    self.spectrum += self._display(voice)
                else:
                    lv = np.linspace(start, voice.level, n, endpoint=False) if start != voice.level else start
                    mix += samples * np.sin(0.5 * np.pi * lv)
                    self.spectrum += self._display(voice) * np.float32(math.sin(0.5 * math.pi * voice.level))
                self._check_errors(voice)
            # A faded-out voice no longer sounds: drop it (its history is not needed any more).
            self.voices = [v for v in voices if v.level > 0.0 or v.level_target > 0.0] or voices[-1:]
        ramps = (self.gain, self.mute, self.fade)
        if all(r.value == r.target for r in ramps):
            level = self.gain.value * self.mute.value * self.fade.value
            clipped = _finish(mix, self._env, False, level, self._out)
        else:
            self.gain.fill(self._env)
            self.mute.fill(self._tmp)
            self._env *= self._tmp
            self.fade.fill(self._tmp)
            self._env *= self._tmp
            level = float(self._env[-1])
            clipped = _finish(mix, self._env, True, 1.0, self._out)
        self.level = level
        self.spectrum *= np.float32(level)
        if clipped:
            self.stats.clipped += 1
        self.stats.hops += 1
        return self._out
