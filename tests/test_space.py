"""The sound-space file and its Python API."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file

from aego.errors import SpaceFileError, UsageError
from aego.space import SoundSpace, resolve
from aego.transform import Transform


@pytest.fixture(scope="module")
def space() -> SoundSpace:
    return SoundSpace.untrained(latent_dim=8, seed=3)


def test_api_shapes(space: SoundSpace) -> None:
    d, bins = space.latent_dim, space.transform.bins
    assert d == 8 and bins == 1025
    z = np.random.default_rng(0).standard_normal((3, 5, d)).astype(np.float32)
    mags = space.decode(z)
    assert mags.shape == (3, 5, bins) and mags.dtype == np.float32 and mags.min() >= 0
    assert space.decode(z[0, 0]).shape == (bins,)
    frame = space.frame_decoder()
    np.testing.assert_allclose(frame(z[1, 2]), mags[1, 2], rtol=1e-5, atol=1e-5)
    assert space.encode(mags[0]).shape == (5, d)
    audio = np.sin(2 * np.pi * 440 * np.arange(44100) / 44100).astype(np.float32)
    # 1 s at 44.1 kHz -> 22050 samples at the space's rate -> 1 + 22050 // 512 frames
    assert space.encode_audio(audio, 44100).shape == (1 + 22050 // 512, d)
    assert space.points.shape[1] == d
    assert set(space.descriptors) == {"centroid", "bandwidth", "flatness"}
    assert all(v.shape == (len(space.points),) for v in space.descriptors.values())
    assert space.latent_bounds.shape == (d, 2)
    with pytest.raises(ValueError):
        space.decode(np.zeros(5))
    with pytest.raises(ValueError):
        space.projection("tsne")


@pytest.mark.parametrize("kind", ["ica", "pca", "none"])
def test_projection_round_trips(space: SoundSpace, kind: str) -> None:
    p = space.projection(kind)
    z = space.points[:50]
    coords = p.to_coords(z)
    np.testing.assert_allclose(p.to_latent(coords), z, atol=1e-4)
    np.testing.assert_allclose(p.denormalise(p.normalise(coords)), coords, atol=1e-4)
    # 0 and 1 are the 1st and 99th percentiles of the training points along each axis
    u = p.normalise(p.to_coords(space.points))
    assert np.all(np.abs(np.mean(u < 0, axis=0) - 0.01) < 0.01)
    assert np.all(np.abs(np.mean(u > 1, axis=0) - 0.01) < 0.01)
    # the first k axes only: the other coordinates sit at the projection's centre
    assert p.to_latent(coords[:, :2]).shape == z.shape


def test_ica_axes_are_ordered_by_their_mixing_energy(space: SoundSpace) -> None:
    energy = np.linalg.norm(space.projection("ica").inverse, axis=0)
    assert np.all(np.diff(energy) <= 1e-9)


def test_save_load_round_trip(space: SoundSpace, tmp_path: Path) -> None:
    space.info = {"data": ["x"], "note": "ünïcode"}
    path = space.save(tmp_path / "s.space")
    again = SoundSpace.load(path)
    z = np.random.default_rng(1).standard_normal((7, 8)).astype(np.float32)
    np.testing.assert_array_equal(again.decode(z), space.decode(z))
    np.testing.assert_array_equal(again.points, space.points)
    np.testing.assert_allclose(again.encode(space.decode(z)), space.encode(space.decode(z)), atol=1e-5)
    assert again.transform == space.transform and again.info["note"] == "ünïcode"
    for kind in ("ica", "pca", "none"):
        np.testing.assert_array_equal(again.projection(kind).forward, space.projection(kind).forward)
    np.testing.assert_array_equal(again.baseline.components, space.baseline.components)


def test_big_tensors_are_read_in_pieces_and_whole(space: SoundSpace, tmp_path: Path) -> None:
    from aego import space as space_module

    big = SoundSpace.untrained(latent_dim=8, seed=4)
    # 70 001 points: 2.2 MB, several pieces and a short last one
    big.points = np.random.default_rng(2).standard_normal((70_001, 8)).astype(np.float32)
    big.descriptors = {k: np.resize(v, 70_001) for k, v in big.descriptors.items()}
    assert big.points.nbytes > 4 * space_module.READ_CHUNK_BYTES
    again = SoundSpace.load(big.save(tmp_path / "big.space"))
    np.testing.assert_array_equal(again.points, big.points)
    for k, v in big.descriptors.items():
        np.testing.assert_array_equal(again.descriptors[k], v)


def test_a_space_whose_header_length_looks_like_a_pickle_still_loads(space: SoundSpace, tmp_path: Path) -> None:
    # a safetensors file begins with its header's length; 0x80 there is also how a pickle begins
    path = tmp_path / "s.space"
    for pad in range(300):
        space.info = {"pad": "x" * pad}
        space.save(path)
        if path.read_bytes()[:1] == b"\x80":
            break
    assert path.read_bytes()[:1] == b"\x80"
    assert SoundSpace.load(path).info["pad"] == space.info["pad"]


class _Marker:
    """Unpickling this object creates a file: proof that something was unpickled."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_a_pickle_is_refused_without_being_unpickled(tmp_path: Path, protocol: int) -> None:
    marker = tmp_path / "unpickled"
    evil = tmp_path / "evil.space"
    evil.write_bytes(pickle.dumps({"weights": _Marker(marker)}, protocol=protocol))
    with pytest.raises(SpaceFileError) as err:
        SoundSpace.load(evil)
    assert not marker.exists()
    assert "\n" not in str(err.value) and str(evil) in str(err.value)


