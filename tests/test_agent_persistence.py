"""Saving and loading the explorer: a round trip without pickle; a corrupt file means a fresh start."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import torch
from aego.agent import AgentConfig, make_explorer


def _trained(seed: int = 2):
    explorer = make_explorer("deep-tamer", AgentConfig(learner="sync"), seed=seed)
    explorer.set_space("synthetic")
    explorer.configure(2, [0.4, 0.6], 0.01)
    for k in range(120):
        explorer.act(k * 0.05)
        if k % 6 == 5:
            explorer.feedback(1.0 if k % 12 else -0.5, k * 0.05)
    return explorer


def _probe(explorer) -> np.ndarray:
    grid = np.stack(np.meshgrid(np.linspace(0, 1, 5), np.linspace(0, 1, 5)), -1).reshape(-1, 2)
    x = torch.from_numpy(explorer.encoder.encode_many(grid, explorer.space_slots[explorer.space]))
    with torch.no_grad():
        return explorer.model(x).numpy()


def test_round_trip(tmp_path) -> None:
    path = tmp_path / "agent.safetensors"
    explorer = _trained()
    explorer.save(path)
    raw = path.read_bytes()
    header_len = struct.unpack("<Q", raw[:8])[0]
    assert json.loads(raw[8 : 8 + header_len])["__metadata__"]["format"] == "aego-agent"  # safetensors, no pickle
    loaded = make_explorer("deep-tamer", AgentConfig(learner="sync"), seed=99)
    assert loaded.load(path) is True and loaded.messages == []
    np.testing.assert_allclose(_probe(loaded), _probe(explorer), atol=1e-6)
    assert loaded.space == "synthetic" and loaded.dims == 2
    np.testing.assert_allclose(loaded.position, explorer.position)
    assert loaded.counts == explorer.counts
    assert len(loaded.replay) == len(explorer.replay)
    np.testing.assert_array_equal(loaded.replay.arrays()["values"], explorer.replay.arrays()["values"])
    assert loaded.novelty.count("synthetic/2", explorer.position) == explorer.novelty.count(
        "synthetic/2", explorer.position)
    # The next decision is the same (same weights, same random state); the optimiser's moments and
    # the last seconds of trajectory are not saved, so later steps may part.
    assert explorer.act(10.0).position.tolist() == loaded.act(10.0).position.tolist()
    explorer.close()
    loaded.close()


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "foreign"])
def test_corrupt_file_starts_fresh_says_so_and_keeps_the_old_file(tmp_path, damage) -> None:
    path = tmp_path / "agent.safetensors"
    explorer = _trained()
    explorer.save(path)
    raw = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x00\x01 not an agent" * 50)
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        from safetensors.numpy import save_file

        save_file({"x": np.zeros(3, np.float32)}, str(path), metadata={"format": "something-else"})
    damaged = path.read_bytes()
    fresh = make_explorer("deep-tamer", AgentConfig(learner="sync"), seed=5)
    before = _probe(fresh)
    assert fresh.load(path) is False
    assert len(fresh.messages) == 1 and "starting fresh" in fresh.messages[0]
    np.testing.assert_array_equal(_probe(fresh), before)  # nothing half-loaded
    kept = list(tmp_path.glob("agent.safetensors.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == damaged
    assert kept[0].name in fresh.messages[0]
    fresh.save(path)  # the next save does not touch the kept file
    assert kept[0].read_bytes() == damaged
    explorer.close()
    fresh.close()


def test_missing_file_and_wrong_kind(tmp_path) -> None:
    walk = make_explorer("random", AgentConfig(), seed=0)
    assert walk.load(tmp_path / "nope.safetensors") is False
    assert "starting fresh" in walk.messages[0]
    walk.configure(3, [0.1, 0.2, 0.3])
    walk.save(tmp_path / "walk.safetensors")
    tamer = make_explorer("deep-tamer", AgentConfig(learner="sync"), seed=0)
    assert tamer.load(tmp_path / "walk.safetensors") is False
    assert "random" in tamer.messages[0]
    tamer.close()
