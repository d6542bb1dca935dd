"""``--agent random``: an unbiased random walk with the same step and period, for comparisons.

Every step picks uniformly among the allowed moves (one step up or down on one active axis, not
past a bound). Rewards are counted but change nothing; ``explore`` jumps to a uniform random point.
"""

from __future__ import annotations

import numpy as np
from aego.agent.actions import valid_mask
from aego.agent.explorer import Explorer


class RandomWalk(Explorer):
    kind = "random"

    def _choose(self, now: float) -> int:
        return int(self.rng.choice(np.flatnonzero(valid_mask(self.position, self.config.max_dims))))

    def _state(self) -> tuple[dict[str, np.ndarray], dict]:
        return {"position": self.position.astype(np.float64)}, {}
