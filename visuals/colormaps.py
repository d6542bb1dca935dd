"""Colour maps for the spectrogram: small lookup tables the fragment shader samples.

Each map is built from nine anchor colours (sampled from the perceptually uniform maps of
matplotlib, so the piece looks the same without importing it) interpolated linearly to 256 entries.
"""

from __future__ import annotations

import numpy as np

from aego.errors import UsageError

#: anchor colours, RGB 0-255, evenly spaced from the floor (0) to the top (1).
_ANCHORS: dict[str, tuple[tuple[int, int, int], ...]] = {
    "magma": ((0, 0, 4), (29, 17, 71), (81, 18, 124), (131, 38, 129), (183, 55, 121), (231, 82, 99),
              (252, 137, 97), (254, 196, 136), (252, 253, 191)),
    "inferno": ((0, 0, 4), (33, 12, 74), (87, 16, 110), (138, 34, 106), (188, 55, 84), (228, 90, 49),
                (249, 142, 9), (249, 203, 53), (252, 255, 164)),
    "viridis": ((68, 1, 84), (71, 45, 123), (59, 82, 139), (44, 114, 142), (33, 145, 140), (40, 174, 128),
                (94, 201, 98), (173, 220, 48), (253, 231, 37)),
    "ice": ((0, 0, 0), (4, 10, 40), (10, 30, 90), (20, 60, 140), (40, 100, 180), (80, 150, 210),
            (130, 195, 230), (190, 230, 245), (255, 255, 255)),
    "grey": ((0, 0, 0), (255, 255, 255)),
}

#: the default map: dark floor (the projection surface stays black where there is no sound).
DEFAULT_COLORMAP = "magma"

#: the names :func:`colormap` accepts.
COLORMAPS: tuple[str, ...] = tuple(_ANCHORS)


def colormap(name: str, size: int = 256) -> np.ndarray:
    """The lookup table of a colour map.

    Args:
        name: one of :data:`COLORMAPS`.
        size: number of entries.

    Returns:
        ``(size, 3)`` uint8 RGB, entry 0 for the floor, entry ``size - 1`` for the loudest.

    Raises:
        UsageError: an unknown name (the message lists the known ones).
    """
    try:
        anchors = np.asarray(_ANCHORS[name], dtype=np.float64)
    except KeyError:
        raise UsageError(f"unknown colour map '{name}': use one of {', '.join(COLORMAPS)}") from None
    at = np.linspace(0.0, 1.0, len(anchors))
    t = np.linspace(0.0, 1.0, size)
    table = np.stack([np.interp(t, at, anchors[:, c]) for c in range(3)], axis=1)
    return np.clip(np.round(table), 0, 255).astype(np.uint8)
