"""Deep TAMER with curiosity: the explorer that learns what the performer rewards.

Read top to bottom:

1. ``act``: encode the position, ask the reward model snapshot for Ĥ(s, a) of every action, add the
   curiosity bonus β·novelty of where each move leads, mask moves past a bound or on inactive axes,
   take the best (or, with probability ε, a random allowed one). Remember (time, state, action).
2. ``feedback``: credit the value to the recent pairs by the human-delay distribution (exact
   interval overlap, :mod:`aego.agent.credit`) and queue them for the learner: one update on them,
   then into the replay buffer. Curiosity fades a little with every feedback.
3. ``stream``: samples of a continuous reward are gathered per ``stream_window``; each window becomes
   one feedback (per pair: the credit-weighted mean of the samples, weighted by the mean credit).
   Samples inside the dead band say nothing.
4. Every ``replay_every`` actions the learner also takes a replay mini-batch (:mod:`aego.agent.learner`,
   off this thread).
5. ``zone``: synthetic labels for moves near the current position (toward it / away from it),
   ``explore``: jump to the least visited of sampled candidates and bring curiosity back to full.

Reference: Warnell, Waytowich, Lawhern & Stone, "Deep TAMER", AAAI 2018; Knox & Stone, TAMER, 2009.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch
from aego.agent.actions import action_index, apply
from aego.agent.config import AgentConfig
from aego.agent.credit import Trajectory, co_explorer_delay, credit_weights, uniform_delay
from aego.agent.curiosity import CuriosityLevel, NoveltyCounter, novelty_bonus
from aego.agent.explorer import Explorer
from aego.agent.learner import Learner
from aego.agent.replay import ReplayBuffer
from aego.agent.reward_model import RewardModel, StateEncoder

CLICK_GAP = 0.02  # seconds: clicks closer together than this are credited together


class DeepTamer(Explorer):
    kind = "deep-tamer"

    def __init__(self, config: AgentConfig | None = None, seed: int = 0) -> None:
        super().__init__(config, seed)
        c = self.config
        torch.manual_seed(seed)
        self.encoder = StateEncoder(c.max_dims, c.max_spaces, c.position_scale, c.position_bumps)
        self.n_actions = 2 * c.max_dims
        self.model = RewardModel(self.encoder.size, c.hidden)
        self.replay = ReplayBuffer(c.replay_size, self.encoder.size)
        self.learner = Learner(self.model, self.replay, learning_rate=c.learning_rate, batch_size=c.batch_size,
                               updates_per_feedback=c.updates_per_feedback, seed=seed, mode=c.learner)
        self.delay = (uniform_delay(c.delay_min, c.delay_max) if c.delay == "uniform"
                      else co_explorer_delay(c.delay_min, c.delay_max))
        self.trajectory = Trajectory(self.encoder.size, capacity=1024)
        self.novelty = NoveltyCounter(c.novelty_cell, c.novelty_tilings)
        self.curiosity = CuriosityLevel(c.novelty_weight, c.novelty_feedback_decay, c.novelty_recovery)
        self.space_slots: dict[str, int] = {"default": 0}
        self._stream_t: list[float] = []
        self._stream_v: list[float] = []
        self._stream_start: float | None = None
        self._stream_total = 0
        self._last_values = np.zeros(self.n_actions)
        self._last_bonus = 0.0
        self._epsilon = c.epsilon
        self._run_left = 0
        self._clicks: list[tuple[float, float]] = []
        self._clicks_flushed = -math.inf

    # -- 1. acting --------------------------------------------------------------------------------
    def _choose(self, now: float, mask: np.ndarray) -> int:
        allowed = np.flatnonzero(mask)
        values = np.zeros(self.n_actions)
        values[allowed] = self._estimate(allowed)
        self._last_values = values
        c = self.config
        self._epsilon = max(c.epsilon_min, c.epsilon * math.exp(-self.counts["actions"] / c.epsilon_decay_actions))
        last = None if self.last_action is None else action_index(self.last_action.dim, self.last_action.direction)
        if self._run_left > 0 and last is not None and mask[last]:
            # An exploratory gesture goes on: a run of one move gets feedback that can only be about it.
            self._run_left -= 1
            index = last
        elif self.rng.random() < self._epsilon:
            index = int(self.rng.choice(allowed))
            self._run_left = int(self.rng.integers(c.explore_run[0], c.explore_run[1] + 1)) - 1
        else:
            self._run_left = 0
            q = values[allowed].astype(np.float64)
            beta = self.curiosity.at(now)
            if beta > 0.1 * c.novelty_weight:  # below a tenth it would only steer the learnt choice at random
                q = q + beta * self._move_novelty(allowed)
            if last is not None:  # keep going when nothing says otherwise: lines, not trills
                q[allowed == last] += c.persistence
            q += self.rng.random(len(q)) * 1e-9  # random tie-break
            index = int(allowed[np.argmax(q)])
        self.trajectory.add(now, self._encode(apply(self.position, index, self.step)), 0)
        return index

    def _estimate(self, indices: np.ndarray) -> np.ndarray:
        """Ĥ(s, a) for the given actions from the current position: N(where each move leads)."""
        dims, directions = indices // 2, np.where(indices % 2 == 1, 1.0, -1.0)
        points = np.repeat(self.position[None, :], len(indices), axis=0)
        rows = np.arange(len(indices))
        points[rows, dims] = np.clip(points[rows, dims] + directions * self.step, 0.0, 1.0)
        states = self.encoder.encode_many(points, self.space_slots.get(self.space, 0))
        return self.learner.snapshot(states)[:, 0]

    def _move_novelty(self, allowed: np.ndarray) -> np.ndarray:
        """Mean novelty bonus of the positions 1..lookahead steps along each allowed move, ``(n,)``."""
        look = self.config.novelty_lookahead
        dims, directions = allowed // 2, np.where(allowed % 2 == 1, 1.0, -1.0)
        points = np.repeat(self.position[None, :], len(allowed) * look, axis=0)
        rows = np.arange(len(points))
        j = np.tile(np.arange(1, look + 1), len(allowed))
        axis = np.repeat(dims, look)
        points[rows, axis] = np.clip(points[rows, axis] + np.repeat(directions, look) * j * self.step, 0.0, 1.0)
        counts = self.novelty.count_many(self._context, points)
        return novelty_bonus(counts, self.config.novelty_cap).reshape(len(allowed), look).mean(axis=1)

    def _moved(self, now: float, index: int, old: np.ndarray, new: np.ndarray) -> None:
        self.novelty.visit(self._context, new)
        if self.counts["actions"] % self.config.replay_every == 0:
            self.learner.request_replay()

    def _tick(self, now: float) -> None:
        if self._clicks:
            self._flush_clicks(now)
        if not self.curiosity.begun:
            self.curiosity.begin(now)
        if self._stream_start is not None and now - self._stream_start >= self.config.stream_window:
            self._flush_stream(now)

    # -- 2. discrete feedback ---------------------------------------------------------------------
    def _learn_feedback(self, value: float, now: float) -> None:
        # A click is credited at once; clicks closer than CLICK_GAP to the last credited one wait for
        # the next click or action and are credited together, so a burst costs a few updates, not one each.
        self._clicks.append((now, value))
        if now - self._clicks_flushed >= CLICK_GAP:
            self._flush_clicks(now)

    def _flush_clicks(self, now: float) -> None:
        times = np.array([t for t, _ in self._clicks])
        values = np.array([v for _, v in self._clicks])
        self._clicks = []
        self._clicks_flushed = now
        if len(times) == 1:
            states, actions, weights = self.trajectory.assign(float(times[0]), self.delay, self.config.min_credit)
            self.learner.submit(states, actions, np.full(len(actions), values[0], np.float32),
                                weights.astype(np.float32))
        elif len(times) > 1:
            self._credit_samples(times, values, now, dilution=1)
        for _ in range(len(times)):
            self.curiosity.on_feedback(now)

    def _credit_samples(self, times: np.ndarray, values: np.ndarray, now: float, dilution: int) -> bool:
        """Credit several feedbacks at once: per pair, the credit-weighted mean value, weighted by the
        summed credit divided by ``dilution``. False if nothing was credited."""
        starts, states, actions = self.trajectory.recent()
        if len(starts) == 0:
            return False
        ends = np.append(starts[1:], now)
        w = credit_weights(times[:, None], starts[None, :], ends[None, :], self.delay)  # (samples, pairs)
        credit = w.sum(axis=0)
        weight = credit / dilution
        keep = weight >= self.config.min_credit
        if not keep.any():
            return False
        value = (w[:, keep] * values[:, None]).sum(axis=0) / credit[keep]
        self.learner.submit(states[keep], actions[keep], value.astype(np.float32), weight[keep].astype(np.float32))
        return True

    # -- 3. continuous streams --------------------------------------------------------------------
    def _learn_stream(self, value: float, now: float) -> None:
        if self._stream_start is None:
            self._stream_start = now
        self._stream_total += 1
        if abs(value) >= self.config.stream_deadband:
            self._stream_t.append(now)
            self._stream_v.append(value)
        if now - self._stream_start >= self.config.stream_window:
            self._flush_stream(now)

    def _flush_stream(self, now: float) -> None:
        times, values, total = np.array(self._stream_t), np.array(self._stream_v), self._stream_total
        self._stream_t, self._stream_v, self._stream_start, self._stream_total = [], [], None, 0
        # Neutral samples in the window dilute it: the weight is the mean credit over all its samples.
        if len(times) and self._credit_samples(times, values, now, dilution=total):
            self.counts["stream_feedback"] += 1
            self.curiosity.on_feedback(now)

    # -- 5. zone, explore -------------------------------------------------------------------------
    def _learn_zone(self, value: float, now: float) -> None:
        """Like (+v) or dislike (-v) the neighbourhood: positions within ``zone_steps`` of here along
        each active axis are labelled ``v``, fading with distance, one step beyond them ``-v/2``."""
        states, labels = [], []
        for dim in range(self.dims):
            for direction in (-1, 1):
                for j in range(self.config.zone_steps + 2):
                    p = self.position.copy()
                    p[dim] = self.position[dim] + direction * j * self.step
                    if not 0.0 <= p[dim] <= 1.0:
                        break
                    states.append(self._encode(p))
                    inside = j <= self.config.zone_steps
                    labels.append(value * (1.0 - 0.5 * j / self.config.zone_steps) if inside else -0.5 * value)
        n = len(labels)
        self.learner.submit(np.array(states, np.float32), np.zeros(n, np.int64), np.array(labels, np.float32),
                            np.full(n, self.config.zone_weight, np.float32))
        self.curiosity.on_feedback(now)

    def _explore_target(self, now: float) -> np.ndarray:
        """The least visited of ``explore_candidates`` uniform candidates (ties: the farthest from here)."""
        candidates = self.rng.random((self.config.explore_candidates, self.dims))
        counts = np.array([self.novelty.count(self._context, c) for c in candidates])
        far = np.linalg.norm(candidates - self.position, axis=1)
        best = np.lexsort((-far, counts))[0]
        return candidates[best]

    def _explored(self, now: float) -> None:
        self.curiosity.retrigger(now)

    # -- the piece's changes ----------------------------------------------------------------------
    def set_space(self, key: str) -> None:
        with self._lock:
            if key not in self.space_slots:
                self.space_slots[key] = len(self.space_slots) % self.config.max_spaces
        super().set_space(key)

    @property
    def _context(self) -> str:
        return f"{self.space}/{self.dims}"

    def _encode(self, position: np.ndarray) -> np.ndarray:
        return self.encoder.encode(position, self.space_slots.get(self.space, 0))

    # -- reports ----------------------------------------------------------------------------------
    def estimates(self) -> np.ndarray:
        """Ĥ of each active move from here, shape ``(dims, 2)`` as (down, up)."""
        return self._estimate(np.arange(2 * self.dims)).reshape(self.dims, 2)

    def _overlay_extra(self) -> dict[str, Any]:
        now_bonus = float(novelty_bonus(self.novelty.count(self._context, self.position), self.config.novelty_cap))
        last = self.learner.last_update_t
        age = None if math.isnan(last) else round(time.monotonic() - last, 2)
        return {"h": [[round(float(v), 2) for v in pair] for pair in self.estimates()],
                "novelty": round(now_bonus, 2), "curiosity": round(self.curiosity.level, 3),
                "epsilon": round(self._epsilon, 3), "updates": self.learner.updates,
                "loss": None if math.isnan(self.learner.last_loss) else round(self.learner.last_loss, 4),
                "last_update_s": age,
                "replay": len(self.replay), "visits": self.novelty.visits.get(self._context, 0)}

    def _summary_extra(self) -> dict[str, Any]:
        ms = np.array(self.learner.update_ms) if self.learner.update_ms else np.zeros(1)
        return {"updates": self.learner.updates, "feedback_updates": self.learner.feedback_updates,
                "replay_updates": self.learner.replay_updates, "replay_size": len(self.replay),
                "update_ms_p50": float(np.percentile(ms, 50)), "update_ms_p99": float(np.percentile(ms, 99)),
                "learner_errors": self.learner.errors, "dropped_samples": self.learner.dropped_samples,
                "delay": self.delay.name, "cells_visited": {k: self.novelty.cells_visited(k)
                                                            for k in self.novelty.counts}}

    # -- persistence ------------------------------------------------------------------------------
    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        self.learner.idle(timeout=1.0)
        with self.learner.model_lock:
            arrays = {f"model/{k}": v.detach().numpy().copy() for k, v in self.model.state_dict().items()}
        arrays.update({f"replay/{k}": v.copy() for k, v in self.replay.arrays().items()})
        meta = {"config": self.config.to_dict(), "space_slots": self.space_slots,
                "novelty": self.novelty.state(), "novelty_visits": self.novelty.visits,
                "curiosity": self.curiosity.level, "epsilon": self._epsilon}
        return arrays, meta

    def _restore(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        # Check everything before changing anything.
        current = self.model.state_dict()
        weights = {}
        for name, tensor in current.items():
            saved = arrays.get(f"model/{name}")
            if saved is None or tuple(saved.shape) != tuple(tensor.shape) or not np.all(np.isfinite(saved)):
                raise ValueError(f"network weight '{name}' is missing, damaged or of another shape")
            weights[name] = torch.from_numpy(saved.astype(np.float32))
        replay = {k: arrays[f"replay/{k}"] for k in ("states", "actions", "values", "weights")}
        if replay["states"].ndim != 2 or replay["states"].shape[1] != self.encoder.size:
            raise ValueError("replay samples have another state size")
        if not len({len(v) for v in replay.values()}) == 1:
            raise ValueError("replay arrays differ in length")
        novelty = NoveltyCounter(self.config.novelty_cell, self.config.novelty_tilings)
        novelty.restore(meta["novelty"], meta["novelty_visits"])
        slots = {str(k): int(v) for k, v in dict(meta["space_slots"]).items()}
        with self.learner.model_lock:
            self.model.load_state_dict(weights)
            self.learner.snapshot = self.model.snapshot()
        self.replay.restore(replay)
        self.novelty = novelty
        self.space_slots = slots
        self.curiosity.level = float(meta["curiosity"])
        self._epsilon = float(meta["epsilon"])

    def close(self) -> None:
        self.learner.close()
