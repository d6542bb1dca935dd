"""The explorer's compiled code (numba), in one module: the timing loop's decision and what it reads.

One module on purpose: numba's on-disk cache of a function is refreshed when *its* file changes, not
when a compiled function it calls changes in another file; kept together, an edit to any of them
refreshes all. Callers use the wrappers in :mod:`~aego.agent.reward_model` (the twin's forward),
:mod:`~aego.agent.curiosity` (visit counts) and :mod:`~aego.agent.policy` (the decision).

Everything here on the timing path holds the interpreter for its few tens of microseconds on purpose
(no ``nogil``): releasing it would let the learner thread take it, and the decision would wait to get
it back. Why compiled at all: measured on the 2-core build machine (a VM) while other jobs ran, called
every 30 ms, each Python or NumPy step of a decision cost 5-20 times what it cost in a tight loop, its
code and data having left the caches since the last action (the reward model's forward in NumPy:
50 µs in a loop, 300-400 µs paced; compiled: 15 µs / 60-90 µs).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

EDGE = 1e-9  # as actions.valid_mask: a coordinate this close to a bound is on it


# -- the reward model's forward (see reward_model.Twin) -------------------------------------------------
@njit(cache=True, fastmath=True)
def move_values_into(position: np.ndarray, step: float, slot: int, flat: np.ndarray, layout: np.ndarray,
                     enc: np.ndarray, out: np.ndarray) -> None:
    """N of the position each move leads to, ``out (2 * dims,)``, (down, up) per axis, clipped to [0, 1].

    The first layer is split per axis: the neighbours differ from here on one axis each, so each costs
    that axis's rows of the first layer, not all of them. ``flat``/``layout``/``enc``: see ``Twin``.
    """
    max_dims, max_spaces, n_feat, hidden, n_rest = layout[0], layout[1], layout[2], layout[3], layout[4]
    dims = position.shape[0]
    n = 2 * dims
    flags_at = max_dims * n_feat * hidden
    b1_at = flags_at + (max_dims + max_spaces) * hidden
    feats = np.empty(n_feat)
    here = np.zeros((dims, hidden))  # each axis's share of the first layer at the current position
    base = np.empty(hidden)
    space_at = flags_at + (max_dims + slot % max_spaces) * hidden
    for h in range(hidden):
        base[h] = flat[b1_at + h] + flat[space_at + h]
    for d in range(dims):
        _axis_features(position[d], enc, feats)
        for k in range(n_feat):
            f = feats[k]
            row = (d * n_feat + k) * hidden
            for h in range(hidden):
                here[d, h] += f * flat[row + h]
        for h in range(hidden):
            base[h] += here[d, h] + flat[flags_at + d * hidden + h]
    widest = hidden
    for i in range(n_rest):
        widest = max(widest, layout[6 + 2 * i])
    x = np.empty((n, widest))
    for m in range(n):
        d = m // 2
        _axis_features(min(1.0, max(0.0, position[d] + (step if m % 2 == 1 else -step))), enc, feats)
        for h in range(hidden):
            x[m, h] = base[h] - here[d, h]
        for k in range(n_feat):
            f = feats[k]
            row = (d * n_feat + k) * hidden
            for h in range(hidden):
                x[m, h] += f * flat[row + h]
    offset = b1_at + hidden
    width_in = hidden
    y = np.empty((n, widest))
    for i in range(n_rest):
        n_in, n_out = layout[5 + 2 * i], layout[6 + 2 * i]
        for m in range(n):
            for j in range(n_out):
                y[m, j] = flat[offset + n_in * n_out + j]
            for h in range(width_in):
                a = max(x[m, h], 0.0)  # ReLU of the layer before
                if a != 0.0:
                    row = offset + h * n_out
                    for j in range(n_out):
                        y[m, j] += a * flat[row + j]
        offset += n_in * n_out + n_out
        x, y = y, x
        width_in = n_out
    for m in range(n):
        out[m] = x[m, 0]


@njit(cache=True, fastmath=True, inline="always")
def _axis_features(u: float, enc: np.ndarray, out: np.ndarray) -> None:
    """The encoding's entries of one axis at ``u``: ``(u - 0.5) * scale``, then the bumps (``enc``: scale,
    width, centres; as ``StateEncoder.axis_features``)."""
    scale, width = enc[0], enc[1]
    out[0] = (u - 0.5) * scale
    for k in range(out.shape[0] - 1):
        z = (u - enc[2 + k]) / width
        out[k + 1] = math.exp(-0.5 * z * z)


# -- visit counts (see curiosity.NoveltyCounter) ---------------------------------------------------------
@njit(cache=True)
def _slot(keys: np.ndarray, code: int) -> int:
    """Where ``code`` is, or the free slot where it would go (linear probing on a splitmix64 hash)."""
    z = np.uint64(code) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    mask = np.int64(keys.shape[0] - 1)
    i = np.int64(z & np.uint64(mask))
    while keys[i] != code and keys[i] != -1:
        i = (i + np.int64(1)) & mask
    return i


@njit(cache=True)
def _insert(keys: np.ndarray, counts: np.ndarray, code: int, n: int) -> int:
    """Add ``n`` to ``code``'s count; 1 if it took a new slot."""
    i = _slot(keys, code)
    new = 1 if keys[i] == -1 else 0
    keys[i] = code
    counts[i] += n
    return new


