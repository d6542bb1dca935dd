"""The reward model Ĥ (PyTorch), its input encoding, and its NumPy twin that the timing loop decides with.

Input (``StateEncoder.size``): the position on every slot, centred and scaled, zero on inactive axes; a
0/1 flag per active axis; a one-hot of the space slot; Gaussian bumps per axis. Output: one number,
N(u), the performer's liking of position u. A fixed input size lets the number of active axes change
(1→8→1) and the space switch without rebuilding the network.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from aego.agent import kernels
from torch import nn


class StateEncoder:
    """Normalised position ``(dims,)`` + space slot -> network input ``(size,)`` float32.

    Layout: a 0/1 "active" flag per axis slot (``max_dims``); a one-hot of the space slot
    (``max_spaces``); then per axis slot a block of ``features = 1 + bumps`` entries: the coordinate
    ``(u - 0.5) * scale`` and ``bumps`` Gaussian bumps spread over [0, 1] (width one spacing). The bumps
    give the network local, per-axis features, so "up is good below here, bad above" along one axis is
    learnt from a handful of feedbacks (TAMER's tile-coding idea). Inactive axes are all zero. The
    per-axis blocks let the timing loop's forward change one axis at a time (``kernels``). Stateless:
    any thread may encode.
    """

    def __init__(self, max_dims: int, max_spaces: int, scale: float, bumps: int = 0) -> None:
        self.max_dims = max_dims
        self.max_spaces = max_spaces
        self.scale = scale
        self.bumps = bumps
        self.centres = np.linspace(0.0, 1.0, bumps) if bumps else np.zeros(0)
        self.width = 1.0 / max(bumps - 1, 1)
        self.features = 1 + bumps  # per axis
        self.axes_start = max_dims + max_spaces
        self.size = self.axes_start + max_dims * self.features

    def encode(self, position: np.ndarray, space_slot: int) -> np.ndarray:
        """``(dims,) -> (size,)``."""
        return self.encode_many(np.asarray(position)[None, :], space_slot)[0]

    def encode_many(self, positions: np.ndarray, space_slot: int) -> np.ndarray:
        """``(n, dims) -> (n, size)``: positions of one section (same dims and space)."""
        u = np.asarray(positions, dtype=np.float64)
        n, dims = u.shape
        return self.encode_rows(u, np.full(n, dims), np.full(n, space_slot))

    def axis_features(self, u: np.ndarray) -> np.ndarray:
        """Coordinates, any shape ``(...)`` -> ``(..., features)``."""
        u = np.asarray(u, dtype=np.float64)
        bumps = np.exp(-0.5 * ((u[..., None] - self.centres) / self.width) ** 2)
        return np.concatenate([((u - 0.5) * self.scale)[..., None], bumps], axis=-1)

    def encode_rows(self, positions: np.ndarray, dims: np.ndarray, slots: np.ndarray) -> np.ndarray:
        """``(n, d) -> (n, size)`` with each row's own number of active axes ``dims (n,)`` and space slot
        ``slots (n,)``; coordinates of row ``i`` beyond ``dims[i]`` are ignored (``d >= max(dims)``)."""
        u = np.asarray(positions, dtype=np.float64)
        n, width = u.shape
        active = np.arange(width)[None, :] < np.asarray(dims)[:, None]  # (n, d)
        x = np.zeros((n, self.size), dtype=np.float32)
        x[:, :width] = active
        x[np.arange(n), self.max_dims + np.asarray(slots) % self.max_spaces] = 1.0
        feats = self.axis_features(u) * active[:, :, None]
        x[:, self.axes_start : self.axes_start + width * self.features] = feats.reshape(n, -1)
        return x


class RewardModel(nn.Module):
    """N(u): the performer's expected liking of position u (encoded), an MLP with ReLU.

    Ĥ(s, a) is built from N: every action here is a move to a neighbouring position, so a move is
    judged by where it leads. A *place* feedback ("I like what I hear") is a label for N(s ⊕ a); a
    *move* feedback ("better" / "worse", what a click says) is a label for ``gain · (N(s ⊕ a) - N(s))``.
    Either way greedy choice is ``argmax_a N(s ⊕ a)``: climb the learnt landscape. Two moves that lead
    to the same place are worth the same, and what is learnt about one axis informs the others.
    The last layer starts at zero, so N = 0 before any feedback.
    """

    def __init__(self, state_size: int, hidden: tuple[int, ...] = (64, 64)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = state_size
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        last = nn.Linear(width, 1)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        layers.append(last)
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, state_size) -> (batch, 1)``."""
        return self.net(x)

    def twin(self, encoder: StateEncoder) -> Twin:
        """A frozen NumPy copy of the weights (call under the learner's model lock)."""
        linears = [m for m in self.net if isinstance(m, nn.Linear)]
        with torch.no_grad():
            layers = tuple((m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy()) for m in linears)
        return Twin.build(layers, encoder)


@dataclass(frozen=True)
class Twin:
    """The reward model as NumPy arrays, for deciding on the timing thread without torch or the learner.

    Immutable: the learner builds a new one after every update and swaps the reference (atomic in
    Python); a decision uses whichever twin it picked up, whole. ``layers``: ``(W (in, out), b (out,))``
    float32, the network as it is (``__call__`` runs it on encoded inputs, in NumPy, for checks and for
    the learner's own use). The timing loop reads ``flat``/``layout``/``enc`` through one compiled call
    (:mod:`aego.agent.kernels`, :func:`aego.agent.policy.decide`).
    """

    layers: tuple[tuple[np.ndarray, np.ndarray], ...]
    encoder: StateEncoder
    flat: np.ndarray  # float32: axis rows (max_dims, features, H), flags (max_dims, H), spaces, b1, then per
    # later layer W (in, out) row-major and b (out,)
    layout: np.ndarray  # int64: max_dims, max_spaces, features per axis, H, number of later layers, (in, out) each
    enc: np.ndarray  # float64: scale, bump width, bump centres

    @classmethod
    def build(cls, layers: tuple[tuple[np.ndarray, np.ndarray], ...], encoder: StateEncoder) -> Twin:
        w1, b1 = np.asarray(layers[0][0], np.float32), np.asarray(layers[0][1], np.float32)
        m, f, start = encoder.max_dims, encoder.features, encoder.axes_start
        parts = [w1[start : start + m * f].reshape(-1), w1[:start].reshape(-1), b1]
        parts += [np.concatenate([w.reshape(-1), bias]) for w, bias in layers[1:]]
        flat = np.concatenate(parts).astype(np.float32)
        layout = np.array([m, encoder.max_spaces, f, w1.shape[1], len(layers) - 1]
                          + [n for w, _ in layers[1:] for n in w.shape], dtype=np.int64)
        enc = np.concatenate([[encoder.scale, encoder.width], encoder.centres])
        for a in (flat, layout, enc, *(x for layer in layers for x in layer)):
            a.flags.writeable = False
        return cls(layers, encoder, flat, layout, enc)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Encoded inputs ``(n, size) -> (n, 1)`` (or ``(size,) -> (1,)``)."""
        for i, (w, b) in enumerate(self.layers):
            x = x @ w + b
            if i < len(self.layers) - 1:
                x = np.maximum(x, 0.0)
        return x

    def move_values(self, position: np.ndarray, step: float, space_slot: int) -> np.ndarray:
        """N of the position each move leads to: ``(dims,) -> (2 * dims,)``, ordered (down, up) per axis
        as action indices; a move past a bound is clipped there."""
        out = np.empty(2 * len(position))
        kernels.move_values_into(np.asarray(position, dtype=np.float64), float(step), int(space_slot), self.flat,
                                 self.layout, self.enc, out)
        return out