def test_a_torch_checkpoint_is_refused_without_being_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    path = tmp_path / "model.pt"
    torch.save({"x": _Marker(marker)}, path)
    with pytest.raises(SpaceFileError, match="zip"):
        SoundSpace.load(path)
    assert not marker.exists()


def test_damaged_foreign_and_future_files_are_refused(space: SoundSpace, tmp_path: Path) -> None:
    good = space.save(tmp_path / "good.space")
    data = good.read_bytes()
    (tmp_path / "truncated.space").write_bytes(data[: len(data) // 2])
    (tmp_path / "garbage.space").write_bytes(np.random.default_rng(0).bytes(5000))
    (tmp_path / "empty.space").write_bytes(b"")
    save_file({"w": np.zeros(3, np.float32)}, str(tmp_path / "foreign.space"), metadata={"other": "tool"})
    # a newer format version
    from safetensors import safe_open

    with safe_open(str(good), framework="numpy") as f:
        doc = json.loads(f.metadata()["aego"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    save_file(tensors, str(tmp_path / "future.space"), metadata={"aego": json.dumps({**doc, "version": 99})})
    # the right format but a tensor missing
    del tensors["points"]
    save_file(tensors, str(tmp_path / "incomplete.space"), metadata={"aego": json.dumps(doc)})
    for name, hint in [("truncated", "not a readable"), ("garbage", "not a readable"), ("empty", "not a readable"),
                       ("foreign", "not a sound space"), ("future", "version 99"), ("incomplete", "damaged")]:
        with pytest.raises(SpaceFileError, match=hint) as err:
            SoundSpace.load(tmp_path / f"{name}.space")
        assert "\n" not in str(err.value)
    with pytest.raises(SpaceFileError, match="no sound-space file"):
        SoundSpace.load(tmp_path / "missing.space")
    assert issubclass(SpaceFileError, UsageError)


def test_bundled_names_resolve_into_the_package() -> None:
    for name in ("synthetic", "orchestral"):
        assert resolve(name).name == f"{name}.space"
        assert resolve(name).parent.name == "spaces"


def test_cli_refuses_a_pickle_with_one_line_and_status_2(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    evil = tmp_path / "evil.space"
    evil.write_bytes(pickle.dumps(_Marker(marker)))
    (tmp_path / "data").mkdir()
    result = subprocess.run([sys.executable, "-m", "aego", "eval", str(evil), str(tmp_path / "data")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "pickle" in result.stderr
    assert not marker.exists()


def test_untrained_space_respects_the_transform_it_is_given() -> None:
    t = Transform(sample_rate=16000, n_fft=512, hop=128, window_std=64.0)
    s = SoundSpace.untrained(t, latent_dim=3, seed=1)
    assert s.decode(np.zeros(3)).shape == (257,) and s.transform == t
