"""Integer codes of the curiosity's tiles (pure Python: the settings check it without loading numba).

A tile of ``tiling`` t holding a position has one integer index per axis, in ``[0, floor(1 / cell) + 1]``;
its code packs the indices (``bits`` each, axis 0 lowest) and then the tiling (``tiling_bits``).
"""

from __future__ import annotations

import math


def code_bits(cell: float, tilings: int) -> tuple[int, int]:
    """Bits per axis for a tile index in ``[0, floor(1 / cell) + 1]``, and bits for the tiling index."""
    return max(1, math.ceil(math.log2(math.floor(1.0 / cell) + 3))), max(1, math.ceil(math.log2(max(tilings, 2))))


def fits(cell: float, tilings: int, max_dims: int) -> bool:
    """Whether codes of ``max_dims`` axes fit in 62 bits."""
    bits, tiling_bits = code_bits(cell, tilings)
    return bits * max_dims + tiling_bits <= 62


def encode(tile: list[int], tiling: int, bits: int, tiling_bits: int) -> int:
    code = 0
    for d, v in enumerate(tile):
        code |= v << (bits * d)
    return (code << tiling_bits) | tiling


def decode(code: int, dims: int, bits: int, tiling_bits: int) -> tuple[int, tuple[int, ...]]:
    """``code -> (tiling, tile)``."""
    tiling = code & ((1 << tiling_bits) - 1)
    code >>= tiling_bits
    return tiling, tuple((code >> (bits * d)) & ((1 << bits) - 1) for d in range(dims))
