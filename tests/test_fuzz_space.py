"""Fuzzing the sound-space loader: a real (small, untrained) space file with its bytes flipped, cut and
extended; its JSON document with values replaced by values of any type; its tensors dropped, reshaped,
retyped; and files of other formats.

The only acceptable outcomes: a SoundSpace that decodes frames of the right shape, or SpaceFileError
(a UsageError: the command line prints one line and exits 2). The cases that once escaped (infinite
numbers in the document, absurd decoder sizes, NaN scales and weights) are plain tests at the end.
"""

from __future__ import annotations

import json
import math
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.numpy import save, save_file

from aego.errors import SpaceFileError
from aego.space import SoundSpace
from aego.transform import Transform
from aego.vae import VAEConfig

FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def space_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real space file, tiny so each mutated copy loads in a millisecond."""
    tf = Transform(n_fft=64, hop=16, window_std=8.0)
    cfg = VAEConfig(bins=tf.bins, latent_dim=2, enc_channels=(4,), enc_kernel=3, enc_stride=4, enc_hidden=8,
                    dec_hidden=(8,), dec_coarse=(2, 9), dec_stages=((4, 1, 3),))
    path = tmp_path_factory.mktemp("space") / "tiny.space"
    SoundSpace.untrained(tf, latent_dim=2, config=cfg).save(path)
    return path


def split(data: bytes) -> tuple[dict, bytes]:
    """A safetensors file's JSON header and data section."""
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8:8 + n]), data[8 + n:]


def join(header: dict, body: bytes) -> bytes:
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + body


def outcome(path: Path) -> SoundSpace | None:
    try:
        space = SoundSpace.load(path)
    except SpaceFileError as exc:
        assert str(path) in str(exc) or path.name in str(exc)
        return None
    out = space.decode(np.zeros((3, space.latent_dim), np.float32))
    assert out.shape == (3, space.transform.bins)
    assert space.projection("ica").dims == space.latent_dim
    return space


def test_the_tiny_space_is_a_valid_starting_point(space_file: Path) -> None:
    space = outcome(space_file)
    assert space is not None and np.all(np.isfinite(space.decode(np.zeros(2, np.float32))))


# -- the whole file, byte by byte ------------------------------------------------------------------------------
@pytest.mark.timeout(120)
@FUZZ
@given(data=st.data())
def test_bytes_flipped_cut_and_extended(space_file: Path, tmp_path: Path, data: st.DataObject) -> None:
    raw = bytearray(space_file.read_bytes())
    header_end = 8 + struct.unpack("<Q", raw[:8])[0]
    for _ in range(data.draw(st.integers(1, 4))):
        how = data.draw(st.sampled_from(["flip-header", "flip-size", "flip", "cut", "extend", "zero", "insert"]))
        if how == "flip-header" and len(raw) > 8:
            i = data.draw(st.integers(8, min(header_end, len(raw)) - 1))
            raw[i] ^= 1 << data.draw(st.integers(0, 7))
        elif how == "flip-size" and len(raw) >= 8:
            raw[data.draw(st.integers(0, 7))] = data.draw(st.integers(0, 255))
        elif how == "flip" and raw:
            i = data.draw(st.integers(0, len(raw) - 1))
            raw[i] ^= 1 << data.draw(st.integers(0, 7))
        elif how == "cut":
            del raw[data.draw(st.integers(0, len(raw))):]
        elif how == "extend":
            raw += data.draw(st.binary(min_size=1, max_size=64))
        elif how == "zero" and raw:
            i = data.draw(st.integers(0, len(raw) - 1))
            n = len(raw[i:i + data.draw(st.integers(1, 64))])
            raw[i:i + n] = b"\0" * n
        elif how == "insert":
            i = data.draw(st.integers(0, len(raw)))
            raw[i:i] = data.draw(st.binary(min_size=1, max_size=16))
    path = tmp_path / "mutated.space"
    path.write_bytes(bytes(raw))
    outcome(path)


# -- the JSON document ----------------------------------------------------------------------------------------------
json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10 ** 6, 10 ** 6),
              st.floats(-1e6, 1e6, allow_nan=False), st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=10)


