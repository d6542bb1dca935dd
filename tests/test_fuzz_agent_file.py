"""Fuzzing the agent-file loader (``explorer.load``, used by ``--resume``): real saved explorers (Deep
TAMER and the random walk) with their JSON metadata values replaced by values of any type, their arrays
dropped, reshaped, retyped or made NaN, their bytes flipped and cut, and files that are not agent files.

The documented outcomes are the only acceptable ones: the file is used (``load`` returns True and the
explorer acts normally afterwards), or the documented fresh start (``load`` returns False, says so in
``messages``, and keeps the unusable file aside as ``NAME.corrupt-<time>``). ``load`` never raises.

The cases that once escaped ``load`` (metadata of the wrong JSON type, tables that are lists, empty
novelty rows, infinite dims, deep nesting, a negative generator state, a position that disagrees with
its dims) are kept as plain tests at the end.
"""

from __future__ import annotations

import json
import logging
import math
import struct
import time
from pathlib import Path

import numpy as np
import pytest
from aego.agent import make_explorer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors import safe_open
from safetensors.numpy import save, save_file

FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])



@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory):
    """One explorer of each kind that has acted and learned a little, saved; and the explorers to load into."""
    folder = tmp_path_factory.mktemp("agents")
    files, loaders = {}, {}
    logging.getLogger("aego").setLevel(logging.ERROR)  # the fresh-start warnings are the expected outcome here
    for kind in ("random", "deep-tamer"):
        e = make_explorer(kind, None, 0)
        e.configure(2, np.array([0.5, 0.5]), 0.01)
        for _ in range(12):
            e.act(time.monotonic())
            e.feedback(1.0, time.monotonic(), "osc")
        files[kind] = folder / f"{kind}.agent"
        e.save(files[kind])
        e.close()
        loaders[kind] = make_explorer(kind, None, 1)
    yield files, loaders
    for e in loaders.values():
        e.close()


def read(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    with safe_open(str(path), framework="numpy") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata())  # noqa: SIM118


def outcome(explorer, path: Path, broken_key: object = "?") -> bool:
    """Load; check the documented outcome (``broken_key`` names the damaged key, for the failure report)."""
    before = len(explorer.messages)
    used = explorer.load(path)
    if used:
        # As the runner does on --resume: enter the section (its dims and the position along them), then act.
        explorer.configure(2, position=[0.5, 0.5])
        action = explorer.act(time.monotonic())
        pos = np.asarray(action.position, dtype=np.float64)
        assert pos.shape == (explorer.dims,) and np.all(np.isfinite(pos)) and np.all((pos >= 0) & (pos <= 1))
        assert 0 <= action.dim < explorer.dims and action.direction in (-1, 1)
    else:
        assert len(explorer.messages) == before + 1 and "starting fresh" in explorer.messages[-1]
        assert not path.exists()  # set aside, never overwritten by the next save
        assert list(path.parent.glob(path.name + ".corrupt-*"))
    return used


def test_saved_files_are_valid_starting_points(saved, tmp_path: Path) -> None:
    files, loaders = saved
    for kind, src in files.items():
        path = tmp_path / src.name
        path.write_bytes(src.read_bytes())
        assert outcome(loaders[kind], path) is True


# -- the JSON metadata ---------------------------------------------------------------------------------------------
json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10 ** 6, 10 ** 6), st.floats(-1e6, 1e6, allow_nan=False),
              st.text(max_size=10)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=8)


def paths_of(doc: object, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += paths_of(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:4]):
            out += paths_of(v, (*prefix, i))
    return out


@pytest.mark.timeout(120)
@FUZZ
@given(data=st.data())
def test_metadata_values_replaced(saved, tmp_path: Path, data: st.DataObject) -> None:
    files, loaders = saved
    kind = data.draw(st.sampled_from(sorted(files)))
    arrays, header = read(files[kind])
    meta = json.loads(header["meta"])
    where = data.draw(st.sampled_from(paths_of(meta)))
    new = data.draw(json_value | st.sampled_from([[0.5], [0.5] * 5, 0, 3, 65, -1, 1e6, "x", None]))
    if not where:
        meta = new
    else:
        parent = meta
        for key in where[:-1]:
            parent = parent[key]
        parent[where[-1]] = new
    header["meta"] = json.dumps(meta)
    path = tmp_path / "meta.agent"
    save_file(arrays, str(path), metadata=header)
    outcome(loaders[kind], path, where[0] if where else None)


@pytest.mark.timeout(120)
@FUZZ
@given(data=st.data())
def test_arrays_dropped_reshaped_retyped(saved, tmp_path: Path, data: st.DataObject) -> None:
    files, loaders = saved
    kind = data.draw(st.sampled_from(sorted(files)))
    arrays, header = read(files[kind])
    name = data.draw(st.sampled_from(sorted(arrays)))
    how = data.draw(st.sampled_from(["drop", "reshape", "retype", "nan", "inf", "empty", "grow"]))
    a = arrays[name]
    if how == "drop":
        del arrays[name]
    elif how == "reshape":
        arrays[name] = np.ascontiguousarray(a.reshape(-1))
    elif how == "retype":
        arrays[name] = a.astype(data.draw(st.sampled_from([np.float16, np.float64, np.int32, np.uint8, np.bool_])))
    elif how in ("nan", "inf") and a.dtype.kind == "f" and a.size:
        a = a.copy()
        a.reshape(-1)[data.draw(st.integers(0, a.size - 1))] = np.nan if how == "nan" else np.inf
        arrays[name] = a
    elif how == "empty":
        arrays[name] = np.zeros((0, *a.shape[1:]), a.dtype)
    elif how == "grow" and a.ndim:
        arrays[name] = np.concatenate([a, a])
    path = tmp_path / "arrays.agent"
    save_file(arrays, str(path), metadata=header)
    outcome(loaders[kind], path)


