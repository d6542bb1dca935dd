"""Deep TAMER with curiosity: the explorer that learns what the performer rewards.

Read top to bottom:

1. ``act`` (the timing thread): one compiled call (:mod:`aego.agent.policy`) asks the reward model's
   NumPy twin for N of where each move leads, adds the curiosity bonus β·novelty of the way, masks
   moves past a bound, takes the best (or, with probability ε, a random allowed one). Taught by
   clicks, it moves in gestures and listens between them. Remember (time, from, to). Nothing else:
   no torch, no credit assignment, no waiting for the learner.
2. ``feedback`` / ``stream`` / ``zone`` (any thread): checked, counted, put in the inbox of the
   :class:`~aego.agent.feedback.FeedbackDigest`. Curiosity fades a little with every feedback.
3. The learner (:mod:`aego.agent.learner`, its own thread) drains the inbox: credits each reward to
   the recent pairs by the human-delay distribution (exact interval overlap, :mod:`aego.agent.credit`),
   makes one update on them, keeps them for replay, takes a replay mini-batch every ``replay_every``
   actions, and publishes a new twin.
4. ``explore``: jump to the least visited of sampled candidates and bring curiosity back to full.

Reference: Warnell, Waytowich, Lawhern & Stone, "Deep TAMER", AAAI 2018; Knox & Stone, TAMER, 2009.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from aego.agent.actions import action_index, apply
from aego.agent.config import AgentConfig
from aego.agent.credit import Trajectory, co_explorer_delay, uniform_delay
from aego.agent.curiosity import CuriosityLevel, NoveltyCounter, novelty_bonus
from aego.agent.explorer import Explorer
from aego.agent.feedback import FeedbackDigest
from aego.agent.kernels import EDGE
from aego.agent.learner import Learner
from aego.agent.policy import decide
from aego.agent.replay import CHANGE, PLACE, ReplayBuffer, Samples
from aego.agent.reward_model import RewardModel, StateEncoder


@dataclass
class Gesture:
    """The gesture under way while taught by clicks: its move, moves left, when it ended (-1: not yet)."""

    move: int = 0
    left: int = 0
    end: float = -1.0
    wobble: bool = False
    listen: float = 1.0  # seconds to listen after it
    hold: bool = False  # listen the whole time, answered or not (arrived at the best place heard)


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
        self.delay = (uniform_delay(c.delay_min, c.delay_max) if c.delay == "uniform"
                      else co_explorer_delay(c.delay_min, c.delay_max))
        self.trajectory = Trajectory(c.max_dims, capacity=1024)
        self.novelty = NoveltyCounter(c.novelty_cell, c.novelty_tilings, c.max_dims)
        self._novelty_params = np.append(self.novelty.params, (c.novelty_lookahead, c.novelty_cap))
        self.curiosity = CuriosityLevel(c.novelty_weight, c.novelty_feedback_decay, c.novelty_recovery)
        self.digest = FeedbackDigest(c, self.encoder, self.trajectory, self.delay, self._stream_feedback,
                                     lambda: self.step)
        self._latest = -math.inf  # the latest time seen (acts and rewards): the learner's "now"
        self._visits: deque[tuple[str, np.ndarray]] = deque()  # visited positions, counted by the learner
        # Where gestures ended (slot, dims, position), and the best of them by the network (see _toward_best).
        self._places: deque[tuple[int, int, np.ndarray]] = deque(maxlen=max(c.return_places, 1))
        self._places_added = 0
        self._best: tuple[int, int, np.ndarray, float] | None = None
        self._best_twin: object = None
        self._best_seen = 0
        self.learner = Learner(self.model, self.replay, self.encoder, self._background,
                               learning_rate=c.learning_rate, batch_size=c.batch_size, change_gain=c.change_gain,
                               change_trust=c.change_trust, replay_every=c.replay_every,
                               updates_per_feedback=c.updates_per_feedback, seed=seed, mode=c.learner,
                               poll=c.learner_poll, after=self._after_updates)
        self.space_slots: dict[str, int] = {"default": 0}
        self._epsilon = c.epsilon
        self._run_left = 0
        self._uniforms: list[float] = []
        self._last_click = -math.inf  # when the latest click came (for gestures), and the latest stream sample
        self._last_stream = -math.inf
        self.gesture = Gesture()
        self._warm_up()

    def _warm_up(self) -> None:
        """Load (or compile, the first time on a machine) the compiled code now, not in the first paced
        action: loading takes a few hundred ms, compiling a few seconds."""
        scratch = NoveltyCounter(self.config.novelty_cell, self.config.novelty_tilings, self.config.max_dims)
        position = np.full(1, 0.5)
        scratch.visit("warm-up", position)
        scratch.count_many("warm-up", position[None, :])
        for table in (scratch.table("warm-up"), scratch.table("none")):
            decide(self.learner.twin, position, self.step, 0, table, self._novelty_params, 0.1, 0.0, -1, False, 0.5)
        self.learner.twin.move_values(position, self.step, 0)
        scratch.tables["warm-up"].grown()

    # -- 1. acting (the timing thread) -------------------------------------------------------------
    def _choose(self, now: float) -> int:
        c = self.config
        self._epsilon = max(c.epsilon_min, c.epsilon * math.exp(-self.counts["actions"] / c.epsilon_decay_actions))
        last = -1 if self.last_action is None else action_index(self.last_action.dim, self.last_action.direction)
        if last >= 2 * self.dims:  # the section has fewer axes now
            last = -1
        if c.gesture_steps and now - self._last_click < c.taught_memory and now - self._last_stream > 1.0:
            return self._choose_gesture(now)
        if self._run_left > 0 and last >= 0 and self._allowed(last):
            # An exploratory gesture goes on: a run of one move gets feedback that can only be about it.
            self._run_left -= 1
            return last
        explore = self._uniform() < self._epsilon
        beta = 0.0
        if explore:
            low, high = c.explore_run
            self._run_left = low + min(int(self._uniform() * (high - low + 1)), high - low) - 1
        else:
            self._run_left = 0
            beta = self.curiosity.at(now)
            if beta <= 0.1 * c.novelty_weight:  # below a tenth it would only steer the learnt choice at random
                beta = 0.0
        return decide(self.learner.twin, self.position, self.step, self._slot, self.novelty.table(self._context),
                      self._novelty_params, beta, c.persistence, last, explore, self._uniform(),
                      tie=c.tie if now - self._last_stream < c.taught_memory else 1e-9)

    def _choose_gesture(self, now: float) -> int:
        """Taught by clicks: a gesture of ``gesture_steps`` moves one way, then listen — wobble one step
        back and forth, audibly still — until a click answers it or ``listen`` seconds pass.

        Why: a click compares what the performer hears with what it heard a moment before, and comes
        0.2-1.5 s late. Moving every action (20 steps a second at 50 ms), the explorer is far from where
        the click was earned when it arrives, and the credit spreads over ±13 steps of path; measured
        with the simulated performer, it ran past the target on a landscape learnt from smeared
        comparisons. A short gesture and a pause make each click about one gesture (docs/agent.md).
        """
        c, g = self.config, self.gesture
        if g.left > 0 and self._allowed(g.move):
            g.left -= 1
            if g.left == 0:
                g.end = now
                self._places.append((self._slot, self.dims, apply(self.position, g.move, self.step)))
                self._places_added += 1
            return g.move
        if g.left > 0:  # a bound stopped the gesture early
            g.left, g.end = 0, now
        answered = self._last_click >= g.end + c.delay_min
        if g.end >= 0 and now - g.end < g.listen and (g.hold or not answered):
            g.wobble = not g.wobble
            move = 2 * (g.move // 2) + int(g.wobble)
            return move if self._allowed(move) else move ^ 1
        # A new gesture: the way along which N rises most over the gesture's length (or, now and then, any way).
        explore = self._uniform() < max(self._epsilon, c.gesture_explore)
        u = self._uniform()
        if not explore and c.return_places:
            toward = self._toward_best()
            if toward is not None:
                g.move, steps, arrives = toward
                g.left = steps - 1
                g.end = now if g.left == 0 else -1.0
                g.hold = arrives and c.linger > 0
                g.listen = c.linger if g.hold else c.listen
                return g.move
        g.hold, g.listen = False, c.listen
        g.move = decide(self.learner.twin, self.position, self.step, self._slot, self.novelty.table(self._context),
                        self._novelty_params, 0.0, 0.0, -1, explore, u, look=c.gesture_steps * self.step)
        g.left = c.gesture_steps - 1
        g.end = now if g.left == 0 else -1.0
        return g.move

    def _toward_best(self) -> tuple[int, int, bool] | None:
        """A gesture back toward the best place heard, ``(move, steps, arrives)``, or None to choose one by N here.

        The places where gestures ended are kept (the last ``return_places``); the learner takes the mean of
        the ``return_top`` the current network likes best (:meth:`_find_best`). When that place is at least
        ``return_steps`` steps away along some axis and N there is above N at the end of every gesture from
        here, the explorer heads there, along the axis where it is farthest; ``arrives``: this gesture ends
        there (within ``return_steps`` on every axis), and the explorer will stay ``linger`` seconds. Why:
        measured with the simulated performer, after 60 s of clicks the best place the network knew was 0.39
        of the start distance from the target while the explorer was at 0.49, and at 90 s 0.28 against 0.43:
        from sparse, late comparisons the landscape it climbs from where it stands is flat and noisy (the way
        it picks by N ahead brings it 0-0.4 steps closer a 3-step gesture on average, where the best way
        would bring 1.3-2), but it ranks the places it has heard well (the mean of the best 3-10 ranks better
        than the single best: 0.30 against 0.44 at 90 s, 20 seeds).
        """
        c, best = self.config, self._best
        if best is None or best[0] != self._slot or best[1] != self.dims:
            return None
        diff = (best[2] - self.position) / self.step
        axis = int(np.argmax(np.abs(diff)))
        if abs(diff[axis]) < c.return_steps:
            return None
        ahead = self.learner.twin.move_values(self.position, c.gesture_steps * self.step, self._slot)
        if best[3] <= ahead.max():
            return None
        move = 2 * axis + int(diff[axis] > 0)
        if not self._allowed(move):
            return None
        steps = min(c.gesture_steps, round(float(abs(diff[axis]))))
        rest = np.delete(np.abs(diff), axis)
        arrives = steps == round(float(abs(diff[axis]))) and (rest.size == 0 or rest.max() < c.return_steps)
        return move, steps, arrives

    def _find_best(self) -> None:
        """The learner's part of :meth:`_toward_best`: N of the kept places under the newest twin (only when
        the twin or the places changed), the best published as one tuple (slot, dims, position, N)."""
        twin = self.learner.twin
        if not self._places or (twin is self._best_twin and self._places_added == self._best_seen):
            return
        self._best_twin, self._best_seen = twin, self._places_added
        slot, dims = self._slot, self.dims
        places = [p for s, d, p in list(self._places) if s == slot and d == dims]
        if places:
            points = np.array(places)
            values = twin(self.encoder.encode_many(points, slot))[:, 0]
            top = np.argsort(-values, kind="stable")[: max(self.config.return_top, 1)]
            centre = np.mean(points[top], axis=0)
            value = float(twin(self.encoder.encode_many(centre[None, :], slot))[0, 0])
            self._best = (slot, dims, centre, value)

    def _allowed(self, move: int) -> bool:
        u = float(self.position[move // 2])
        return u < 1.0 - EDGE if move % 2 else u > EDGE

    def _uniform(self) -> float:
        """A uniform draw in [0, 1) from the explorer's generator, taken from a batch drawn ahead: one
        NumPy call per 256 draws instead of one per draw on the timing thread."""
        if not self._uniforms:
            self._uniforms = self.rng.random(256).tolist()[::-1]
        return self._uniforms.pop()

    def _moved(self, now: float, index: int, old: np.ndarray, new: np.ndarray) -> None:
        self.trajectory.add(now, old, new, self._slot)
        self._visits.append((self._context, new))
        self.learner.note_action()

    def _background(self) -> Samples | None:
        """The learner's share of the explorer's work (its thread, or inline in sync mode): count the
        visits since last time (the counts lag the actor by at most one learner poll), credit the rewards."""
        novelty = self.novelty
        while self._visits:
            novelty.visit(*self._visits.popleft())
        return self.digest.run(self._latest)

    def _after_updates(self) -> None:
        """The learner's work after its updates: the best place heard under the newest twin, so a gesture
        chosen after a click already knows what that click said."""
        if self.config.return_places:
            self._find_best()

    def _tick(self, now: float) -> None:
        self._latest = max(self._latest, now)
        if not self.curiosity.begun:
            self.curiosity.begin(now)
        self.learner.pump()  # sync mode: a stream window that has ended is learnt before choosing

    # -- 2. rewards: into the inbox (any thread) -------------------------------------------------
    def _learn_feedback(self, value: float, now: float) -> None:
        self._last_click = max(self._last_click, now)
        self._latest = max(self._latest, now)
        self.digest.click(now, value)
        self.curiosity.on_feedback(now)
        self.learner.pump()

    def _learn_stream(self, value: float, now: float) -> None:
        self._last_stream = max(self._last_stream, now)
        self._latest = max(self._latest, now)
        self.digest.stream(now, value)
        self.learner.pump()

    def _stream_feedback(self, now: float) -> None:
        """A stream window became one feedback (called by the learner)."""
        self.counts["stream_feedback"] += 1
        self.curiosity.on_feedback(now)

    def _learn_zone(self, value: float, now: float) -> None:
        """Like (+v) or dislike (-v) the neighbourhood: positions within ``zone_steps`` of here along
        each active axis are labelled ``v``, fading with distance, one step beyond them ``-v/2``."""
        positions, labels = [], []
        for dim in range(self.dims):
            for direction in (-1, 1):
                for j in range(self.config.zone_steps + 2):
                    p = self.position.copy()
                    p[dim] = self.position[dim] + direction * j * self.step
                    if not 0.0 <= p[dim] <= 1.0:
                        break
                    positions.append(p)
                    inside = j <= self.config.zone_steps
                    labels.append(value * (1.0 - 0.5 * j / self.config.zone_steps) if inside else -0.5 * value)
        self._latest = max(self._latest, now)
        self.digest.places(np.array(positions), self.dims, self._slot, np.array(labels), self.config.zone_weight)
        self.curiosity.on_feedback(now)
        self.learner.pump()

    # -- 3. explore -------------------------------------------------------------------------------
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

    @property
    def _slot(self) -> int:
        return self.space_slots.get(self.space, 0)

    def _encode(self, position: np.ndarray) -> np.ndarray:
        return self.encoder.encode(position, self._slot)

    # -- reports ----------------------------------------------------------------------------------
    def estimates(self) -> np.ndarray:
        """N of where each active move from here leads, shape ``(dims, 2)`` as (down, up)."""
        return self.learner.twin.move_values(self.position, self.step, self._slot).reshape(self.dims, 2)

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
                "learner_errors": self.learner.errors, "dropped_rewards": self.digest.dropped,
                "delay": self.delay.name, "cells_visited": {k: self.novelty.cells_visited(k)
                                                            for k in list(self.novelty.tables)}}

    # -- persistence ------------------------------------------------------------------------------
    def _settle(self) -> None:
        self.learner.idle(timeout=1.0)

    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        self._uniforms = []  # the generator's saved state is where the next draws come from, here and on load
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
        replay = {k: arrays[f"replay/{k}"] for k in ("states", "before", "kinds", "values", "weights")}
        if replay["states"].ndim != 2 or replay["states"].shape[1] != self.encoder.size:
            raise ValueError("replay samples have another state size")
        if replay["before"].shape != replay["states"].shape:
            raise ValueError("replay 'before' states differ in shape from the states")
        if not len({len(v) for v in replay.values()}) == 1:
            raise ValueError("replay arrays differ in length")
        if not np.all(np.isin(replay["kinds"], (PLACE, CHANGE))):
            raise ValueError("replay label kinds are damaged")
        for name in ("states", "before", "values", "weights"):
            if not np.all(np.isfinite(replay[name])):
                raise ValueError(f"replay {name} are not all finite")
        novelty = NoveltyCounter(self.config.novelty_cell, self.config.novelty_tilings, self.config.max_dims)
        novelty.restore(meta["novelty"], meta["novelty_visits"])
        slots = {str(k): int(v) for k, v in dict(meta["space_slots"]).items()}
        with self.learner.model_lock:
            self.model.load_state_dict(weights)
            self.learner.twin = self.model.twin(self.encoder)
        self.replay.restore(replay)
        self.novelty = novelty
        self.space_slots = slots
        self.curiosity.level = float(meta["curiosity"])
        self._epsilon = float(meta["epsilon"])

    def close(self) -> None:
        self.learner.close()
