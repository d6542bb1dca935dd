"""The reward model Ĥ(s, a) (PyTorch), its input encoding, and a NumPy copy for fast decisions.

Input (``state_size = 2 * max_dims + max_spaces``): the position on every slot, centred and scaled,
zero on inactive axes; a 0/1 flag per active axis; a one-hot of the space slot. Output: one estimate
of the performer's reward per action (``2 * max_dims``). A fixed input size lets the number of
active axes change (1→8→1) and the space switch without rebuilding the network.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class StateEncoder:
    """Normalised position ``(dims,)`` + space slot -> network input ``(state_size,)`` float32.

    Per slot ``i < max_dims``: the coordinate ``(u_i - 0.5) * scale``; a 0/1 "active" flag; then a
    one-hot space slot; then, per axis, ``bumps`` Gaussian bumps spread over [0, 1] (width one spacing).
    The bumps give the network local, per-axis features, so "up is good below here, bad above"
    along one axis is learnt from a handful of feedbacks (TAMER's original tile-coding idea).
    Inactive axes are all zero.
    """

    def __init__(self, max_dims: int, max_spaces: int, scale: float, bumps: int = 0) -> None:
        self.max_dims = max_dims
        self.max_spaces = max_spaces
        self.scale = scale
        self.bumps = bumps
        self.centres = np.linspace(0.0, 1.0, bumps) if bumps else np.zeros(0)
        self.width = 1.0 / max(bumps - 1, 1)
        self.size = 2 * max_dims + max_spaces + max_dims * bumps

    def encode(self, position: np.ndarray, space_slot: int) -> np.ndarray:
        """``(dims,) -> (size,)``."""
        return self.encode_many(np.asarray(position)[None, :], space_slot)[0]

    def encode_many(self, positions: np.ndarray, space_slot: int) -> np.ndarray:
        """``(n, dims) -> (n, size)``."""
        u = np.asarray(positions, dtype=np.float64)
        n, dims = u.shape
        x = np.zeros((n, self.size), dtype=np.float32)
        x[:, :dims] = (u - 0.5) * self.scale
        x[:, self.max_dims : self.max_dims + dims] = 1.0
        x[:, 2 * self.max_dims + space_slot % self.max_spaces] = 1.0
        if self.bumps:
            start = 2 * self.max_dims + self.max_spaces
            bumps = np.exp(-0.5 * ((u[:, :, None] - self.centres[None, None, :]) / self.width) ** 2)
            x[:, start : start + dims * self.bumps] = bumps.reshape(n, -1)
        return x


class RewardModel(nn.Module):
    """N(u'): the performer's expected reward for arriving at position u' (encoded), an MLP with ReLU.

    Ĥ(s, a) = N(s ⊕ a): every action here is a move to a neighbouring position, so the estimate of a
    move is the estimate of where it leads. This is the action space's own structure, not an
    approximation: two moves that lead to the same place are worth the same, what is learnt about
    one axis or direction informs the others, and greedy choice climbs the learnt landscape.
    The last layer starts at zero, so Ĥ = 0 before any feedback.
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

    def snapshot(self) -> Snapshot:
        """The weights as NumPy arrays (a frozen copy)."""
        linears = [m for m in self.net if isinstance(m, nn.Linear)]
        with torch.no_grad():
            return Snapshot([(m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy()) for m in linears])


class Snapshot:
    """A frozen NumPy copy of the model's weights: the actor decides with it, never waiting for the learner."""

    def __init__(self, layers: list[tuple[np.ndarray, np.ndarray]]) -> None:
        self.layers = layers

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``(state_size,) -> (n_actions,)`` (or batched ``(n, state_size) -> (n, n_actions)``)."""
        for i, (w, b) in enumerate(self.layers):
            x = x @ w + b
            if i < len(self.layers) - 1:
                x = np.maximum(x, 0.0)
        return x