@pytest.mark.timeout(120)
@FUZZ
@given(data=st.data())
def test_bytes_flipped_and_cut(saved, tmp_path: Path, data: st.DataObject) -> None:
    files, loaders = saved
    kind = data.draw(st.sampled_from(sorted(files)))
    raw = bytearray(files[kind].read_bytes())
    header_end = 8 + struct.unpack("<Q", raw[:8])[0]
    for _ in range(data.draw(st.integers(1, 3))):
        how = data.draw(st.sampled_from(["flip-header", "flip", "cut", "extend"]))
        if how == "flip-header" and len(raw) > 8:
            i = data.draw(st.integers(8, min(header_end, len(raw)) - 1))
            raw[i] ^= 1 << data.draw(st.integers(0, 7))
        elif how == "flip" and raw:
            i = data.draw(st.integers(0, len(raw) - 1))
            raw[i] ^= 1 << data.draw(st.integers(0, 7))
        elif how == "cut":
            del raw[data.draw(st.integers(0, len(raw))):]
        elif how == "extend":
            raw += data.draw(st.binary(min_size=1, max_size=32))
    path = tmp_path / "bytes.agent"
    path.write_bytes(bytes(raw))
    outcome(loaders[kind], path)


@pytest.mark.timeout(120)
@FUZZ
@given(blob=st.binary(max_size=2048))
def test_random_files_mean_a_fresh_start(saved, tmp_path: Path, blob: bytes) -> None:
    _files, loaders = saved
    path = tmp_path / "random.agent"
    path.write_bytes(blob)
    assert outcome(loaders["random"], path) is False


def test_missing_file_and_foreign_files(saved, tmp_path: Path) -> None:
    _files, loaders = saved
    e = loaders["deep-tamer"]
    assert e.load(tmp_path / "missing.agent") is False and "starting fresh" in e.messages[-1]
    foreign = {
        "space.agent": save({"x": np.zeros(3, np.float32)}, metadata={"aego": "{}"}),
        "v2.agent": save({"x": np.zeros(3, np.float32)}, metadata={"format": "aego-agent", "version": "2",
                                                                    "meta": "{}"}),
        "nometa.agent": save({"x": np.zeros(3, np.float32)}, metadata={"format": "aego-agent", "version": "1"}),
        "badjson.agent": save({"x": np.zeros(3, np.float32)}, metadata={"format": "aego-agent", "version": "1",
                                                                         "meta": "{nope"}),
        "kind.agent": save({"x": np.zeros(3, np.float32)}, metadata={"format": "aego-agent", "version": "1",
                                                                      "meta": json.dumps({"kind": "random"})}),
    }
    for name, blob in foreign.items():
        path = tmp_path / name
        path.write_bytes(blob)
        assert outcome(e, path) is False, name


# -- cases that once escaped load() ----------------------------------------------------------------
def _with_meta(saved, tmp_path: Path, kind: str, change) -> tuple[object, Path]:
    files, loaders = saved
    arrays, header = read(files[kind])
    meta = json.loads(header["meta"])
    header["meta"] = json.dumps(change(meta))
    path = tmp_path / "known.agent"
    save_file(arrays, str(path), metadata=header)
    return loaders[kind], path


def test_metadata_that_is_not_an_object(saved, tmp_path: Path) -> None:
    e, path = _with_meta(saved, tmp_path, "random", lambda m: [m])
    assert e.load(path) is False


@pytest.mark.parametrize("key", ["counts", "by_source", "space_slots", "novelty", "novelty_visits"])
def test_a_table_that_is_a_list(saved, tmp_path: Path, key: str) -> None:
    e, path = _with_meta(saved, tmp_path, "deep-tamer", lambda m: {**m, key: [1, 2]})
    assert e.load(path) is False


def test_empty_novelty_row(saved, tmp_path: Path) -> None:
    def change(m: dict) -> dict:
        m["novelty"] = {ctx: [[[]] for _ in grids] for ctx, grids in m["novelty"].items()} or {"x": [[[]]]}
        return m

    e, path = _with_meta(saved, tmp_path, "deep-tamer", change)
    assert e.load(path) is False


def test_infinite_dims(saved, tmp_path: Path) -> None:
    e, path = _with_meta(saved, tmp_path, "random", lambda m: {**m, "dims": math.inf})
    assert e.load(path) is False


def test_deeply_nested_metadata(saved, tmp_path: Path) -> None:
    files, loaders = saved
    arrays, header = read(files["random"])
    header["meta"] = "[" * 100_000 + "]" * 100_000
    path = tmp_path / "deep.agent"
    save_file(arrays, str(path), metadata=header)
    assert loaders["random"].load(path) is False


def test_negative_generator_state(saved, tmp_path: Path) -> None:
    def change(m: dict) -> dict:
        m["rng"]["state"]["state"] = -1
        return m

    e, path = _with_meta(saved, tmp_path, "random", change)
    assert e.load(path) is False


@pytest.mark.parametrize("change", [{"position": []}, {"position": 0}, {"dims": 0}, {"dims": 5}])
def test_position_that_disagrees_with_dims(saved, tmp_path: Path, change: dict) -> None:
    e, path = _with_meta(saved, tmp_path, "random", lambda m: {**m, **change})
    if e.load(path):
        action = e.act(time.monotonic())
        assert np.asarray(action.position).shape == (e.dims,) and e.dims >= 1
