"""Sound spaces: a trained spectral VAE with everything the instrument needs, in one safetensors file.

A sound-space file (``*.space``) is a safetensors file: every array is a tensor, and one JSON document
in the safetensors metadata (key ``aego``) holds the rest. Loading never unpickles anything.

Tensors:

- ``model.<name>``: the VAE's parameters and buffers (:mod:`aego.vae`).
- ``norm.mean (bins,)``: mean of ``log1p(X)`` (the scale is in the JSON).
- ``points (n, d)``: encoded training frames (posterior means, a subsample of at most 20 000).
- ``descriptors.centroid|bandwidth|flatness (n,)``: of the decoded spectrum at each point (Hz, Hz, 0-1).
- ``projection.<kind>.mean (d,) / .forward (d, d) / .inverse (d, d) / .bounds (d, 2)`` for
  ``kind`` in ``pca``, ``ica``, ``none``.
- ``baseline.mean (bins,) / baseline.components (d, bins)``: the PCA baseline of CONTRACT §7, fitted on
  the normalised training frames.

JSON (``metadata["aego"]``): ``{"format": "aego-space", "version": 1, "name", "transform", "vae",
"normalisation": {"kind": "log1p", "scale"}, "info": {provenance and training figures}}``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from aego.descriptors import describe
from aego.errors import SpaceFileError
from aego.numpy_decoder import NumpyDecoder, PartialFrame, make_decoder
from aego.paths import bundled_spaces_dir
from aego.transform import Transform
from aego.vae import Normalisation, VAEConfig

FORMAT = "aego-space"
VERSION = 1
BUNDLED = ("synthetic", "orchestral")
KINDS = ("ica", "pca", "none")
DESCRIPTORS = ("centroid", "bandwidth", "flatness")
MAX_POINTS = 20_000


@dataclass(frozen=True)
class Projection:
    """A linear change of coordinates of the latent space, its axes ordered (axis 0 is explored first).

    ``coords = (z - mean) @ forward.T`` and ``z = mean + coords @ inverse.T``.

    Attributes:
        kind: ``"ica"``, ``"pca"`` or ``"none"`` (the latent axes themselves).
        mean: ``(d,)``.
        forward: ``(d, d)``.
        inverse: ``(d, d)``.
        bounds: ``(d, 2)``: 1st and 99th percentiles of the encoded training points along each axis.
    """

    kind: str
    mean: np.ndarray
    forward: np.ndarray
    inverse: np.ndarray
    bounds: np.ndarray

    @property
    def dims(self) -> int:
        return int(self.mean.shape[0])

    def to_coords(self, z: np.ndarray) -> np.ndarray:
        """Latent ``(..., d)`` -> coordinates ``(..., d)`` along the projection's axes."""
        return ((np.asarray(z, dtype=np.float64) - self.mean) @ self.forward.T).astype(np.float32)

    def to_latent(self, coords: np.ndarray) -> np.ndarray:
        """Coordinates ``(..., k)`` with ``k <= d`` -> latent ``(..., d)``; missing axes are 0 (the mean)."""
        c = np.asarray(coords, dtype=np.float64)
        k = c.shape[-1]
        if k > self.dims:
            raise ValueError(f"{k} coordinates for a {self.dims}-dimensional projection")
        return (self.mean + c @ self.inverse[:, :k].T).astype(np.float32)

    def normalise(self, coords: np.ndarray) -> np.ndarray:
        """Coordinates ``(..., k)`` -> ``[0, 1]`` units (0 and 1 = the bounds of each axis; not clipped)."""
        c = np.asarray(coords, dtype=np.float64)
        lo, hi = self.bounds[: c.shape[-1], 0], self.bounds[: c.shape[-1], 1]
        return ((c - lo) / np.maximum(hi - lo, 1e-9)).astype(np.float32)

    def denormalise(self, u: np.ndarray) -> np.ndarray:
        """``[0, 1]`` units ``(..., k)`` -> coordinates ``(..., k)``."""
        u = np.asarray(u, dtype=np.float64)
        lo, hi = self.bounds[: u.shape[-1], 0], self.bounds[: u.shape[-1], 1]
        return (lo + u * (hi - lo)).astype(np.float32)

    @classmethod
    def fit(cls, kind: str, points: np.ndarray, seed: int = 0) -> Projection:
        """Fit a projection of ``kind`` on encoded points ``(n, d)``.

        PCA axes come in order of explained variance. ICA (FastICA, unit-variance sources) axes are
        ordered by the energy of their mixing column (how far the latent moves per unit of the source),
        each signed so its mixing column's largest entry is positive.
        """
        pts = np.asarray(points, dtype=np.float64)
        d = pts.shape[1]
        mean = pts.mean(axis=0)
        if kind == "none":
            forward = inverse = np.eye(d)
            mean = np.zeros(d)
        elif kind == "pca":
            from sklearn.decomposition import PCA

            pca = PCA(n_components=d, random_state=seed).fit(pts)
            forward = pca.components_
            inverse = pca.components_.T
            mean = pca.mean_
        elif kind == "ica":
            import warnings

            from sklearn.decomposition import FastICA

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # convergence warnings on degenerate point sets
                ica = FastICA(n_components=d, whiten="unit-variance", random_state=seed, max_iter=1000).fit(pts)
            forward, inverse = ica.components_, ica.mixing_
            order = np.argsort(-np.linalg.norm(inverse, axis=0))
            forward, inverse = forward[order], inverse[:, order]
            signs = np.sign(inverse[np.abs(inverse).argmax(axis=0), np.arange(d)])
            signs[signs == 0] = 1.0
            forward, inverse = forward * signs[:, None], inverse * signs[None, :]
            mean = ica.mean_
        else:
            raise ValueError(f"unknown projection '{kind}': use ica, pca or none")
        coords = (pts - mean) @ forward.T
        bounds = np.stack([np.percentile(coords, 1, axis=0), np.percentile(coords, 99, axis=0)], axis=1)
        flat = bounds[:, 1] - bounds[:, 0] < 1e-6
        bounds[flat] += np.array([-1.0, 1.0])
        return cls(kind, mean.astype(np.float64), np.asarray(forward, np.float64), np.asarray(inverse, np.float64),
                   bounds.astype(np.float64))


