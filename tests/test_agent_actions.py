"""Actions: ± one step on one active axis; masked at the bounds and on inactive axes."""

from __future__ import annotations

import numpy as np
from aego.agent.actions import action_index, apply, index_action, valid_mask


def test_index_round_trip() -> None:
    for dim in range(8):
        for direction in (-1, 1):
            assert index_action(action_index(dim, direction)) == (dim, direction)


def test_mask_at_bounds_and_inactive_axes() -> None:
    mask = valid_mask(np.array([0.0, 1.0, 0.5]), max_dims=8)
    assert mask.tolist()[:6] == [False, True, True, False, True, True]
    assert not mask[6:].any()


def test_apply_clips_to_the_unit_box_and_copies() -> None:
    here = np.array([0.995, 0.5])
    there = apply(here, action_index(0, 1), 0.01)
    assert there[0] == 1.0 and here[0] == 0.995
    assert apply(np.array([0.004]), action_index(0, -1), 0.01)[0] == 0.0


def test_a_random_walk_never_leaves_the_box() -> None:
    from aego.agent import AgentConfig, make_explorer

    walk = make_explorer("random", AgentConfig(step=0.1), seed=3)
    walk.configure(2, [0.0, 1.0])
    for k in range(500):
        action = walk.act(k * 0.05)
        assert np.all((action.position >= 0.0) & (action.position <= 1.0))