# Without the interpreter: a table that grows is private to the learner until it is swapped in.
@njit(cache=True, nogil=True)
def insert_many(keys: np.ndarray, counts: np.ndarray, codes: np.ndarray, ns: np.ndarray) -> int:
    """Add ``ns`` to the counts of ``codes`` (both ``(n,)``); how many new slots they took."""
    new = 0
    for i in range(codes.shape[0]):
        new += _insert(keys, counts, codes[i], ns[i])
    return new


@njit(cache=True)
def _tile_code(position: np.ndarray, tiling: int, params: np.ndarray) -> int:
    """The code of the tile holding ``position`` in ``tiling`` (``params``: cell, tilings, bits, tiling
    bits); offsets ``((t · (2d + 1)) mod T) / T · cell`` per axis d, asymmetric so that the tilings do
    not line up along the diagonal."""
    cell, tilings, bits, tiling_bits = params[0], int(params[1]), int(params[2]), int(params[3])
    code = 0
    for d in range(position.shape[0]):
        offset = ((tiling * (2 * d + 1)) % tilings) / tilings * cell
        index = min(max(math.floor((position[d] + offset) / cell), 0), (1 << bits) - 1)  # [0, 1] fits
        code |= index << (bits * d)
    return (code << tiling_bits) | tiling


@njit(cache=True)
def visit(keys: np.ndarray, counts: np.ndarray, position: np.ndarray, params: np.ndarray) -> int:
    """One increment in each tiling; how many new slots it took."""
    new = 0
    for t in range(int(params[1])):
        new += _insert(keys, counts, _tile_code(position, t, params), 1)
    return new


@njit(cache=True)
def _count(keys: np.ndarray, counts: np.ndarray, position: np.ndarray, params: np.ndarray) -> float:
    total = 0
    for t in range(int(params[1])):
        i = _slot(keys, _tile_code(position, t, params))
        if keys[i] != -1:
            total += counts[i]
    return total / params[1]


@njit(cache=True)
def count_many(keys: np.ndarray, counts: np.ndarray, positions: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Pseudo-counts ``(n, dims) -> (n,)``: the mean over tilings of the visits of each position's tile."""
    out = np.empty(positions.shape[0])
    for i in range(positions.shape[0]):
        out[i] = _count(keys, counts, positions[i], params)
    return out


@njit(cache=True)
def move_bonus(keys: np.ndarray, counts: np.ndarray, position: np.ndarray, step: float, params: np.ndarray,
               lookahead: int, cap: float, out: np.ndarray) -> None:
    """The novelty bonus of each move (``out (2 * dims,)``, (down, up) per axis): the mean of
    ``min(cap, (N + 0.01) ** -1/2)`` over the positions 1..``lookahead`` steps along it (clipped to [0, 1])."""
    point = position.copy()
    for m in range(2 * position.shape[0]):
        d = m // 2
        sign = 1.0 if m % 2 == 1 else -1.0
        total = 0.0
        for j in range(1, lookahead + 1):
            point[d] = min(1.0, max(0.0, position[d] + sign * j * step))
            total += min(cap, 1.0 / math.sqrt(_count(keys, counts, point, params) + 0.01))
        point[d] = position[d]
        out[m] = total / lookahead


# -- the decision (see policy.decide) --------------------------------------------------------------------
@njit(cache=True)
def decide(position: np.ndarray, step: float, look: float, slot: int, flat: np.ndarray, layout: np.ndarray,
           enc: np.ndarray, keys: np.ndarray, counts: np.ndarray, novelty: np.ndarray, beta: float,
           persistence: float, last: int, explore: bool, u: float, tie: float) -> int:
    """The index of the next move; see :func:`aego.agent.policy.decide` (``look``: how far along each
    move N is evaluated, a multiple of ``step``; ``tie``: moves within this of the best are drawn among)."""
    n = 2 * position.shape[0]
    allowed = np.empty(n, np.int64)
    n_allowed = 0
    for m in range(n):
        p = position[m // 2]
        if (p < 1.0 - EDGE) if m % 2 == 1 else (p > EDGE):
            allowed[n_allowed] = m
            n_allowed += 1
    if explore:
        return allowed[min(int(u * n_allowed), n_allowed - 1)]
    values = np.empty(n)
    move_values_into(position, look, slot, flat, layout, enc, values)
    if beta > 0.0:
        bonus = np.empty(n)
        move_bonus(keys, counts, position, step, novelty[:4], int(novelty[4]), novelty[5], bonus)
        for m in range(n):
            values[m] += beta * bonus[m]
    if 0 <= last < n:
        values[last] += persistence
    best = -np.inf
    for k in range(n_allowed):
        best = max(best, values[allowed[k]])
    ties = 0
    for k in range(n_allowed):
        if values[allowed[k]] >= best - tie:
            ties += 1
    pick = min(int(u * ties), ties - 1)
    for k in range(n_allowed):
        if values[allowed[k]] >= best - tie:
            if pick == 0:
                return allowed[k]
            pick -= 1
    return allowed[0]
