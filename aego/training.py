"""Training a sound space: frames from folders of sounds -> spectral VAE -> a ``.space`` file.

Read top to bottom in :func:`train`:

1. read every usable sound (bad files are skipped and listed), take its STFT magnitude frames (all of
   them, or ``frames_per_sound`` drawn at random from each sound, so attack, sustain and release frames
   are all represented as often as they occur);
2. split BY SOUND into training and validation sets (never by frame: neighbouring frames of one sound
   are nearly identical, a frame split would measure memorisation);
3. fit the normalisation ``u = (log1p X - mean) / scale`` on the training frames;
4. train the VAE: loss = Σ_bins (u - û)² + sc_weight · SC(X, X̂) + β · warm-up · regulariser, where SC
   is the spectral convergence on linear magnitudes (the figure ``aego eval`` reports) and the
   regulariser is KL with free bits or MMD; Adam with a cosine learning-rate decay;
5. keep the best epoch on the validation loss; after each epoch write ``checkpoint.pt`` (weights-only,
   our own folder), ``history.json`` and ``loss.png`` into ``SPACE.train/``;
6. build the space from the best weights (encoded points, PCA/ICA projections, descriptors, the PCA
   baseline fitted on the training frames), measure it on the validation sounds, write audio previews.

Re-running with the same output and settings continues from ``SPACE.train/checkpoint.pt``.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aego.errors import UsageError
from aego.transform import Transform


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run (all stored in the space's provenance).

    Attributes:
        dims: latent size.
        beta: weight of the regulariser (KL in nats, or MMD); None = the default of the regulariser.
        regularization: ``"kl"`` or ``"mmd"``.
        epochs: passes over the training frames.
        seed: split, initialisation, batches and sampling noise.
        batch_size: frames per step.
        lr: Adam's initial learning rate (cosine decay to 5 % of it).
        warmup_epochs: the regulariser's weight ramps linearly from 0 over these epochs.
        free_bits: KL per dimension below this costs nothing (nats).
        sc_weight: weight of the spectral-convergence term.
        frames_per_sound: 0 = every frame, else that many frames of each sound, drawn at random.
        val_fraction: share of sounds held out for validation.
        max_minutes: stop after the epoch that passes this wall time (0 = no limit).
        previews: number of validation sounds to write reconstructions of; 0 = no audio previews at all.
        preview_iterations: Griffin-Lim iterations for the previews.
        threads: torch threads (0 = torch's default). One is the default: on a machine shared with
            other work, two OpenMP threads that wait for each other ran 3-5 times slower than one.
        arch: overrides of :class:`aego.vae.VAEConfig` fields (``bins`` and ``latent_dim`` are set here).
        balance_folders: draw the frames of each DATA folder equally often, whatever its size (so 3 500
            additive tones weigh as much as 21 250 FM tones).
        eq_db: each training sound is heard through a random smooth equaliser (:func:`random_eq`) whose
            gain has this standard deviation, dB (0: off). Another sample set of the same instruments has
            other spectral envelopes; this teaches the space that envelopes vary. Validation sounds are not
            touched.
    """

    dims: int = 8
    beta: float | None = None
    regularization: str = "kl"
    epochs: int = 40
    seed: int = 0
    batch_size: int = 128
    lr: float = 2e-3
    warmup_epochs: int = 5
    free_bits: float = 0.1
    sc_weight: float = 100.0
    frames_per_sound: int = 0
    val_fraction: float = 0.1
    max_minutes: float = 0.0
    previews: int = 4
    preview_iterations: int = 48
    threads: int = 1
    arch: dict[str, Any] = field(default_factory=dict)
    balance_folders: bool = True
    eq_db: float = 0.0

    @property
    def beta_value(self) -> float:
        if self.beta is not None:
            return float(self.beta)
        return 0.1 if self.regularization == "kl" else 100.0


