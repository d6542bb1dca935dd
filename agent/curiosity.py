"""Curiosity: pseudo-counts of visited positions over a tile-coded grid, and the novelty bonus.

Each visit adds exactly one to the tile it falls in, in each of ``tilings`` offset grids; the
pseudo-count of a position is the mean of its tiles' counts. That mean is what Bellemare et al.'s
``N = ρ(1 - ρ')/(ρ' - ρ)`` gives for a single counting grid (exactly) and a mixture of grids (to first
order), without Co-Explorer's two faults: it multiplied the pseudo-count by ρ once more than the
formula says, and counted the tiles of a visit twice.

Counts are kept per context (space and number of active axes), so each space and each section
size has its own map of where the explorer has been; returning to one finds it as it was left.
The counting and the reading are compiled (numba): the timing loop reads the counts inside its one
compiled decision, the learner thread counts the visits.
"""

from __future__ import annotations

import math
import threading

import numpy as np
from aego.agent import kernels
from aego.agent.tiles import code_bits, decode, encode, fits


def novelty_bonus(count: np.ndarray | float, cap: float) -> np.ndarray:
    """``min(cap, (N + 0.01) ** -1/2)``: 1 at a position seen once, ``cap`` where nothing was seen."""
    return np.minimum(cap, 1.0 / np.sqrt(np.asarray(count, dtype=np.float64) + 0.01))


class NoveltyCounter:
    """Tile-coded visit counts. Positions are normalised coordinates in [0, 1], shape ``(dims,)``.

    Storage: per context, an open-addressing hash table of NumPy arrays (:class:`CountTable`), keyed
    by the tile's exact integer code (``bits`` per axis, then the tiling), so the timing loop's compiled
    decision reads the counts itself (:func:`aego.agent.kernels.move_bonus`) and the learner's compiled
    visits write them.
    Both hold the interpreter while they run, so they never overlap; a table that grows is replaced
    whole. ``max_dims * bits + tiling bits`` must fit in 62 bits (8 axes of 0.02-wide tiles use 50).
    """

    def __init__(self, cell: float, tilings: int, max_dims: int = 8) -> None:
        self.cell = float(cell)
        self.tilings = int(tilings)
        self.bits, self.tiling_bits = code_bits(self.cell, self.tilings)
        if not fits(self.cell, self.tilings, max_dims):
            raise ValueError(f"novelty tiles of {cell} over {max_dims} axes do not fit a 62-bit code")
        self.params = np.array([self.cell, self.tilings, self.bits, self.tiling_bits], dtype=np.float64)
        self.params.flags.writeable = False
        self.tables: dict[str, CountTable] = {}
        self.visits: dict[str, int] = {}
        self._lock = threading.Lock()  # visits against saving; reading counts needs no lock

    def table(self, context: str) -> CountTable:
        """The context's table (an empty one, not stored, if nothing was visited there)."""
        return self.tables.get(context, EMPTY_TABLE)

    def visit(self, context: str, position: np.ndarray) -> None:
        """Count one visit: one increment in each tiling."""
        with self._lock:
            table = self.tables.get(context)
            if table is None:
                table = self.tables[context] = CountTable.empty(64, len(position))
            if (table.used + self.tilings) * 2 > len(table.keys):
                table = self.tables[context] = table.grown()
            table.used += kernels.visit(table.keys, table.counts, np.asarray(position, dtype=np.float64), self.params)
            self.visits[context] = self.visits.get(context, 0) + 1

    def count(self, context: str, position: np.ndarray) -> float:
        """The pseudo-count of ``position``: mean over tilings of its tile's visits."""
        return float(self.count_many(context, np.asarray(position)[None, :])[0])

    def count_many(self, context: str, positions: np.ndarray) -> np.ndarray:
        """Pseudo-counts of ``positions`` ``(n, dims) -> (n,)``."""
        table = self.table(context)
        return kernels.count_many(table.keys, table.counts, np.asarray(positions, dtype=np.float64), self.params)

    def tile_counts(self, context: str) -> list[dict[tuple[int, ...], int]]:
        """Per tiling, ``{tile: visits}`` (tiles as integer coordinates, one per axis)."""
        table = self.tables.get(context)
        out: list[dict[tuple[int, ...], int]] = [{} for _ in range(self.tilings)]
        if table is None:
            return out
        dims = table.dims
        used = table.keys >= 0
        for code, n in zip(table.keys[used].tolist(), table.counts[used].tolist(), strict=True):
            tiling, tile = decode(code, dims, self.bits, self.tiling_bits)
            out[tiling][tile] = n
        return out

    def cells_visited(self, context: str) -> int:
        """How many tiles of the first tiling were visited."""
        table = self.tables.get(context)
        if table is None:
            return 0
        used = table.keys >= 0
        return int(np.count_nonzero(table.keys[used] & ((1 << self.tiling_bits) - 1) == 0))

    def state(self) -> dict:
        """Plain data for saving: ``{context: [[[*tile, count], ...] per tiling]}``."""
        with self._lock:
            contexts = list(self.tables)
        return {ctx: [[[*k, c] for k, c in grid.items()] for grid in self.tile_counts(ctx)] for ctx in contexts}

    def restore(self, data: dict, visits: dict[str, int]) -> None:
        if not isinstance(data, dict) or not isinstance(visits, dict):
            raise ValueError("novelty counts are not tables")
        tables: dict[str, CountTable] = {}
        top = (1 << self.bits) - 1
        for ctx, grids in data.items():
            if len(grids) != self.tilings:
                raise ValueError("novelty tilings do not match the settings")
            codes, counts, lengths = [], [], set()
            for tiling, grid in enumerate(grids):
                for row in grid:
                    if len(row) < 2:
                        raise ValueError("a novelty count row is too short")
                    tile, n = [int(v) for v in row[:-1]], int(row[-1])
                    lengths.add(len(tile))
                    if len(tile) * self.bits + self.tiling_bits > 62 or not all(0 <= v < top for v in tile) \
                            or not 0 < n < 2 ** 62:
                        raise ValueError("a novelty count row is out of range")
                    codes.append(encode(tile, tiling, self.bits, self.tiling_bits))
                    counts.append(n)
            if len(lengths) > 1:
                raise ValueError("novelty count rows differ in length")
            dims = lengths.pop() if lengths else 1
            capacity = 64
            while (len(codes) + self.tilings) * 2 > capacity:
                capacity *= 2
            table = CountTable.empty(capacity, dims)
            table.used = kernels.insert_many(table.keys, table.counts, np.array(codes, dtype=np.int64),
                                      np.array(counts, dtype=np.int64))
            tables[str(ctx)] = table
        self.tables = tables
        self.visits = {str(k): int(v) for k, v in visits.items()}


