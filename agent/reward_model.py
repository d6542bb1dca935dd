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
        x = np.zeros(self.size, dtype=np.float32)
        u = np.asarray(position, dtype=np.float64)
        dims = len(u)
        x[:dims] = (u - 0.5) * self.scale
        x[self.max_dims : self.max_dims + dims] = 1.0
        x[2 * self.max_dims + space_slot % self.max_spaces] = 1.0
        if self.bumps:
            start = 2 * self.max_dims + self.max_spaces
            bumps = np.exp(-0.5 * ((u[:, None] - self.centres[None, :]) / self.width) ** 2)
            x[start : start + dims * self.bumps] = bumps.reshape(-1)
        return x


def pair_expansion(max_dims: int) -> np.ndarray:
    """The fixed map from head outputs ``(g_0..g_{D-1}, b)`` to action values, shape ``(D + 1, 2D)``.

    ``Ĥ(s, (i, -1)) = b(s) - g_i(s)`` and ``Ĥ(s, (i, +1)) = b(s) + g_i(s)``.
    """
    e = np.zeros((max_dims + 1, 2 * max_dims), dtype=np.float32)
    for i in range(max_dims):
        e[i, 2 * i] = -1.0
        e[i, 2 * i + 1] = 1.0
    e[max_dims, :] = 1.0
    return e


class RewardModel(nn.Module):
    """Ĥ(s, a) for ``a = (axis i, direction d)``: ``d * g_i(s) + b(s)``, from an MLP with ReLU.

    The head is shaped by the action space: opposite moves along an axis get opposite estimates
    around a shared level ``b(s)``. Whatever the performer says about one move also informs the
    opposite move (a step up judged bad makes the step down look good), which halves what has to
    be learned, and a reward for *being* somewhere (a level, not a direction) goes into ``b`` without
    disturbing the choice of move. The last layer starts at zero, so Ĥ = 0 before any feedback.
    """

    def __init__(self, state_size: int, n_actions: int, hidden: tuple[int, ...] = (64, 64)) -> None:
        super().__init__()
        self.max_dims = n_actions // 2
        self.register_buffer("expansion", torch.from_numpy(pair_expansion(self.max_dims)), persistent=False)
        layers: list[nn.Module] = []
        width = state_size
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        last = nn.Linear(width, self.max_dims + 1)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        layers.append(last)
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, state_size) -> (batch, n_actions)``."""
        return self.net(x) @ self.expansion

    def snapshot(self) -> Snapshot:
        """The weights as NumPy arrays, the fixed expansion folded into the last layer."""
        linears = [m for m in self.net if isinstance(m, nn.Linear)]
        e = self.expansion.numpy()
        with torch.no_grad():
            layers = [(m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy()) for m in linears]
        w, b = layers[-1]
        layers[-1] = (w @ e, b @ e)
        return Snapshot(layers)


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
