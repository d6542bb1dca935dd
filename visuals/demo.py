"""A demonstration picture: an agent-like walk drawn as the audience would see it.

``python -m aego.visuals.demo docs/screenshot.png`` renders the screenshot of the documentation.
It walks the bundled ``synthetic`` space when it is installed (decoded spectra, exactly what the
engine would sound) and otherwise the FM toy family the space is trained on, one small step along
one parameter every 50 ms, like the explorer does.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from aego.errors import UsageError


def _lobes(freqs: np.ndarray, amps: np.ndarray, transform) -> np.ndarray:
    """Linear magnitudes of stationary sinusoids seen through the Gaussian-window STFT, ``(bins,)``."""
    bins = transform.bins
    centres = np.abs(freqs) * transform.n_fft / transform.sample_rate
    # A Gaussian window's transform is a Gaussian of std n_fft / (2π σ) bins; the peak is A·Σw/2.
    width = transform.n_fft / (2 * np.pi * transform.window_std)
    peak = transform.window().sum() / 2
    k = np.arange(bins)[:, None]
    return (np.abs(amps)[None, :] * peak * np.exp(-0.5 * ((k - centres[None, :]) / width) ** 2)).sum(axis=1)


def toy_walk(frames: int, seed: int = 0, frames_per_action: int = 2, step: float = 0.004):
    """Spectra of a random walk through FM tone parameters: ``(frames, bins)`` float32, and the walk's state.

    Returns:
        ``(spectra, positions, actions)``: positions ``(frames, 3)`` in ``[0, 1]`` (f0, ratio, index),
        actions ``(frames, 2)`` (dim, direction) of the step that led there.
    """
    from aego.toy_sounds import FMParams, fm_sidebands
    from aego.transform import Transform

    transform = Transform()
    rng = np.random.default_rng(seed)
    u = np.array([0.45, 0.35, 0.2])
    dim, direction = 2, 1
    spectra = np.empty((frames, transform.bins), np.float32)
    positions = np.empty((frames, 3))
    actions = np.zeros((frames, 2), int)
    for m in range(frames):
        if m % frames_per_action == 0:
            if rng.random() < 0.04:  # now and then the walk turns, like a greedy agent changing its mind
                dim, direction = int(rng.integers(3)), int(rng.choice((-1, 1)))
            u[dim] = np.clip(u[dim] + step * direction, 0, 1)
            if u[dim] in (0.0, 1.0):
                direction = -direction
        params = FMParams(f0=60 * 10 ** u[0], ratio=0.5 + 2.5 * u[1], index=12 * u[2])
        freqs, amps = fm_sidebands(params, transform.sample_rate)
        spectra[m] = 0.5 * _lobes(freqs, amps, transform) + 1e-3
        positions[m] = u
        actions[m] = (dim, direction)
    return spectra, positions, actions, transform


def space_walk(space, frames: int, seed: int = 0, frames_per_action: int = 2, step: float = 0.004):
    """Spectra of a random walk in a sound space along its ICA axes, like :func:`toy_walk`."""
    rng = np.random.default_rng(seed)
    projection = space.projection("ica")
    dims = min(4, space.latent_dim)
    u = np.full(space.latent_dim, 0.5)
    dim, direction = 0, 1
    positions = np.empty((frames, dims))
    actions = np.zeros((frames, 2), int)
    for m in range(frames):
        if m % frames_per_action == 0:
            if rng.random() < 0.04:
                dim, direction = int(rng.integers(dims)), int(rng.choice((-1, 1)))
            u[dim] = np.clip(u[dim] + step * direction, 0, 1)
            if u[dim] in (0.0, 1.0):
                direction = -direction
        positions[m] = u[:dims]
        actions[m] = (dim, direction)
    full = np.tile(u, (frames, 1))
    full[:, :dims] = positions
    latents = projection.to_latent(projection.denormalise(full)).astype(np.float32)
    return np.asarray(space.decode(latents), np.float32), positions, actions, space.transform


def _legend() -> tuple[str, ...]:
    """The rehearsal key legend as the run shows it."""
    try:
        from aego.sensors.keyboard import LEGEND
    except ImportError:
        return ("up / down  like / dislike",)
    return tuple(f"{key}  {meaning}" for key, meaning in LEGEND)


def render_demo(path: str, width: int = 1280, height: int = 720, seed: int = 0) -> str:
    """Draw the demonstration picture offscreen (EGL) and save it as a PNG; returns what was walked."""
    from aego.visuals.headless import OffscreenTarget, create_headless_context, write_png
    from aego.visuals.overlay import OverlayState
    from aego.visuals.spectrogram import SpectrogramRenderer

    frames = width
    points = None
    try:
        from aego.space import SoundSpace

        space = SoundSpace.load("synthetic")
        spectra, positions, actions, transform = space_walk(space, frames, seed)
        projection = space.projection("ica")
        points = projection.normalise(projection.to_coords(np.asarray(space.points)[:3000]))[:, :2]
        source, space_name = "the synthetic space", "synthetic"
    except (ImportError, UsageError):
        spectra, positions, actions, transform = toy_walk(frames, seed)
        rng = np.random.default_rng(seed + 1)
        # A stand-in training set: three clusters, so trained and untrained zones both show.
        centres = np.array([[0.3, 0.35], [0.65, 0.6], [0.45, 0.8]])
        points = centres[rng.integers(0, 3, 3000)] + rng.normal(0, 0.09, (3000, 2))
        source, space_name = "FM toy tones (the synthetic space is not installed)", "toy-fm"
    section = f"grow-{positions.shape[1]}"
    ctx = create_headless_context()
    target = OffscreenTarget(ctx, width, height)
    renderer = SpectrogramRenderer(ctx, width, height, transform.bins, transform.sample_rate)
    renderer.set_map(np.clip(points, 0, 1))
    dims = positions.shape[1]
    rng = np.random.default_rng(seed + 2)
    for m in range(0, frames, 2):
        renderer.push(spectra[m:m + 2])
        step = m // 2
        renderer.set_overlay(OverlayState(position=tuple(positions[m, :2])))  # the path on the map
    step = frames // 2
    estimates = np.round(rng.normal(0.0, 0.25, 2 * dims), 2)
    renderer.set_overlay(OverlayState(
        mode="rehearse", elapsed=frames * transform.hop / transform.sample_rate, space=space_name,
        section=section, projection="ica", dims=dims, period=0.05, step=step,
        action=(int(actions[-1, 0]), int(actions[-1, 1])), position=tuple(positions[-1]), reward=0.5,
        reward_source="keyboard", estimates=tuple(estimates), novelty=0.37, sensors="keyboard",
        audio_load=0.18, underflows=0,
        keys=_legend()))
    renderer.render(target.fbo)
    write_png(path, target.read())
    renderer.release()
    target.release()
    ctx.release()
    return source


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aego.visuals.demo", description=__doc__.splitlines()[0])
    parser.add_argument("out", help="PNG file to write")
    parser.add_argument("--size", default="1280x720", help="WIDTHxHEIGHT (default 1280x720)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        parser.error(f"--size '{args.size}' is not WIDTHxHEIGHT (e.g. 1920x1080)")
    source = render_demo(args.out, width, height, args.seed)
    print(f"wrote {args.out} ({width}×{height}, {source})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
