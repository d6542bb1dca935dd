"""Lock-free single-producer/single-consumer ring buffers in shared memory.

A :class:`Ring` holds ``capacity`` items of a fixed shape and dtype (audio samples, spectrum frames,
fixed-size command or event records). Two 64-bit counters in front of the data, the number of items
ever written and ever read, are the only shared state: the producer alone advances the first, the
consumer alone the second, so neither ever waits for the other and no lock is taken. Data is written
before the write counter moves (and read before the read counter moves); aligned 64-bit stores are
atomic and stay in order on x86-64 and with the store barrier NumPy's C calls imply elsewhere.

Any process can attach to a ring with its :class:`RingSpec` (picklable). Exactly one producer and one
consumer at a time: that is the caller's promise, not checked here.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from multiprocessing import shared_memory
from typing import Any

import numpy as np
from numba import njit

HEADER = 64  # bytes: write count, read count, padding (keeps the data cache-line aligned)


@dataclass(frozen=True)
class RingSpec:
    """Everything another process needs to attach: shared-memory name, capacity, item shape, dtype."""

    name: str
    capacity: int
    item_shape: tuple[int, ...]
    dtype: Any  # a dtype string, or a structured dtype's descr


def _dtype_spec(dtype: Any) -> Any:
    dt = np.dtype(dtype)
    return [tuple(f) for f in dt.descr] if dt.names else dt.str


class Ring:
    """An SPSC ring of ``capacity`` items of ``item_shape`` and ``dtype``.

    Create with :meth:`create` (the owner, which unlinks on :meth:`close`), or :meth:`attach`
    from another process, or :meth:`local` (plain memory, same process).
    """

    def __init__(self, buffer, spec: RingSpec, shm: shared_memory.SharedMemory | None, owner: bool) -> None:
        self.spec = spec
        self.capacity = spec.capacity
        self._shm = shm
        self._owner = owner
        self.counters = np.ndarray((2,), dtype=np.int64, buffer=buffer, offset=0)
        self.data = np.ndarray((spec.capacity, *spec.item_shape), dtype=np.dtype(spec.dtype), buffer=buffer,
                               offset=HEADER)

    @staticmethod
    def _size(capacity: int, item_shape: tuple[int, ...], dtype: Any) -> int:
        return HEADER + capacity * int(np.prod(item_shape, dtype=np.int64)) * np.dtype(dtype).itemsize

    @classmethod
    def create(cls, capacity: int, item_shape: tuple[int, ...] = (), dtype: Any = "float32") -> Ring:
        """A new ring in a new shared-memory block (this object owns it)."""
        dtype = _dtype_spec(dtype)
        shm = shared_memory.SharedMemory(create=True, size=cls._size(capacity, item_shape, dtype))
        ring = cls(shm.buf, RingSpec(shm.name, capacity, tuple(item_shape), dtype), shm, owner=True)
        ring.counters[:] = 0
        return ring

    @classmethod
    def attach(cls, spec: RingSpec) -> Ring:
        """The ring created elsewhere under ``spec``."""
        shm = shared_memory.SharedMemory(name=spec.name, create=False)
        return cls(shm.buf, spec, shm, owner=False)

    @classmethod
    def local(cls, capacity: int, item_shape: tuple[int, ...] = (), dtype: Any = "float32") -> Ring:
        """A ring in ordinary memory (both ends in one process)."""
        dtype = _dtype_spec(dtype)
        buf = bytearray(cls._size(capacity, item_shape, dtype))
        return cls(buf, RingSpec("", capacity, tuple(item_shape), dtype), None, owner=False)

    def close(self) -> None:
        """Detach (and unlink, for the owner)."""
        if self._shm is None:
            return
        shm, self._shm = self._shm, None
        del self.counters, self.data
        with contextlib.suppress(BufferError):  # a view still alive somewhere: the mapping goes with the process
            shm.close()
        if self._owner:
            with contextlib.suppress(FileNotFoundError):
                shm.unlink()

    # -- both ends ----------------------------------------------------------------------------------

    def available(self) -> int:
        """Items written and not yet read."""
        return int(self.counters[0] - self.counters[1])

    def free(self) -> int:
        """Items that can be written without overwriting unread ones."""
        return self.capacity - self.available()

    # -- producer -----------------------------------------------------------------------------------

    def write(self, items: np.ndarray) -> int:
        """Append as many of ``items`` (``(n, *item_shape)``) as fit; returns how many were written."""
        items = np.asarray(items)
        w = int(self.counters[0])
        n = min(len(items), self.capacity - (w - int(self.counters[1])))
        if n <= 0:
            return 0
        start = w % self.capacity
        first = min(n, self.capacity - start)
        self.data[start : start + first] = items[:first]
        if n > first:
            self.data[: n - first] = items[first:n]
        self.counters[0] = w + n
        return n

    def push(self, item: np.ndarray) -> bool:
        """Append one item; ``False`` (nothing written) when full."""
        w = int(self.counters[0])
        if w - int(self.counters[1]) >= self.capacity:
            return False
        self.data[w % self.capacity] = item
        self.counters[0] = w + 1
        return True

    # -- consumer -----------------------------------------------------------------------------------

    def read(self, n: int | None = None) -> np.ndarray:
        """Up to ``n`` unread items (all by default), as a new array ``(k, *item_shape)``."""
        r = int(self.counters[1])
        k = int(self.counters[0]) - r
        if n is not None:
            k = min(k, n)
        k = max(k, 0)
        idx = (r + np.arange(k)) % self.capacity
        out = self.data[idx].copy()
        self.counters[1] = r + k
        return out

    def skip(self, n: int) -> int:
        """Drop up to ``n`` unread items; returns how many."""
        r = int(self.counters[1])
        k = max(0, min(n, int(self.counters[0]) - r))
        self.counters[1] = r + k
        return k


@njit(cache=True, nogil=True)
def read_audio(data: np.ndarray, counters: np.ndarray, out: np.ndarray, active: bool) -> int:
    """Audio-callback read: copy up to ``len(out)`` mono samples from the ring to every column of ``out``.

    Allocates nothing, never blocks. Samples missing (ring starved) or all of them when not ``active``
    are zeros.

    Args:
        data: the ring's ``(capacity,)`` float32 samples.
        counters: the ring's ``(2,)`` int64 counters (write, read); the read count is advanced here.
        out: ``(frames, channels)`` float32, the device buffer.
        active: whether to consume at all (``False``: output silence, leave the ring alone).

    Returns:
        The number of samples taken from the ring.
    """
    frames, channels = out.shape
    n = 0
    if active:
        r = counters[1]
        n = counters[0] - r
        n = min(n, frames)
        cap = data.shape[0]
        for i in range(n):
            v = data[(r + i) % cap]
            for c in range(channels):
                out[i, c] = v
        counters[1] = r + n
    for i in range(n, frames):
        for c in range(channels):
            out[i, c] = 0.0
    return n