class CountTable:
    """An open-addressing hash table: ``keys`` (capacity,) int64 tile codes (-1: free), ``counts`` int64."""

    def __init__(self, keys: np.ndarray, counts: np.ndarray, used: int, dims: int) -> None:
        self.keys = keys
        self.counts = counts
        self.used = used
        self.dims = dims  # axes of the positions counted

    @classmethod
    def empty(cls, capacity: int, dims: int) -> CountTable:
        return cls(np.full(capacity, -1, dtype=np.int64), np.zeros(capacity, dtype=np.int64), 0, dims)

    def grown(self) -> CountTable:
        """A copy with twice the capacity (the old one stays valid for whoever still reads it)."""
        table = CountTable.empty(2 * len(self.keys), self.dims)
        used = self.keys >= 0
        table.used = kernels.insert_many(table.keys, table.counts, self.keys[used], self.counts[used])
        return table


EMPTY_TABLE = CountTable.empty(8, 0)  # never written (a first visit makes the context its own table); writeable so
# that the compiled code sees one array type, not a read-only variant to compile again mid-run


class CuriosityLevel:
    """The bonus scale β: grows toward ``full`` (time constant ``recovery`` s) while nobody gives feedback,
    shrinks (× ``decay``) at each feedback; ``retrigger()`` (``/aego/explore``) sets it to full at once.

    It starts at 0 (``begin``): a performer who starts teaching within the first seconds is not fought
    by curiosity; left alone, the explorer becomes curious within ``recovery`` seconds. The level and the
    time it was set are one tuple, replaced whole: the learner may change it while the actor reads it.
    """

    def __init__(self, full: float, decay: float, recovery: float) -> None:
        self.full = full
        self.decay = decay
        self.recovery = recovery
        self._state = (full, 0.0)  # (level, time of the last change)
        self.begun = False

    @property
    def level(self) -> float:
        return self._state[0]

    @level.setter
    def level(self, value: float) -> None:
        self._state = (float(value), self._state[1])

    @property
    def since(self) -> float:
        return self._state[1]

    def begin(self, now: float) -> None:
        self._state = (0.0, now)
        self.begun = True

    def at(self, now: float) -> float:
        level, since = self._state
        gap = max(0.0, now - since)
        return self.full - (self.full - level) * math.exp(-gap / self.recovery)

    def on_feedback(self, now: float) -> None:
        self._state = (self.at(now) * self.decay, now)

    def retrigger(self, now: float) -> None:
        self._state = (self.full, now)