@dataclass
class FrameSet:
    """Frames of several sounds.

    Attributes:
        mags: ``(n, bins)`` float32 linear magnitudes.
        sound: ``(n,)`` index into :attr:`names` of the sound each frame comes from.
        names: one per sound (``root-name/relative path``).
        paths: the file of each sound.
        skipped: files not used, with the reason.
        folders: the DATA folder (or file) each sound was found under.
    """

    mags: np.ndarray
    sound: np.ndarray
    names: list[str]
    paths: list[Path]
    skipped: list[Any]
    folders: list[Path] = field(default_factory=list)


def pick_frames(n_frames: int, k: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """``k`` frame indices out of ``n_frames`` (all when ``k == 0`` or ``n_frames <= k``).

    With ``rng``, ``k`` distinct frames drawn at random (over many sounds every position, attack and
    release included, is drawn as often as it occurs); without, ``k`` evenly spaced ones, first and last
    included.
    """
    if k <= 0 or n_frames <= k:
        return np.arange(n_frames)
    if rng is not None:
        return np.sort(rng.choice(n_frames, k, replace=False))
    return np.unique(np.round(np.linspace(0, n_frames - 1, k)).astype(int))


def frame_magnitudes(audio: np.ndarray, transform: Transform, frames: np.ndarray) -> np.ndarray:
    """Rows ``frames`` of ``transform.stft_magnitudes(audio)``, computing only those frames.

    Returns:
        ``(len(frames), bins)`` float32 linear magnitudes.
    """
    half = transform.n_fft // 2
    padded = np.pad(np.asarray(audio, dtype=np.float64), (half, half + transform.n_fft))
    starts = np.asarray(frames, dtype=np.int64) * transform.hop
    segments = padded[starts[:, None] + np.arange(transform.n_fft)[None, :]]
    return np.abs(np.fft.rfft(segments * transform.window(), axis=1)).astype(np.float32)


def load_frames(
    paths: Sequence[str | os.PathLike], transform: Transform, frames_per_sound: int = 0, progress: bool = True,
    seed: int = 0,
) -> FrameSet:
    """Magnitude frames of every usable sound under ``paths`` (folders or files).

    With ``frames_per_sound > 0``, that many frames of each sound drawn at random (reproducibly from ``seed``).

    Raises:
        UsageError: a missing folder, no audio file, or no usable file.
    """
    from tqdm import tqdm

    from aego.audio_files import AudioFolder

    folder = AudioFolder(list(paths), transform.sample_rate)
    mags: list[np.ndarray] = []
    sound: list[np.ndarray] = []
    names: list[str] = []
    files: list[Path] = []
    by_name = dict(folder.files)
    root_of = {name: root for (name, _), root in zip(folder.files, folder.roots, strict=True)}
    roots: list[Path] = []
    rng = np.random.default_rng(seed)
    bar = tqdm(folder, total=len(folder), desc="reading sounds", unit="sound", disable=not progress, leave=False)
    for name, audio in bar:
        m = frame_magnitudes(audio, transform, pick_frames(1 + len(audio) // transform.hop, frames_per_sound, rng))
        mags.append(m)
        sound.append(np.full(len(m), len(names), dtype=np.int64))
        names.append(name)
        files.append(by_name[name])
        roots.append(root_of[name])
    return FrameSet(np.concatenate(mags), np.concatenate(sound), names, files, list(folder.skipped), roots)


def folder_weights(folder_of: np.ndarray) -> np.ndarray:
    """Drawing weights ``(n,)`` that give every folder the same total, from each frame's folder ``(n,)``."""
    _, index, sizes = np.unique(folder_of, return_inverse=True, return_counts=True)
    return 1.0 / sizes[index]


def split_by_sound(n_sounds: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sound indices ``(train, validation)``; at least one validation sound when there are two or more."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(n_sounds)
    n_val = min(max(1, round(n_sounds * val_fraction)), n_sounds - 1) if n_sounds >= 2 else 0
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def workdir_for(output: str | os.PathLike) -> Path:
    """Where checkpoints, history, plot and previews of ``output`` live: ``OUTPUT.train/``."""
    return Path(str(output) + ".train")


EQ_POINTS_HZ = (60.0, 150.0, 400.0, 1000.0, 2500.0, 6000.0, 11025.0)
"""Where :func:`random_eq` draws its gains (the curve is linear in dB against log frequency between them)."""


def random_eq(frequencies: np.ndarray, db: float, rng: np.random.Generator) -> np.ndarray:
    """A random smooth equaliser: gains drawn ``N(0, db)`` dB at :data:`EQ_POINTS_HZ`, joined linearly in dB
    against log frequency (flat beyond the ends).

    Args:
        frequencies: ``(bins,)`` Hz.
        db: the gains' standard deviation, dB.
        rng: where the gains come from.

    Returns:
        ``(bins,)`` float32 linear gains.
    """
    points = np.log(np.asarray(EQ_POINTS_HZ))
    gains_db = rng.normal(0.0, db, len(points))
    curve = np.interp(np.log(np.maximum(frequencies, EQ_POINTS_HZ[0])), points, gains_db)
    return (10.0 ** (curve / 20.0)).astype(np.float32)


def train(
    data: Sequence[str | os.PathLike],
    output: str | os.PathLike,
    config: TrainConfig,
    *,
    transform: Transform | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> Any:
    """Train a space on the sounds under ``data`` and write it to ``output``.

    Returns:
        the :class:`aego.space.SoundSpace` written.

    Raises:
        UsageError: unusable data or settings.
    """
    import torch
    from tqdm import tqdm

    from aego.comb_analysis import analyse
    from aego.evaluation import evaluate_frames
    from aego.space import PCABaseline, SoundSpace
    from aego.vae import (
        Normalisation,
        VAEConfig,
        build_model,
        kl_divergence,
        mmd_rbf,
        state_to_numpy,
    )

    if config.regularization not in ("kl", "mmd"):
        raise UsageError(f"unknown regularization '{config.regularization}': use kl or mmd")
    if config.threads:
        torch.set_num_threads(config.threads)
    transform = transform or Transform()
    output = Path(output)
    work = workdir_for(output)
    started = time.monotonic()

    # 1. frames
    frames = load_frames(data, transform, config.frames_per_sound, progress, config.seed)
    for s in frames.skipped:
        log(f"skipped {s.path}: {s.reason}")
    if len(frames.names) < 2:
        raise UsageError("training needs at least 2 usable sounds (one is held out for validation): add sounds")

    # 2. split by sound
    train_sounds, val_sounds = split_by_sound(len(frames.names), config.val_fraction, config.seed)
    is_train = np.isin(frames.sound, train_sounds)
    train_mags, val_mags = frames.mags[is_train], frames.mags[~is_train]
    if config.eq_db > 0:  # one equaliser per sound: its frames share their envelope, as a sample's do
        rng = np.random.default_rng(config.seed + 7)
        freqs = transform.frequencies()
        eqs = np.stack([random_eq(freqs, config.eq_db, rng) for _ in frames.names])
        train_mags = train_mags * eqs[frames.sound[is_train]]
    log(f"{len(frames.names)} sounds ({len(train_sounds)} training, {len(val_sounds)} validation), "
        f"{len(train_mags)} + {len(val_mags)} frames")

    # 3. normalisation
    norm = Normalisation.fit(train_mags)
    u_train = torch.from_numpy(norm.forward(train_mags))
    u_val = torch.from_numpy(norm.forward(val_mags))
    mean_t = torch.from_numpy(norm.mean)
    scale = float(norm.scale)

    def linear(u: torch.Tensor) -> torch.Tensor:
        return torch.expm1(torch.clamp(u * scale + mean_t, 0.0, 30.0))

    # 4. model and optimiser (or the checkpoint of an interrupted run with the same settings)
    arch = {**config.arch, "bins": transform.bins, "latent_dim": config.dims,
            "bin_hz": transform.sample_rate / transform.n_fft,
            "sigma_bins": transform.n_fft / (2 * math.pi * transform.window_std)}
    vae_config = VAEConfig.from_dict({**VAEConfig().to_dict(), **arch})
    # What must match to continue a checkpoint; more epochs or another time budget may be asked for.
    free = ("epochs", "max_minutes", "previews", "preview_iterations", "threads")
    same = {k: v for k, v in asdict(config).items() if k not in free}
    fingerprint = json.dumps({"data": [str(Path(p).resolve()) for p in data], "sounds": len(frames.names),
                              "frames": len(frames.mags), "config": same, "transform": transform.to_dict()},
                             sort_keys=True)
    torch.manual_seed(config.seed)
    try:
        model = build_model(vae_config)
    except ValueError as exc:
        raise UsageError(f"cannot build the model: {exc}") from None
    fixed = model.fixed_dims
    feats_train = feats_val = torch.zeros((0, 0))
    if fixed:
        # The peak decoder's pitch axes come from the comb analysis of each frame (no labels).
        log("analysing the partials of every frame")
        raw_train = analyse(train_mags, vae_config.bin_hz).stack()
        model.set_statistics(norm.mean, norm.scale, raw_train)
        feats_train = model.standardise(raw_train)
        feats_val = model.standardise(analyse(val_mags, vae_config.bin_hz).stack()) if len(val_mags) \
            else feats_train[:0]
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    history: list[dict[str, float]] = []
    best_loss, best_state, start_epoch, elapsed_before = math.inf, state_to_numpy(model), 0, 0.0
    checkpoint = work / "checkpoint.pt"
    if checkpoint.is_file():
        try:
            ck = torch.load(checkpoint, weights_only=True)
            if ck.get("fingerprint") == fingerprint:
                model.load_state_dict(ck["model"])
                optimiser.load_state_dict(ck["optimiser"])
                history, best_loss, start_epoch = list(ck["history"]), float(ck["best_loss"]), int(ck["epoch"])
                best_state = {k: v.numpy() for k, v in ck["best"].items()}
                elapsed_before = float(ck.get("elapsed", 0.0))
                log(f"continuing from {checkpoint} after epoch {start_epoch}")
            else:
                log(f"{checkpoint} was made with other data or settings: starting over")
        except Exception as exc:  # a damaged checkpoint must not stop a fresh start
            log(f"cannot continue from {checkpoint} ({type(exc).__name__}): starting over")
    work.mkdir(parents=True, exist_ok=True)

    beta = config.beta_value
    n_train = len(u_train)
    folder_of = np.array([str(f) for f in frames.folders])[frames.sound[is_train]]
    balance = config.balance_folders and len(set(folder_of)) > 1
    draw_weights = torch.from_numpy(folder_weights(folder_of))
    steps = max(1, math.ceil(n_train / config.batch_size))

    def losses(u: torch.Tensor, feats: torch.Tensor, warm: float, sample: bool) -> dict[str, torch.Tensor]:
        mu, logvar = model.encode(u, feats) if fixed else model.encode(u)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if sample else mu
        u_hat = model.decode(z)
        rec = (u_hat - u).pow(2).sum(dim=1).mean()
        x, x_hat = linear(u), linear(u_hat)
        sc = torch.linalg.norm(x - x_hat) / torch.linalg.norm(x).clamp_min(1e-6)
        # The analysed dimensions are not sampled and not regularised: their scale is the data's own.
        reg = kl_divergence(mu[:, fixed:], logvar[:, fixed:], config.free_bits) \
            if config.regularization == "kl" else mmd_rbf(z[:, fixed:])
        total = rec + config.sc_weight * sc + beta * warm * reg
        return {"loss": total, "rec": rec, "sc": sc, "reg": reg}

    stopped_early = False
    last_plot = time.monotonic()
    for epoch in range(start_epoch, config.epochs):
        # Seeding per epoch makes an interrupted-and-resumed run the same as an uninterrupted one.
        torch.manual_seed(config.seed * 100_003 + epoch)
        # Cosine decay over the epochs, or over the time budget when that runs out first (so a run cut
        # by --max-minutes still ends on a small learning rate).
        progress_ = epoch / config.epochs
        if config.max_minutes:
            progress_ = max(progress_, (elapsed_before + time.monotonic() - started) / (config.max_minutes * 60))
        lr = config.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(progress_, 1.0))))
        for group in optimiser.param_groups:
            group["lr"] = lr
        warm = min(1.0, (epoch + 1) / max(1, config.warmup_epochs))
        model.train()
        order = torch.multinomial(draw_weights, n_train, replacement=True) if balance else torch.randperm(n_train)
        sums = {"loss": 0.0, "rec": 0.0, "sc": 0.0, "reg": 0.0}
        bar = tqdm(range(steps), desc=f"epoch {epoch + 1}/{config.epochs}", unit="step", disable=not progress,
                   leave=False)
        budget_over, steps_done = False, steps
        for i in bar:
            if config.max_minutes and i % 50 == 49 and \
                    elapsed_before + time.monotonic() - started > config.max_minutes * 60:
                budget_over = True  # stop inside a long epoch too: the budget is a promise
                steps_done = i
                break
            idx = order[i * config.batch_size : (i + 1) * config.batch_size]
            if len(idx) < 2:
                continue
            parts = losses(u_train[idx], feats_train[idx] if fixed else feats_train, warm, sample=True)
            optimiser.zero_grad(set_to_none=True)
            parts["loss"].backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 100.0)
            optimiser.step()
            for k in sums:
                sums[k] += float(parts[k].detach())
            if i % 20 == 0:
                bar.set_postfix(rec=f"{float(parts['rec'].detach()):.2f}", sc=f"{float(parts['sc'].detach()):.3f}",
                                reg=f"{float(parts['reg'].detach()):.2f}")
        model.eval()
        with torch.no_grad():
            val = {k: 0.0 for k in sums}
            n_val_batches = 0
            for s in range(0, max(len(u_val), 1), 4096):
                chunk = u_val[s : s + 4096] if len(u_val) else u_train[:4096]
                f_chunk = (feats_val[s : s + 4096] if len(u_val) else feats_train[:4096]) if fixed else feats_val
                parts = losses(chunk, f_chunk, 1.0, sample=False)
                for k in val:
                    val[k] += float(parts[k])
                n_val_batches += 1
            val = {k: v / n_val_batches for k, v in val.items()}
        done = steps_done if budget_over else steps
        record = {"epoch": epoch + 1, "lr": lr, **{f"train_{k}": v / max(done, 1) for k, v in sums.items()},
                  **{f"val_{k}": v for k, v in val.items()}}
        history.append(record)
        if val["loss"] < best_loss:
            best_loss, best_state = val["loss"], state_to_numpy(model)
        elapsed = elapsed_before + time.monotonic() - started
        log(f"epoch {epoch + 1}/{config.epochs}: train rec {record['train_rec']:.3f} sc {record['train_sc']:.4f} "
            f"{config.regularization} {record['train_reg']:.3f} | validation rec {val['rec']:.3f} sc {val['sc']:.4f} "
            f"| {elapsed / 60:.1f} min")
        torch.save({"fingerprint": fingerprint, "model": model.state_dict(), "optimiser": optimiser.state_dict(),
                    "history": history, "best_loss": best_loss, "epoch": epoch + 1, "elapsed": elapsed,
                    "best": {k: torch.from_numpy(np.array(v)) for k, v in best_state.items()}},
                   work / "checkpoint.pt.tmp")
        os.replace(work / "checkpoint.pt.tmp", checkpoint)
        (work / "history.json").write_text(json.dumps(history, indent=1))
        # The plot costs a second or two: refresh it once a minute while training, and at the end.
        if time.monotonic() - last_plot > 60 or epoch + 1 == config.epochs:
            plot_history(history, work / "loss.png", config.regularization)
            last_plot = time.monotonic()
        if budget_over or (config.max_minutes and elapsed > config.max_minutes * 60 and epoch + 1 < config.epochs):
            log(f"time budget of {config.max_minutes:g} min reached after epoch {epoch + 1}: stopping")
            stopped_early = True
            break
    if not history:
        raise UsageError(f"{checkpoint} holds no finished epoch: delete {work} and train again")
    plot_history(history, work / "loss.png", config.regularization)
    train_seconds = elapsed_before + time.monotonic() - started

    # 6. the space
    log("building the space (encoded points, projections, descriptors, PCA baseline)")
    rng = np.random.default_rng(config.seed)
    fit_rows = train_mags if len(train_mags) <= 60_000 else train_mags[rng.choice(len(train_mags), 60_000, False)]
    baseline = PCABaseline.fit(norm.forward(fit_rows), config.dims, config.seed)
    info: dict[str, Any] = {
        "data": [str(p) for p in data],
        "sounds": len(frames.names),
        "training_sounds": len(train_sounds),
        "validation_sounds": len(val_sounds),
        "frames": len(frames.mags),
        "frames_per_sound": config.frames_per_sound or "all",
        "skipped": [f"{s.path}: {s.reason}" for s in frames.skipped],
        "seed": config.seed,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "training": {**asdict(config), "beta": beta, "epochs_run": len(history), "stopped_early": stopped_early,
                     "train_seconds": round(train_seconds, 1), "best_validation_loss": best_loss},
    }
    space = SoundSpace.build(name=output.stem, transform=transform, config=vae_config, state=best_state, norm=norm,
                             train_mags=train_mags, baseline=baseline, info=info, seed=config.seed)
    if len(val_mags):
        figures = evaluate_frames(space, [val_mags])
        info["validation"] = figures
        log(f"validation sounds: VAE sc {figures['vae']['sc']:.4f} l2 {figures['vae']['l2']:.4f} | "
            f"PCA sc {figures['pca']['sc']:.4f} l2 {figures['pca']['l2']:.4f}")
    space.info = info
    space.save(output)
    log(f"wrote {output}")
    if config.previews:
        write_previews(space, [frames.paths[i] for i in val_sounds[: config.previews]], work / "previews", log,
                       iterations=config.preview_iterations)
    return space


def plot_history(history: list[dict[str, float]], path: Path, regularization: str) -> None:
    """Loss curves (training and validation) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, key, title in zip(axes, ("rec", "sc", "reg"),
                              ("reconstruction Σ(u-û)²", "spectral convergence", regularization), strict=True):
        ax.plot(epochs, [h[f"train_{key}"] for h in history], label="training")
        ax.plot(epochs, [h[f"val_{key}"] for h in history], label="validation")
        ax.set_title(title)
        ax.set_xlabel("epoch")
        if key != "reg":
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.subplots_adjust(left=0.05, right=0.99, bottom=0.14, top=0.91, wspace=0.22)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write_previews(space: Any, sound_paths: Sequence[Path], folder: Path, log: Callable[[str], None] = print,
                   walk_seconds: float = 3.0, iterations: int = 48) -> list[Path]:
    """Audio a person can open: each validation sound and its reconstruction, and a walk along each latent axis.

    Phases come from Griffin-Lim (offline). Writes ``test-N-original.wav``, ``test-N-reconstruction.wav``
    and ``axis-I.wav`` (latent axis ``I`` from its 1st to its 99th percentile, the others at the median).
    """
    import soundfile as sf

    from aego.audio_files import read_audio
    from aego.griffin_lim import griffin_lim, normalise_peak

    folder.mkdir(parents=True, exist_ok=True)
    t = space.transform
    written = []
    for n, path in enumerate(sound_paths):
        audio, _reason = read_audio(path, t.sample_rate)
        if audio is None:
            continue
        mags = t.stft_magnitudes(audio)
        recon = space.decode(space.encode(mags))
        sf.write(folder / f"test-{n}-original.wav", audio, t.sample_rate)
        sf.write(folder / f"test-{n}-reconstruction.wav", normalise_peak(griffin_lim(recon, t, iterations),
                                                                         float(np.abs(audio).max())), t.sample_rate)
        written += [folder / f"test-{n}-original.wav", folder / f"test-{n}-reconstruction.wav"]
    centre = np.median(space.points, axis=0)
    bounds = space.latent_bounds
    n_frames = max(2, round(walk_seconds * t.sample_rate / t.hop))
    for i in range(space.latent_dim):
        z = np.repeat(centre[None, :], n_frames, axis=0)
        z[:, i] = np.linspace(bounds[i, 0], bounds[i, 1], n_frames)
        audio = normalise_peak(griffin_lim(space.decode(z), t, iterations))
        sf.write(folder / f"axis-{i}.wav", audio, t.sample_rate)
        written.append(folder / f"axis-{i}.wav")
    log(f"wrote {len(written)} audio previews into {folder}")
    return written
