"""Curiosity: pseudo-counts of visited positions over a tile-coded grid, and the novelty bonus.

Each visit adds exactly one to the tile it falls in, in each of ``tilings`` offset grids; the
pseudo-count of a position is the mean of its tiles' counts. That mean is what Bellemare et al.'s
``N = ρ(1 - ρ')/(ρ' - ρ)`` gives for a single counting grid (exactly) and a mixture of grids (to first
order), without Co-Explorer's two faults: it multiplied the pseudo-count by ρ once more than the
formula says, and counted the tiles of a visit twice.

Counts are kept per context (space and number of active axes), so each space and each section
size has its own map of where the explorer has been; returning to one finds it as it was left.
"""

from __future__ import annotations

import math

import numpy as np


def novelty_bonus(count: np.ndarray | float, cap: float) -> np.ndarray:
    """``min(cap, (N + 0.01) ** -1/2)``: 1 at a position seen once, ``cap`` where nothing was seen."""
    return np.minimum(cap, 1.0 / np.sqrt(np.asarray(count, dtype=np.float64) + 0.01))


class NoveltyCounter:
    """Tile-coded visit counts. Positions are normalised coordinates, shape ``(dims,)``."""

    def __init__(self, cell: float, tilings: int) -> None:
        self.cell = float(cell)
        self.tilings = int(tilings)
        self.counts: dict[str, list[dict[tuple[int, ...], int]]] = {}
        self.visits: dict[str, int] = {}

    def _offsets(self, dims: int) -> np.ndarray:
        # Asymmetric displacements (1, 3, 5, ...) so tilings do not line up along the diagonal.
        t = np.arange(self.tilings)[:, None]
        odd = 2 * np.arange(dims)[None, :] + 1
        return ((t * odd) % self.tilings) / self.tilings * self.cell

    def _tiles(self, position: np.ndarray) -> list[tuple[int, ...]]:
        keys = np.floor((np.asarray(position)[None, :] + self._offsets(len(position))) / self.cell).astype(np.int64)
        return [tuple(row) for row in keys.tolist()]

    def visit(self, context: str, position: np.ndarray) -> None:
        """Count one visit: one increment in each tiling."""
        grids = self.counts.setdefault(context, [{} for _ in range(self.tilings)])
        for grid, key in zip(grids, self._tiles(position), strict=True):
            grid[key] = grid.get(key, 0) + 1
        self.visits[context] = self.visits.get(context, 0) + 1

    def count(self, context: str, position: np.ndarray) -> float:
        """The pseudo-count of ``position``: mean over tilings of its tile's visits."""
        return float(self.count_many(context, np.asarray(position)[None, :])[0])

    def count_many(self, context: str, positions: np.ndarray) -> np.ndarray:
        """Pseudo-counts of ``positions`` ``(n, dims) -> (n,)``."""
        grids = self.counts.get(context)
        n, dims = positions.shape
        if grids is None:
            return np.zeros(n)
        keys = np.floor((positions[:, None, :] + self._offsets(dims)[None, :, :]) / self.cell).astype(np.int64)
        rows = keys.tolist()
        return np.array([sum(g.get(tuple(k), 0) for g, k in zip(grids, row, strict=True)) for row in rows]) \
            / self.tilings

    def cells_visited(self, context: str) -> int:
        """How many tiles of the first tiling were visited."""
        grids = self.counts.get(context)
        return len(grids[0]) if grids else 0

    def state(self) -> dict:
        """Plain data for saving: ``{context: [[[*key, count], ...] per tiling]}``."""
        return {ctx: [[[*k, c] for k, c in grid.items()] for grid in grids] for ctx, grids in self.counts.items()}

    def restore(self, data: dict, visits: dict[str, int]) -> None:
        if not isinstance(data, dict) or not isinstance(visits, dict):
            raise ValueError("novelty counts are not tables")
        if any(len(row) < 2 for grids in data.values() for grid in grids for row in grid):
            raise ValueError("a novelty count row is too short")
        self.counts = {ctx: [{tuple(int(v) for v in row[:-1]): int(row[-1]) for row in grid} for grid in grids]
                       for ctx, grids in data.items()}
        if any(len(g) != self.tilings for g in self.counts.values()):
            raise ValueError("novelty tilings do not match the settings")
        self.visits = {k: int(v) for k, v in visits.items()}


class CuriosityLevel:
    """The bonus scale β: grows toward ``full`` (time constant ``recovery`` s) while nobody gives feedback,
    shrinks (× ``decay``) at each feedback; ``retrigger()`` (``/aego/explore``) sets it to full at once.

    It starts at 0 (``begin``): a performer who starts teaching within the first seconds is not fought
    by curiosity; left alone, the explorer becomes curious within ``recovery`` seconds.
    """

    def __init__(self, full: float, decay: float, recovery: float) -> None:
        self.full = full
        self.decay = decay
        self.recovery = recovery
        self.level = full
        self.since = 0.0  # time of the last change
        self.begun = False

    def begin(self, now: float) -> None:
        self.level = 0.0
        self.since = now
        self.begun = True

    def at(self, now: float) -> float:
        gap = max(0.0, now - self.since)
        return self.full - (self.full - self.level) * math.exp(-gap / self.recovery)

    def on_feedback(self, now: float) -> None:
        self.level = self.at(now) * self.decay
        self.since = now

    def retrigger(self, now: float) -> None:
        self.level = self.full
        self.since = now
