"""Simulated time: an explorer against a simulated performer on a virtual clock.

The clock steps every ``period``; at each step the rewards the performer has given so far are
delivered (with their own times), then the explorer acts and the performer hears the new position.
With ``learner="sync"`` the updates run inline in the same order as live, where the learner thread
finishes them within a few milliseconds, long before the next action.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from aego.agent import make_explorer
from aego.agent.config import AgentConfig
from aego.agent.simulated_performer import PerformerConfig, SimulatedPerformer


def target_for(seed: int, dims: int, start: np.ndarray, distance: float) -> np.ndarray:
    """A target ``distance`` away from ``start`` in a direction drawn from ``seed``."""
    rng = np.random.default_rng(10_000 + seed)
    direction = rng.normal(size=dims)
    return start + distance * direction / np.linalg.norm(direction)


def teach(kind: str, mode: str, seed: int, *, config: AgentConfig | None = None, dims: int = 4,
          period: float = 0.05, seconds: float = 90.0, start_steps: float = 10.0, tail: float = 30.0,
          performer: PerformerConfig | None = None) -> dict:
    """Teach an explorer toward a target ``start_steps`` steps away; distances in normalised units.

    Returns ``{"start", "tail_mean", "final", "distances" (steps,), "rewards_per_s", "interval_median"}``;
    ``tail_mean`` is the mean distance to the target over the last ``tail`` seconds; the last two describe
    what the performer gave (rewards a second, median seconds between them).
    """
    config = dataclasses.replace(config or AgentConfig(), learner="sync", period=period)
    explorer = make_explorer(kind, config, seed)
    start = np.full(dims, 0.5)
    target = target_for(seed, dims, start, start_steps * config.step)
    explorer.configure(dims, start, config.step)
    performer_config = dataclasses.replace(performer or PerformerConfig(), mode=mode)
    performer = SimulatedPerformer(target, config.step, performer_config, seed)
    performer.hear(0.0, start)
    n = round(seconds / period)
    distances = np.zeros(n)
    given: list[float] = []
    for k in range(n):
        now = k * period
        for t, value in performer.poll(now):
            given.append(t)
            if mode == "clicks":
                explorer.feedback(value, t, "simulated")
            else:
                explorer.stream(value, t)
        explorer.act(now)
        performer.hear(now, explorer.position)
        distances[k] = performer.distance(explorer.position)
    explorer.close()
    last = distances[-round(tail / period):]
    gaps = np.diff(np.sort(given)) if len(given) > 1 else np.full(1, np.nan)
    return {"start": start_steps * config.step, "tail_mean": float(last.mean()), "final": float(distances[-1]),
            "distances": distances, "rewards_per_s": len(given) / seconds, "interval_median": float(np.median(gaps))}


def wander(kind: str, seed: int, *, config: AgentConfig | None = None, dims: int = 2, period: float = 0.05,
           seconds: float = 60.0, cell_steps: int = 2) -> int:
    """With no reward at all: how many cells (``cell_steps`` steps wide) the explorer visits."""
    config = dataclasses.replace(config or AgentConfig(), learner="sync", period=period)
    explorer = make_explorer(kind, config, seed)
    explorer.configure(dims, np.full(dims, 0.5), config.step)
    cell = cell_steps * config.step
    seen = {tuple(np.floor(explorer.position / cell).astype(int))}
    for k in range(round(seconds / period)):
        explorer.act(k * period)
        seen.add(tuple(np.floor(explorer.position / cell).astype(int)))
    explorer.close()
    return len(seen)
