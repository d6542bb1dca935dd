"""From the performer's rewards to credited samples, off the timing thread.

Rewards arrive on any thread (input hub, OSC, keys) and only go into an inbox (a deque append, no
lock, no work). The learner drains the inbox (:meth:`FeedbackDigest.run`): it credits each reward to
the recent (state, action) pairs of the :class:`~aego.agent.credit.Trajectory` by the human-delay
distribution, encodes the pairs for the network and hands the samples to the update. The timing
loop never does any of this, so a burst of rewards costs the actor nothing.

- **Clicks**: everything waiting in the inbox is credited together — one click exactly (its credit
  weights), several at once per pair as the credit-weighted mean value, weighted by the summed credit
  — so a burst of 1000 clicks a second costs one update per learner wake-up, not one per click.
- **Streams**: samples are gathered per ``stream_window``; samples inside the dead band say nothing.
  At the end of a window each sample is credited like a click; per pair the value is the
  credit-weighted mean of the samples and the weight the mean credit over all samples of the window
  (a window that was mostly neutral weighs less). One window is one feedback.
- **Zones**: labels for positions around where the explorer was, prepared when the zone arrived.

What a label means is set per kind of reward (``click_meaning``, ``stream_meaning``): ``"change"``
(:data:`~aego.agent.replay.CHANGE`: the sound the credited pair played is better (+) or worse (-) than
what played ``change_window`` seconds before it — a comparison, the way a listener says "yes, warmer"
or "no, colder"; where the sound moved less than one step in that time there was no change to judge,
and the click is taken as being about the place) or ``"place"`` (:data:`~aego.agent.replay.PLACE`: how
much it likes where the move led).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np
from aego.agent.config import AgentConfig
from aego.agent.credit import DelayDistribution, Pairs, Trajectory, credit_weights
from aego.agent.replay import CHANGE, PLACE, Samples
from aego.agent.reward_model import StateEncoder

MEANINGS = {"change": CHANGE, "place": PLACE}
INBOX_SIZE = 100_000  # rewards waiting for the learner; beyond this (a stalled learner) new ones are dropped, counted


class FeedbackDigest:
    """The inbox of rewards and the credit assignment that turns them into samples (one consumer)."""

    def __init__(self, config: AgentConfig, encoder: StateEncoder, trajectory: Trajectory, delay: DelayDistribution,
                 on_stream_feedback: Callable[[float], None], step: Callable[[], float]) -> None:
        self.config = config
        self.encoder = encoder
        self.trajectory = trajectory
        self.delay = delay
        self.on_stream_feedback = on_stream_feedback  # called (by the consumer) when a stream window became feedback
        self.step = step  # the explorer's current step (normalised units)
        self.click_kind = MEANINGS[config.click_meaning]
        self.stream_kind = MEANINGS[config.stream_meaning]
        self.inbox: deque[tuple] = deque()
        self.dropped = 0
        self._stream_t: list[float] = []
        self._stream_v: list[float] = []
        self._stream_start: float | None = None
        self._stream_total = 0

    # -- producers (any thread) -------------------------------------------------------------------
    def click(self, t: float, value: float) -> None:
        self._put(("click", t, value))

    def stream(self, t: float, value: float) -> None:
        self._put(("stream", t, value))

    def places(self, positions: np.ndarray, dims: int, slot: int, values: np.ndarray, weight: float) -> None:
        """Place labels ready made: positions ``(n, dims)``, values ``(n,)``, one weight."""
        self._put(("places", positions, dims, slot, values, weight))

    def _put(self, item: tuple) -> None:
        if len(self.inbox) >= INBOX_SIZE:
            self.dropped += 1
            return
        self.inbox.append(item)

    def pending(self) -> bool:
        return bool(self.inbox)

    # -- the consumer (the learner) ---------------------------------------------------------------
    def run(self, now: float) -> Samples | None:
        """Credit everything in the inbox as of ``now`` (seconds, the explorer's clock); None if nothing."""
        parts: list[Samples] = []
        clicks_t: list[float] = []
        clicks_v: list[float] = []
        while self.inbox:
            item = self.inbox.popleft()
            if item[0] == "click":
                clicks_t.append(item[1])
                clicks_v.append(item[2])
            elif item[0] == "stream":
                self._stream_sample(item[1], item[2], parts)
            else:
                _, positions, dims, slot, values, weight = item
                n = len(values)
                x = self.encoder.encode_rows(positions, np.full(n, dims), np.full(n, slot))
                parts.append(Samples.make(x, x, PLACE, values, np.full(n, weight)))
        if clicks_t:
            self._clicks(np.array(clicks_t), np.array(clicks_v), now, parts)
        if self._stream_start is not None and now - self._stream_start >= self.config.stream_window:
            self._flush_stream(now, parts)
        return Samples.concat(parts) if parts else None

    def _clicks(self, times: np.ndarray, values: np.ndarray, now: float, parts: list[Samples]) -> None:
        if len(times) == 1:
            pairs, weights = self.trajectory.assign(float(times[0]), self.delay, self.config.min_credit, end=now)
            if len(pairs):
                parts.append(self._samples(pairs, self.click_kind, np.full(len(pairs), values[0]), weights))
        else:
            self._credit_many(times, values, now, dilution=1, kind=self.click_kind, parts=parts)

    def _stream_sample(self, t: float, value: float, parts: list[Samples]) -> None:
        if self._stream_start is None:
            self._stream_start = t
        self._stream_total += 1
        if abs(value) >= self.config.stream_deadband:
            self._stream_t.append(t)
            self._stream_v.append(value)
        if t - self._stream_start >= self.config.stream_window:
            self._flush_stream(t, parts)

    def _flush_stream(self, now: float, parts: list[Samples]) -> None:
        times, values, total = np.array(self._stream_t), np.array(self._stream_v), self._stream_total
        self._stream_t, self._stream_v, self._stream_start, self._stream_total = [], [], None, 0
        # Neutral samples in the window dilute it: the weight is the mean credit over all its samples.
        if len(times) and self._credit_many(times, values, now, dilution=total, kind=self.stream_kind, parts=parts):
            self.on_stream_feedback(now)

    def _credit_many(self, times: np.ndarray, values: np.ndarray, now: float, dilution: int, kind: int,
                     parts: list[Samples]) -> bool:
        """Credit several rewards at once: per pair, the credit-weighted mean value, weighted by the
        summed credit divided by ``dilution``. False if nothing was credited."""
        pairs = self.trajectory.recent()
        if len(pairs) == 0:
            return False
        ends = np.append(pairs.starts[1:], now)
        w = credit_weights(times[:, None], pairs.starts[None, :], ends[None, :], self.delay)  # (rewards, pairs)
        credit = w.sum(axis=0)
        weight = credit / dilution
        keep = weight >= self.config.min_credit
        if not keep.any():
            return False
        value = (w[:, keep] * values[:, None]).sum(axis=0) / credit[keep]
        parts.append(self._samples(pairs.take(keep), kind, value, weight[keep]))
        return True

    def _samples(self, pairs: Pairs, kind: int, values: np.ndarray, weights: np.ndarray) -> Samples:
        after = self.encoder.encode_rows(pairs.after, pairs.dims, pairs.slots)
        kinds = np.full(len(pairs), kind)
        if kind == CHANGE:
            earlier = self.trajectory.recent().at(pairs.starts - self.config.change_window)
            before = self.encoder.encode_rows(earlier.after, earlier.dims, earlier.slots)
            # A change too small to hear (under one step) cannot have been judged: the click was about the
            # place. A comparison across a change of dims compares nothing.
            moved = np.linalg.norm(pairs.after - earlier.after, axis=1)
            kinds[(moved < self.step() * (1 - 1e-6)) | (earlier.dims != pairs.dims)] = PLACE
        else:
            before = after
        return Samples.make(after, before, kinds, values, weights)
