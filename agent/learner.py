"""Learning off the timing thread: Deep TAMER's updates on a background thread.

The actor (the paced ``act``) never waits for learning and never wakes the learner: it decides with
the latest :class:`~aego.agent.reward_model.Twin`, a frozen NumPy copy of the weights that the learner
publishes after every update (a reference swap, atomic in Python), and it only bumps an action
counter. The learner looks every ``poll`` seconds: it takes everything the feedback ``source`` has
credited since (:class:`~aego.agent.feedback.FeedbackDigest`), makes one update on it, stores it for
replay, and makes one replay update when the actor has taken ``replay_every`` actions since the last.

Why nothing wakes it: waking a thread from the timing loop lets the scheduler run the woken thread
first, and it then holds the interpreter while the actor waits (measured: up to 4 ms added to a
decision on a loaded machine). A poll every 10 ms costs nothing next to human reaction delays.

Why a thread and not a process: torch releases the interpreter inside its kernels, one update of this
small network takes a few milliseconds of one core, and the actor's decision holds the interpreter
for a fraction of a millisecond; a process would add a second copy of torch (~300 MB) and a weight
transport. ``mode="sync"`` runs the same work inline (:meth:`pump`), for simulated time.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as nn_f
from aego.agent.replay import CHANGE, ReplayBuffer, Samples
from aego.agent.reward_model import RewardModel, StateEncoder, Twin

MAX_STEP_SAMPLES = 512  # one update looks at most at the newest this many (all of them go to replay)


class Learner:
    """Updates ``model`` from credited feedback and replay; publishes twins for the actor."""

    def __init__(self, model: RewardModel, buffer: ReplayBuffer, encoder: StateEncoder,
                 source: Callable[[], Samples | None], *, learning_rate: float, batch_size: int,
                 change_gain: float, replay_every: int, change_trust: float = 1.0, updates_per_feedback: int = 1,
                 seed: int = 0, mode: str = "thread", poll: float = 0.01,
                 after: Callable[[], None] | None = None) -> None:
        torch.set_num_threads(1)  # two cores: one is the audio engine's
        self.model = model
        self.buffer = buffer
        self.encoder = encoder
        self.source = source
        self.after = after  # called after each look's updates, on the learner's thread
        self.batch_size = batch_size
        self.change_gain = change_gain
        self.change_trust = change_trust
        self.replay_every = replay_every
        self.updates_per_feedback = updates_per_feedback
        self.optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
        self.rng = np.random.default_rng(seed)
        self.mode = mode
        self.poll = poll
        self.twin: Twin = model.twin(encoder)
        self.update_ms: deque[float] = deque(maxlen=20000)  # wall clock
        self.update_cpu_ms: deque[float] = deque(maxlen=20000)  # this thread's CPU time (load-independent)
        self.updates = 0
        self.feedback_updates = 0
        self.replay_updates = 0
        self.errors = 0
        self.last_loss = float("nan")
        self.last_update_t = float("nan")  # time.monotonic() of the last update
        self.actions = 0  # bumped by the actor (a plain int: no lock, no wake-up)
        self._replayed_at = 0  # self.actions // replay_every at the last replay update
        self._cycles = 0
        self.model_lock = threading.Lock()  # held during an update; save() takes it too
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if mode == "thread":
            self._thread = threading.Thread(target=self._run, name="aego-agent-learner", daemon=True)
            self._thread.start()

    # -- called by the actor ----------------------------------------------------------------------
    def note_action(self) -> None:
        """One more action was taken (the replay clock)."""
        self.actions += 1
        if self.mode == "sync":
            self._work()

    def pump(self) -> None:
        """Do all waiting work now (``sync`` mode; harmless in ``thread`` mode)."""
        if self.mode == "sync":
            self._work()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)

    def idle(self, timeout: float = 2.0) -> bool:
        """Wait until everything given before this call has been learnt from (tests, saving); True if so."""
        if self.mode == "sync" or self._thread is None or not self._thread.is_alive():
            self.pump()
            return True
        target = self._cycles + 2  # the cycle under way may have started before the call
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self._cycles >= target:
                return True
            time.sleep(0.002)
        return False

    # -- the learner ------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.wait(self.poll):
            try:
                self._work()
            except Exception:  # a failed update must not end learning for the rest of the piece
                self.errors += 1
            self._cycles += 1

    def _work(self) -> None:
        samples = self.source()
        if samples is not None and len(samples):
            newest = samples.tail(MAX_STEP_SAMPLES)  # bounds the cost of an update after a burst
            for _ in range(self.updates_per_feedback):
                self._update(newest)
            self.feedback_updates += 1
            self.buffer.add(samples)
        due = self.actions // self.replay_every
        if due > self._replayed_at and len(self.buffer) >= self.batch_size:
            self._replayed_at = due
            self._update(self.buffer.sample(self.batch_size, self.rng))
            self.replay_updates += 1
        if self.after is not None:
            self.after()

    def _update(self, s: Samples) -> None:
        """One Adam step on the credit-weighted mean loss: ``(N(after) - h)²`` for place labels, and for
        comparisons the cross-entropy of P(better) = σ(gain · (N(after) - N(before))) against ``(1 + h) / 2``
        (Bradley-Terry: a click says which of two moments sounded better, not by how much; ``change_trust`` < 1
        allows for clicks given by mistake)."""
        start = time.perf_counter()
        cpu_start = time.thread_time()
        n = len(s)
        x = torch.from_numpy(np.concatenate((s.after, s.before)))
        change = torch.from_numpy(s.kinds == CHANGE)
        h = torch.from_numpy(s.values)
        w = torch.from_numpy(s.weights)
        with self.model_lock:
            out = self.model(x)[:, 0]
            after, before = out[:n], out[n:]
            z = self.change_gain * (after - before)
            p = 0.5 * (1.0 + self.change_trust * h)
            compared = p * nn_f.softplus(-z) + (1.0 - p) * nn_f.softplus(z)
            per_sample = torch.where(change, compared, (after - h) ** 2)
            loss = (w * per_sample).sum() / w.sum().clamp_min(1e-8)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.twin = self.model.twin(self.encoder)
        self.updates += 1
        self.last_loss = float(loss.detach())
        self.last_update_t = time.monotonic()
        self.update_ms.append((time.perf_counter() - start) * 1e3)
        self.update_cpu_ms.append((time.thread_time() - cpu_start) * 1e3)