def paths_of(doc: object, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += paths_of(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += paths_of(v, (*prefix, i))
    return out


@pytest.mark.timeout(120)
@FUZZ
@given(data=st.data())
def test_document_values_replaced(space_file: Path, tmp_path: Path, data: st.DataObject) -> None:
    header, body = split(space_file.read_bytes())
    doc = json.loads(header["__metadata__"]["aego"])
    for _ in range(data.draw(st.integers(1, 3))):
        where = data.draw(st.sampled_from(paths_of(doc)))
        new = data.draw(json_value | st.sampled_from([0, -1, 1, 2, 3, 10 ** 6, "", [], {}, None, 1.5]))
        if not where:
            doc = new
            continue
        parent = doc
        for key in where[:-1]:
            parent = parent[key]
        if data.draw(st.integers(0, 4)) == 0 and isinstance(parent, dict):
            del parent[where[-1]]
        else:
            parent[where[-1]] = new
    header["__metadata__"]["aego"] = json.dumps(doc) if data.draw(st.integers(0, 9)) else data.draw(st.text())
    path = tmp_path / "doc.space"
    path.write_bytes(join(header, body))
    outcome(path)


# -- the tensors ------------------------------------------------------------------------------------------------------
@pytest.mark.timeout(120)
@FUZZ
@given(data=st.data())
def test_tensors_dropped_reshaped_retyped(space_file: Path, tmp_path: Path, data: st.DataObject) -> None:
    from safetensors import safe_open

    with safe_open(str(space_file), framework="numpy") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open has no iterator
    names = sorted(tensors)
    for _ in range(data.draw(st.integers(1, 3))):
        name = data.draw(st.sampled_from(names))
        how = data.draw(st.sampled_from(["drop", "reshape", "retype", "empty", "extra", "grow"]))
        if how == "drop":
            tensors.pop(name, None)
        elif name not in tensors:
            continue
        elif how == "reshape":
            tensors[name] = np.ascontiguousarray(tensors[name].reshape(-1))
        elif how == "retype":
            dtype = data.draw(st.sampled_from([np.float16, np.float64, np.int32, np.uint8, np.int64, np.bool_]))
            tensors[name] = tensors[name].astype(dtype)
        elif how == "empty":
            tensors[name] = np.zeros((0, *tensors[name].shape[1:]), tensors[name].dtype)
        elif how == "extra":
            tensors["model." + data.draw(st.text("abc._0123", min_size=1, max_size=10))] = np.ones(3, np.float32)
        elif how == "grow":
            tensors[name] = np.concatenate([tensors[name], tensors[name]]) if tensors[name].ndim else tensors[name]
    path = tmp_path / "tensors.space"
    save_file(tensors, str(path), metadata=meta)
    outcome(path)


# -- files that are not spaces ---------------------------------------------------------------------------
@pytest.mark.timeout(120)
@FUZZ
@given(st.binary(max_size=4096))
def test_random_files(tmp_path: Path, blob: bytes) -> None:
    path = tmp_path / "random.space"
    path.write_bytes(blob)
    assert outcome(path) is None


def test_other_formats_are_refused_with_a_clear_error(tmp_path: Path) -> None:
    files = {
        "empty.space": b"",
        "text.space": b"hello\n",
        "json.space": json.dumps({"format": "aego-space", "version": 1}).encode(),
        "npz.space": b"PK\x03\x04" + b"\0" * 100,
        "hdf5.space": b"\x89HDF\r\n\x1a\n" + b"\0" * 100,
        "plain.space": save({"x": np.zeros(3, np.float32)}),  # a safetensors file with no ægo document
        "foreign.space": save({"x": np.zeros(3, np.float32)}, metadata={"aego": json.dumps({"format": "other"})}),
        "v2.space": save({"x": np.zeros(3, np.float32)},
                         metadata={"aego": json.dumps({"format": "aego-space", "version": 2})}),
        "notjson.space": save({"x": np.zeros(3, np.float32)}, metadata={"aego": "{not json"}),
        "deep.space": save({"x": np.zeros(3, np.float32)}, metadata={"aego": "[" * 100_000 + "]" * 100_000}),
        "hugeheader.space": struct.pack("<Q", 2 ** 63) + b"{}",
    }
    zpath = tmp_path / "zip.space"
    with zipfile.ZipFile(zpath, "w") as z:
        z.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    for name, blob in files.items():
        (tmp_path / name).write_bytes(blob)
    for name in [*files, "zip.space"]:
        with pytest.raises(SpaceFileError) as info:
            SoundSpace.load(tmp_path / name)
        assert "\n" not in str(info.value), name
    (tmp_path / "folder.space").mkdir()
    for bad in (tmp_path / "folder.space", tmp_path / "missing.space"):
        with pytest.raises(SpaceFileError):
            SoundSpace.load(bad)


# -- cases that once escaped, kept as plain tests -----------------------------------------------------------
def rewrite(space_file: Path, path: Path, change) -> Path:
    header, body = split(space_file.read_bytes())
    doc = json.loads(header["__metadata__"]["aego"])
    change(doc)
    header["__metadata__"]["aego"] = json.dumps(doc)  # json writes Infinity/NaN, which json reads back
    path.write_bytes(join(header, body))
    return path


def test_infinite_number_in_the_document(space_file: Path, tmp_path: Path) -> None:
    with pytest.raises(SpaceFileError):
        SoundSpace.load(rewrite(space_file, tmp_path / "inf.space", lambda d: d["transform"].update(n_fft=math.inf)))


def test_absurd_upsampling_factor(space_file: Path, tmp_path: Path) -> None:
    with pytest.raises(SpaceFileError):
        SoundSpace.load(rewrite(space_file, tmp_path / "huge.space",
                                lambda d: d["vae"].update(dec_stages=[[10 ** 13, 1, 3]])))


def test_nan_scale_is_refused(space_file: Path, tmp_path: Path) -> None:
    path = rewrite(space_file, tmp_path / "nan.space", lambda d: d["normalisation"].update(scale=math.nan))
    try:
        space = SoundSpace.load(path)
    except SpaceFileError:
        return
    assert np.all(np.isfinite(space.decode(np.zeros(space.latent_dim, np.float32))))


def test_non_finite_weights_are_refused(space_file: Path, tmp_path: Path) -> None:
    from safetensors import safe_open

    with safe_open(str(space_file), framework="numpy") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    name = next(k for k in sorted(tensors) if k.startswith("model.decoder_mlp.") and k.endswith(".bias"))
    tensors[name] = np.full_like(tensors[name], np.nan)
    path = tmp_path / "nanweights.space"
    save_file(tensors, str(path), metadata=meta)
    try:
        space = SoundSpace.load(path)
    except SpaceFileError:
        return
    assert np.all(np.isfinite(space.decode(np.zeros(space.latent_dim, np.float32))))