@dataclass(frozen=True)
class PCABaseline:
    """The reference of CONTRACT §7: a PCA with as many components as the latent, in the normalised space.

    Attributes:
        mean: ``(bins,)`` mean of the normalised training frames.
        components: ``(k, bins)`` orthonormal rows.
    """

    mean: np.ndarray
    components: np.ndarray

    @classmethod
    def fit(cls, u: np.ndarray, k: int, seed: int = 0) -> PCABaseline:
        """From normalised training frames ``(n, bins)``."""
        from sklearn.decomposition import PCA

        pca = PCA(n_components=k, svd_solver="randomized", random_state=seed).fit(np.asarray(u, np.float32))
        return cls(pca.mean_.astype(np.float32), pca.components_.astype(np.float32))

    def reconstruct(self, u: np.ndarray) -> np.ndarray:
        """Normalised frames ``(n, bins)`` -> their projection on the components, same shape."""
        c = (np.asarray(u, np.float32) - self.mean) @ self.components.T
        return (self.mean + c @ self.components).astype(np.float32)


class SoundSpace:
    """A trained (or deliberately untrained) sound space. Build with :meth:`load`, :meth:`build` or
    :meth:`untrained`; write with :meth:`save`.

    Attributes:
        name: a short name (the file's stem, or the bundled name).
        transform: the spectral transform the model was trained on (and the engine inverts).
        latent_dim: ``d``.
        config: the VAE architecture.
        norm: the input normalisation.
        points: ``(n, d)`` float32 encoded training points.
        descriptors: ``{"centroid", "bandwidth", "flatness"}`` -> ``(n,)`` float32.
        baseline: the PCA baseline.
        info: provenance and training figures (JSON-able).
    """

    def __init__(
        self,
        *,
        name: str,
        transform: Transform,
        config: VAEConfig,
        state: dict[str, np.ndarray],
        norm: Normalisation,
        points: np.ndarray,
        descriptors: dict[str, np.ndarray],
        projections: dict[str, Projection],
        baseline: PCABaseline,
        info: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.transform = transform
        self.config = config
        self.state = state
        self.norm = norm
        self.points = np.asarray(points, dtype=np.float32)
        self.descriptors = descriptors
        self.projections = projections
        self.baseline = baseline
        self.info = dict(info or {})
        self._decoder = make_decoder(config, state, norm)
        self._model: Any = None

    # -- the instrument's side ---------------------------------------------------------------------

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    @property
    def latent_bounds(self) -> np.ndarray:
        """``(d, 2)``: 1st and 99th percentiles of the encoded training points along each latent axis."""
        return self.projections["none"].bounds.astype(np.float32)

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Latent ``(..., d)`` (or ``(d,)``) -> linear magnitudes ``(..., bins)`` float32."""
        z = np.asarray(z, dtype=np.float32)
        if z.shape[-1] != self.latent_dim:
            raise ValueError(f"latent vectors of size {self.latent_dim} expected, got shape {z.shape}")
        return self._decoder(z)

    def frame_decoder(self) -> Callable[[np.ndarray], np.ndarray]:
        """A fast single-frame decoder ``(d,) -> (bins,)`` float32 (NumPy, one thread, no torch).

        Call it from one thread at a time; the returned array is fresh on every call.
        """
        return self._decoder.frame()

    def partial_decoder(self) -> Callable[[np.ndarray], PartialFrame] | None:
        """For a peak decoder, a single-frame decoder ``(d,) -> PartialFrame`` that also gives the partials
        (frequencies, heights, width) and the noise envelope apart; ``None`` for a decoder of bins."""
        frame_partials = getattr(self._decoder, "frame_partials", None)
        return frame_partials() if frame_partials is not None else None

    def projection(self, kind: str) -> Projection:
        """The ``"ica"``, ``"pca"`` or ``"none"`` projection of the encoded training set."""
        try:
            return self.projections[kind]
        except KeyError:
            raise ValueError(f"unknown projection '{kind}': use one of {', '.join(KINDS)}") from None

    # -- analysis (torch) -------------------------------------------------------------------------

    def model(self) -> Any:
        """The torch :class:`aego.vae.SpectralVAE` (built on first use, eval mode)."""
        if self._model is None:
            from aego.vae import model_from_numpy

            self._model = model_from_numpy(self.config, self.state)
        return self._model

    def encode(self, mags: np.ndarray, batch: int = 4096) -> np.ndarray:
        """Linear magnitudes ``(n, bins)`` -> posterior means ``(n, d)`` float32."""
        import torch

        mags = np.asarray(mags, dtype=np.float32)
        if mags.ndim != 2 or mags.shape[1] != self.config.bins:
            raise ValueError(f"magnitude frames of shape (n, {self.config.bins}) expected, got {mags.shape}")
        model = self.model()
        out = np.empty((mags.shape[0], self.latent_dim), dtype=np.float32)
        with torch.inference_mode():
            for s in range(0, mags.shape[0], batch):
                u = torch.from_numpy(self.norm.forward(mags[s : s + batch]))
                out[s : s + batch] = model.encode(u)[0].numpy()
        return out

    def encode_audio(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """Mono audio ``(samples,)`` at ``sample_rate`` Hz -> latent trajectory ``(frames, d)``.

        The audio is resampled to the space's rate (``scipy.signal.resample_poly``) first.
        """
        return self.encode(self.transform.stft_magnitudes(resample(audio, sample_rate, self.transform.sample_rate)))

    def reconstruct_normalised(self, u: np.ndarray) -> np.ndarray:
        """Normalised frames ``(n, bins)`` through encoder (means) and decoder -> ``(n, bins)``."""
        import torch

        model = self.model()
        out = np.empty_like(np.asarray(u, np.float32))
        with torch.inference_mode():
            for s in range(0, len(u), 4096):
                mu = model.encode(torch.from_numpy(np.asarray(u[s : s + 4096], np.float32)))[0]
                out[s : s + 4096] = self._decoder.decode_normalised(mu.numpy())
        return out

    # -- building ------------------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        *,
        name: str,
        transform: Transform,
        config: VAEConfig,
        state: dict[str, np.ndarray],
        norm: Normalisation,
        train_mags: np.ndarray,
        baseline: PCABaseline | None = None,
        info: dict[str, Any] | None = None,
        seed: int = 0,
    ) -> SoundSpace:
        """Finish a space from a model: encode ``train_mags (n, bins)`` (subsampled to 20 000 points),
        fit the projections and descriptors, and the PCA baseline unless one is given."""
        rng = np.random.default_rng(seed)
        mags = np.asarray(train_mags, np.float32)
        if len(mags) > MAX_POINTS:
            mags = mags[np.sort(rng.choice(len(mags), MAX_POINTS, replace=False))]
        if baseline is None:
            baseline = PCABaseline.fit(norm.forward(mags), config.latent_dim, seed)
        space = cls(
            name=name, transform=transform, config=config, state=state, norm=norm,
            points=np.zeros((1, config.latent_dim), np.float32), descriptors={},
            projections={}, baseline=baseline, info=info,
        )
        points = space.encode(mags)
        space.points = points
        space.projections = {kind: Projection.fit(kind, points, seed) for kind in KINDS}
        space.descriptors = describe(space.decode(points), transform.frequencies())
        return space

    @classmethod
    def untrained(cls, transform: Transform | None = None, latent_dim: int = 8, seed: int = 0,
                  config: VAEConfig | None = None) -> SoundSpace:
        """A real model with random weights (for engine and agent tests), projections from random points."""
        import torch

        from aego.vae import SpectralVAE, state_to_numpy

        transform = transform or Transform()
        config = config or VAEConfig(bins=transform.bins, latent_dim=latent_dim)
        torch.manual_seed(seed)
        model = SpectralVAE(config).eval()
        state = state_to_numpy(model)
        # A plausible level: log1p magnitudes around 1 (quiet), so random outputs stay audible but tame.
        norm = Normalisation(np.full(config.bins, 1.0, np.float32), 1.0)
        rng = np.random.default_rng(seed)
        points = rng.standard_normal((2000, config.latent_dim)).astype(np.float32)
        decoder = NumpyDecoder(config, state, norm)
        u = decoder.decode_normalised(points)
        return cls(
            name="untrained", transform=transform, config=config, state=state, norm=norm, points=points,
            descriptors=describe(decoder(points), transform.frequencies()),
            projections={kind: Projection.fit(kind, points, seed) for kind in KINDS},
            baseline=PCABaseline.fit(u, config.latent_dim, seed),
            info={"untrained": True, "seed": seed},
        )

    # -- the file ------------------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write the space as one safetensors file (atomically: a temporary file, then a rename)."""
        from safetensors.numpy import save_file

        path = Path(path)
        tensors: dict[str, np.ndarray] = {f"model.{k}": v for k, v in self.state.items()}
        tensors["norm.mean"] = self.norm.mean
        tensors["points"] = self.points
        for k in DESCRIPTORS:
            tensors[f"descriptors.{k}"] = self.descriptors[k]
        for kind, p in self.projections.items():
            for field_name in ("mean", "forward", "inverse", "bounds"):
                tensors[f"projection.{kind}.{field_name}"] = getattr(p, field_name)
        tensors["baseline.mean"] = self.baseline.mean
        tensors["baseline.components"] = self.baseline.components
        tensors = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
        doc = {
            "format": FORMAT,
            "version": VERSION,
            "name": self.name,
            "transform": self.transform.to_dict(),
            "vae": self.config.to_dict(),
            "normalisation": {"kind": "log1p", "scale": self.norm.scale},
            "info": self.info,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        save_file(tensors, str(tmp), metadata={"aego": json.dumps(doc)})
        os.chmod(tmp, 0o644)  # safetensors creates a private file; a space is meant to be shared
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, name_or_path: str | Path) -> SoundSpace:
        """Load a space from a ``.space`` file or a bundled name (``synthetic``, ``orchestral``).

        Raises:
            SpaceFileError: missing, not a sound-space file (pickle, zip, other safetensors), corrupt,
                or written by an incompatible version; the message says how to fix it.
        """
        path = resolve(name_or_path)
        doc, tensors = _read(path)
        try:
            transform = Transform.from_dict(doc["transform"])
            config = VAEConfig.from_dict(doc["vae"])
            for name, tensor in tensors.items():
                if np.issubdtype(tensor.dtype, np.floating) and not np.all(np.isfinite(tensor)):
                    raise ValueError(f"'{name}' holds NaN or infinite values")
            norm = Normalisation(np.asarray(tensors["norm.mean"], np.float32), float(doc["normalisation"]["scale"]))
            if not (np.isfinite(norm.scale) and norm.scale > 0):
                raise ValueError(f"the normalisation scale {norm.scale} is not a positive number")
            state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
            projections = {}
            for kind in KINDS:
                p = Projection(kind, *(np.asarray(tensors[f"projection.{kind}.{f}"], np.float64)
                                       for f in ("mean", "forward", "inverse", "bounds")))
                d = config.latent_dim
                if p.mean.shape != (d,) or p.forward.shape != (d, d) or p.inverse.shape != (d, d) \
                        or p.bounds.shape != (d, 2):
                    raise ValueError(f"projection '{kind}' has the wrong shape")
                projections[kind] = p
            space = cls(
                name=str(doc.get("name") or path.stem),
                transform=transform,
                config=config,
                state=state,
                norm=norm,
                points=tensors["points"],
                descriptors={k: tensors[f"descriptors.{k}"] for k in DESCRIPTORS},
                projections=projections,
                baseline=PCABaseline(tensors["baseline.mean"], tensors["baseline.components"]),
                info=doc.get("info") or {},
            )
            if transform.bins != config.bins or norm.mean.shape != (config.bins,):
                raise ValueError("the transform, the model and the normalisation disagree on the number of bins")
            if space.points.ndim != 2 or space.points.shape[1] != config.latent_dim:
                raise ValueError("the encoded points do not match the latent size")
            # Decoding one point proves the decoder weights fit the architecture.
            space._decoder(np.zeros((1, config.latent_dim), np.float32))
        except (KeyError, ValueError, TypeError, IndexError, OverflowError, AttributeError, MemoryError) as exc:
            raise SpaceFileError(
                f"{path}: damaged sound-space file ({type(exc).__name__}: {exc}); retrain it with 'aego train'"
            ) from None
        return space


def resolve(name_or_path: str | Path) -> Path:
    """A bundled name -> its file in the package; a path -> itself. SpaceFileError when missing."""
    text = str(name_or_path)
    if text in BUNDLED:
        path = bundled_spaces_dir() / f"{text}.space"
        if not path.is_file():
            raise SpaceFileError(f"the bundled space '{text}' is missing from this installation ({path}); "
                                 "rebuild it with 'make spaces'")
        return path
    path = Path(text).expanduser()
    if not path.is_file():
        raise SpaceFileError(f"no sound-space file '{text}': give a .space file written by 'aego train' "
                             f"or a bundled name ({', '.join(BUNDLED)})")
    return path


def _read(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The JSON document and the tensors of a space file, without executing anything in it."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError as exc:
        raise SpaceFileError(f"cannot read '{path}': {exc.strerror}") from None
    fix = "give a .space file written by 'aego train' (ægo never unpickles model files)"
    # A safetensors file begins with its header's length (8 bytes, little-endian) and then the header's '{'.
    # That length can begin with any byte, 0x80 included: look for a pickle only in what is not one.
    looks_safetensors = len(head) >= 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < 1 << 32
    if not looks_safetensors and (head[:1] == b"\x80" or head[:2] in (b"(d", b"(l", b"}q", b"]q", b"cc")):
        raise SpaceFileError(f"'{path}' is a Python pickle, not a sound-space file; {fix}")
    if head[:4] == b"PK\x03\x04":
        raise SpaceFileError(f"'{path}' is a zip archive (a torch checkpoint?), not a sound-space file; {fix}")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            raw = meta.get("aego")
            if raw is None:
                raise SpaceFileError(f"'{path}' is a safetensors file but not a sound space (no ægo metadata); {fix}")
            doc = json.loads(raw)
            if not isinstance(doc, dict) or doc.get("format") != FORMAT:
                raise SpaceFileError(f"'{path}' is a safetensors file but not a sound space; {fix}")
            if doc.get("version") != VERSION:
                raise SpaceFileError(
                    f"'{path}' is a sound space of format version {doc.get('version')}, this ægo reads version "
                    f"{VERSION}; retrain it with this version's 'aego train'"
                )
            tensors = {k: _read_tensor(f, k) for k in f.keys()}  # noqa: SIM118 - safe_open has no iterator
    except SpaceFileError:
        raise
    except Exception as exc:  # safetensors raises its own error types for every kind of damage
        raise SpaceFileError(
            f"'{path}' is not a readable sound-space file ({str(exc).splitlines()[0][:120]}); {fix}"
        ) from None
    return doc, tensors


#: tensors are read this many bytes at a time: each copy holds the GIL, and the engine loads spaces on a thread
#: beside its synthesis thread (one 13 MB copy of a big space's points held it for 7 ms, longer than the audio
#: queue of a performance)
READ_CHUNK_BYTES = 1 << 19


def _read_tensor(f: Any, key: str) -> np.ndarray:
    part = f.get_slice(key)
    shape = tuple(int(n) for n in part.get_shape())
    if len(shape) == 0 or shape[0] == 0:
        return f.get_tensor(key)
    first = part[0:1]
    if first.nbytes * shape[0] <= READ_CHUNK_BYTES:
        return f.get_tensor(key)
    out = np.empty(shape, dtype=first.dtype)
    rows = max(1, READ_CHUNK_BYTES // max(1, first.nbytes))
    for start in range(0, shape[0], rows):
        end = min(start + rows, shape[0])
        out[start:end] = part[start:end]
    return out


def resample(audio: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """Mono audio from ``source_rate`` to ``target_rate`` Hz (polyphase), float32."""
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    if int(source_rate) == int(target_rate):
        return audio
    from scipy.signal import resample_poly

    ratio = Fraction(int(target_rate), int(source_rate)).limit_denominator(1000)
    return resample_poly(audio, ratio.numerator, ratio.denominator).astype(np.float32)
