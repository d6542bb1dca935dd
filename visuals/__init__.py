"""ægo's visuals: the scrolling spectrogram of what the machine plays, its state written over it.

Public names::

    SpectrogramRenderer(ctx, width, height, bins, sample_rate, style=SpectrogramStyle(...))
        .push(columns); .set_overlay(OverlayState(...)); .set_map(points); .render(fbo)
    Visuals(VisualsConfig(window, display, fullscreen, size, frames_dir, title))
        .open() -> (ok, reason); .frame(columns, overlay) -> list[KeyEvent]; .close()

Importing this package does not import pygame or moderngl; they load when something is drawn.
"""

from aego.visuals.colormaps import COLORMAPS, DEFAULT_COLORMAP, colormap
from aego.visuals.overlay import OverlayState, OverlayText
from aego.visuals.spectrogram import SpectrogramRenderer, SpectrogramStyle
from aego.visuals.window import KeyEvent, Visuals, VisualsConfig

__all__ = [
    "COLORMAPS",
    "DEFAULT_COLORMAP",
    "KeyEvent",
    "OverlayState",
    "OverlayText",
    "SpectrogramRenderer",
    "SpectrogramStyle",
    "Visuals",
    "VisualsConfig",
    "colormap",
]
