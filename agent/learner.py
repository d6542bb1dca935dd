"""Learning off the timing thread: Deep TAMER's updates on a background thread.

The actor (the paced ``act``) never waits for learning: it decides with the latest
:class:`~aego.agent.reward_model.Snapshot`, a NumPy copy of the weights that the learner publishes
after every update (a reference swap, atomic in Python). Feedback samples are queued; the learner
takes everything queued at once and makes one update on it, so a burst of rewards costs one update,
not one per reward. Replay updates are requested by the actor every few actions and coalesced too.

Why a thread and not a process: torch releases the GIL inside its kernels, one update of this small
network takes about a millisecond, and the measured action-period jitter while learning stays well
under the 5 ms budget (``aego bench agent``); a process would add a second copy of torch (~300 MB)
and a weight transport. ``mode="sync"`` runs the same updates inline, for simulated time.
"""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np
import torch
from aego.agent.replay import ReplayBuffer
from aego.agent.reward_model import RewardModel, Snapshot

MAX_PENDING = 4096  # feedback samples waiting for the learner; older ones are dropped beyond this
MAX_STEP_SAMPLES = 512  # one update looks at most at the newest this many (all of them go to replay)


class Learner:
    """Updates ``model`` from credited feedback and replay; publishes snapshots for the actor."""

    def __init__(self, model: RewardModel, buffer: ReplayBuffer, *, learning_rate: float, batch_size: int,
                 updates_per_feedback: int = 1, seed: int = 0, mode: str = "thread") -> None:
        torch.set_num_threads(1)  # two cores: one is the audio engine's
        self.model = model
        self.buffer = buffer
        self.batch_size = batch_size
        self.updates_per_feedback = updates_per_feedback
        self.optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
        self.rng = np.random.default_rng(seed)
        self.mode = mode
        self.snapshot: Snapshot = model.snapshot()
        self.update_ms: deque[float] = deque(maxlen=20000)  # wall clock
        self.update_cpu_ms: deque[float] = deque(maxlen=20000)  # this thread's CPU time (load-independent)
        self.updates = 0
        self.feedback_updates = 0
        self.replay_updates = 0
        self.dropped_samples = 0
        self.errors = 0
        self.last_loss = float("nan")
        self.last_update_t = float("nan")  # time.monotonic() of the last update
        self._pending: list[tuple[np.ndarray, ...]] = []
        self._pending_n = 0
        self._replays = 0
        self._queue_lock = threading.Lock()
        self.model_lock = threading.Lock()  # held during an update; save() takes it too
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None
        if mode == "thread":
            self._thread = threading.Thread(target=self._run, name="aego-agent-learner", daemon=True)
            self._thread.start()

    # -- called by the actor (any thread) ---------------------------------------------------------
    def submit(self, states: np.ndarray, actions: np.ndarray, values: np.ndarray, weights: np.ndarray) -> None:
        """Queue credited samples of one feedback for an update: ``(n, S), (n,), (n,), (n,)``."""
        if len(actions) == 0:
            return
        with self._queue_lock:
            self._pending.append((states, actions, values, weights))
            self._pending_n += len(actions)
            while self._pending_n > MAX_PENDING and len(self._pending) > 1:
                old = self._pending.pop(0)
                self._pending_n -= len(old[1])
                self.dropped_samples += len(old[1])
        self._kick()

    def request_replay(self) -> None:
        with self._queue_lock:
            self._replays += 1
        self._kick()

    def pump(self) -> None:
        """Do all queued work now (``sync`` mode; harmless in ``thread`` mode)."""
        if self.mode == "sync":
            self._work()

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)

    def idle(self, timeout: float = 2.0) -> bool:
        """Wait until nothing is queued (tests, saving); True when idle."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._queue_lock:
                if not self._pending and not self._replays and not self._busy:
                    return True
            time.sleep(0.002)
        return False

    # -- the learner ------------------------------------------------------------------------------
    _busy = False

    def _kick(self) -> None:
        if self.mode == "sync":
            self._work()
        else:
            self._wake.set()

    def _run(self) -> None:
        while not self._stop:
            self._wake.wait(0.5)
            self._wake.clear()
            try:
                self._work()
            except Exception:  # a failed update must not end learning for the rest of the piece
                self.errors += 1

    def _work(self) -> None:
        with self._queue_lock:
            pending, self._pending, self._pending_n = self._pending, [], 0
            replays, self._replays = self._replays, 0
            self._busy = True
        try:
            if pending:
                states, actions, values, weights = (np.concatenate(parts) for parts in zip(*pending, strict=True))
                newest = slice(-MAX_STEP_SAMPLES, None)  # bounds the cost of an update after a burst
                for _ in range(self.updates_per_feedback):
                    self._update(states[newest], actions[newest], values[newest], weights[newest])
                self.feedback_updates += 1
                self.buffer.add(states, actions, values, weights)
            if replays and len(self.buffer) >= self.batch_size:
                self._update(*self.buffer.sample(self.batch_size, self.rng))
                self.replay_updates += 1
        finally:
            self._busy = False

    def _update(self, states: np.ndarray, actions: np.ndarray, values: np.ndarray, weights: np.ndarray) -> None:
        """One Adam step on ``Σ w (Ĥ(s, a) - h)² / Σ w`` over the taken actions only."""
        start = time.perf_counter()
        cpu_start = time.thread_time()
        x = torch.from_numpy(np.ascontiguousarray(states, dtype=np.float32))
        a = torch.from_numpy(np.ascontiguousarray(actions, dtype=np.int64))
        h = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))
        w = torch.from_numpy(np.ascontiguousarray(weights, dtype=np.float32))
        with self.model_lock:
            predicted = self.model(x).gather(1, a[:, None]).squeeze(1)
            loss = (w * (predicted - h) ** 2).sum() / w.sum().clamp_min(1e-8)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.snapshot = self.model.snapshot()
        self.updates += 1
        self.last_loss = float(loss.detach())
        self.last_update_t = time.monotonic()
        self.update_ms.append((time.perf_counter() - start) * 1e3)
        self.update_cpu_ms.append((time.thread_time() - cpu_start) * 1e3)
