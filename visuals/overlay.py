"""The text written over the spectrogram: the machine's state as raw lines at the top left.

:class:`OverlayState` is plain data the run loop fills in; :meth:`OverlayState.lines` turns it into
the text; :class:`OverlayText` renders lines with ``pygame.font`` into a texture, only when they
change, and draws it. Text changes with every action (every 30-100 ms), so rendered lines are
cached and only changed lines are drawn again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

#: monospace faces tried in order; pygame's bundled face is the last resort.
FONT_CANDIDATES: tuple[str, ...] = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeMono.ttf",
)

TEXT_COLOUR = (236, 236, 228)


@dataclass(frozen=True)
class OverlayState:
    """What the overlay says. Every field is optional; empty fields are left out of the text.

    Attributes:
        mode: the run mode (``play``, ``perform``, ``rehearse``, ``install``).
        elapsed: seconds since the run began.
        space: name of the sound space being explored.
        section: name of the score section.
        projection: ``ica``, ``pca`` or ``none``.
        dims: number of explored dimensions.
        period: seconds between actions.
        step: number of actions taken so far.
        action: the last action as ``(dim, direction)``, direction ``+1`` or ``-1``.
        position: the agent's position along the explored axes, normalised to ``[0, 1]``, ``(dims,)``.
        reward: the last reward received, in ``[-1, 1]``.
        reward_source: where it came from (``keyboard``, ``osc``, ``imu``, ``serial``).
        estimates: the agent's estimate of the reward for each action, ``(2 * dims,)`` ordered as the
            agent indexes its actions, ``2 * dim + (direction > 0)``: ``dim 0 -, dim 0 +, dim 1 -, ...``
            (the flattened ``(dims, 2)`` (down, up) estimates of :mod:`aego.agent`).
        novelty: the agent's novelty (curiosity bonus) at its position, ``>= 0``.
        sensors: sensor status in a few words (e.g. ``left ok · right stale``).
        audio_load: fraction of the audio block time spent producing it (``0.25`` is 25 %).
        underflows: audio underflows so far.
        status: free lines shown after the state (``paused``, ``muted``, a logged error ...).
        keys: the key legend (rehearsal), drawn at the bottom left.
    """

    mode: str = ""
    elapsed: float | None = None
    space: str = ""
    section: str = ""
    projection: str = ""
    dims: int = 0
    period: float | None = None
    step: int = 0
    action: tuple[int, int] | None = None
    position: tuple[float, ...] = ()
    reward: float | None = None
    reward_source: str = ""
    estimates: tuple[float, ...] = ()
    novelty: float | None = None
    sensors: str = ""
    audio_load: float | None = None
    underflows: int = 0
    status: tuple[str, ...] = ()
    keys: tuple[str, ...] = field(default=())

    def lines(self) -> list[str]:
        """The overlay text, one string a line (the key legend is apart: :attr:`keys`)."""
        out = []
        head = "ægo"
        if self.mode:
            head += f"  {self.mode}"
        if self.elapsed is not None and math.isfinite(self.elapsed):
            minutes, seconds = divmod(int(max(self.elapsed, 0.0)), 60)
            head += f"  {minutes:02d}:{seconds:02d}"
        out.append(head)
        where = [s for s in (self.section, self.space, self.projection) if s]
        if self.dims:
            where.append(f"{self.dims} dim" + ("s" if self.dims != 1 else ""))
        if self.period is not None:
            where.append(f"{self.period * 1000:.0f} ms")
        if where:
            out.append("section  " + " · ".join(where))
        if self.step or self.action is not None:
            text = f"step     {self.step}"
            if self.action is not None:
                dim, direction = self.action
                text += f"  dim {dim} {'+' if direction > 0 else '-'}"
            out.append(text)
        if self.position:
            out.append("z        " + " ".join(f"{_finite(v):.3f}" for v in self.position))
        if self.reward is not None:
            source = f" {self.reward_source}" if self.reward_source else ""
            out.append(f"reward   {_finite(self.reward):+.2f}{source}")
        out.extend(_estimate_lines(self.estimates))
        if self.novelty is not None:
            out.append(f"novelty  {_finite(self.novelty):.2f}")
        if self.sensors:
            out.append(f"sensors  {self.sensors}")
        if self.audio_load is not None or self.underflows:
            text = "audio   "
            if self.audio_load is not None:
                text += f" load {_finite(self.audio_load) * 100:.0f} %"
            text += f"  underflows {self.underflows}"
            out.append(text)
        out.extend(self.status)
        return out


def _finite(value: float) -> float:
    value = float(value)
    return value if math.isfinite(value) else 0.0


def _short(value: float) -> str:
    """``+0.12`` as ``+.12`` (values of 1 and more keep their integer part)."""
    text = f"{value:+.2f}"
    return text.replace("0.", ".", 1) if abs(value) < 1 else text


def _estimate_lines(estimates: Sequence[float], per_line: int = 4) -> list[str]:
    """Compact estimates: ``Ĥ(- +)  0 -.03 +.12   1 -.10 +.40*``; the best action marked with ``*``."""
    values = [_finite(v) for v in estimates]
    if len(values) < 2:
        return []
    best = max(range(len(values)), key=values.__getitem__)
    cells = []
    for dim in range(len(values) // 2):
        pair = []
        for k in (0, 1):
            i = 2 * dim + k
            pair.append(_short(values[i]) + ("*" if i == best else " "))
        cells.append(f"{dim} {pair[0]}{pair[1]}")
    lines = []
    for start in range(0, len(cells), per_line):
        label = "Ĥ(- +)   " if start == 0 else "         "
        lines.append(label + " ".join(cells[start:start + per_line]))
    return lines


def import_pygame():
    """pygame, imported without its banner on stdout (``aego bench ... --json`` prints JSON only)."""
    import os

    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    import pygame

    return pygame


def font_path() -> str | None:
    """The monospace font file used, or ``None`` for pygame's default face."""
    for candidate in FONT_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    return None


def font_size_for(height: int) -> int:
    """Text size in pixels for a framebuffer ``height`` pixels high (readable from the back of a room)."""
    return max(11, round(height / 44))


TEXT_VERTEX = """
#version 330
in vec2 in_px;           // pixels from the block's top-left corner, y down
in vec2 in_uv;
uniform vec2 u_origin;   // the block's top-left corner, pixels from the framebuffer's top-left
uniform vec2 u_fb;       // framebuffer size, pixels
out vec2 v_uv;
void main() {
    vec2 px = u_origin + in_px;
    v_uv = in_uv;
    gl_Position = vec4(2.0 * px.x / u_fb.x - 1.0, 1.0 - 2.0 * px.y / u_fb.y, 0.0, 1.0);
}
"""

TEXT_FRAGMENT = """
#version 330
uniform sampler2D u_texture;
in vec2 v_uv;
out vec4 f_colour;
void main() {
    f_colour = texture(u_texture, v_uv);
}
"""


class OverlayText:
    """A block of text lines drawn over the picture, rendered into a texture only when it changes.

    Each line is drawn as its own quad, as wide as its text: on a CPU renderer the cost of the
    overlay is the number of pixels it covers, and a ragged block covers far fewer than a rectangle.
    The texture is sampled texel for pixel (nearest, whole-pixel positions): crisp and cheap.

    With an opaque backdrop (``backdrop=1``, the default) the lines are copied with framebuffer blits,
    a memory copy on Mesa's CPU renderer; a translucent backdrop is blended by a shader, which costs
    more the more pixels the text covers.

    Args:
        ctx: a moderngl context.
        anchor: ``top-left`` or ``bottom-left``.
        colour: RGB of the text.
        backdrop: opacity of the dark band behind each line (keeps it legible over loud spectra).
    """

    def __init__(self, ctx, anchor: str = "top-left", colour: tuple[int, int, int] = TEXT_COLOUR,
                 backdrop: float = 1.0) -> None:
        from aego.visuals.gl import Blitter

        pygame = import_pygame()
        if anchor not in ("top-left", "bottom-left"):
            raise ValueError(f"anchor must be top-left or bottom-left, not {anchor!r}")
        if not pygame.font.get_init():
            pygame.font.init()
        self.ctx = ctx
        self.anchor = anchor
        self.colour = colour
        self.backdrop = backdrop
        self._program = ctx.program(vertex_shader=TEXT_VERTEX, fragment_shader=TEXT_FRAGMENT)
        self._vbo = None
        self._vao = None
        self._vertices = 0
        self._font = None
        self._font_px = 0
        self._cache: dict[str, object] = {}
        self._lines: tuple[str, ...] = ()
        self._drawn: tuple[tuple[str, ...], int] | None = None
        self._texture = None
        self._texture_fbo = None
        self._blitter = Blitter() if backdrop >= 1.0 else None
        self._rects: list[tuple[int, int, int, int]] = []  # each line's box in the block, y down
        self._size = (0, 0)
        self.renders = 0  # how many times the texture was rebuilt (tests and benchmarks read it)

    @property
    def lines(self) -> tuple[str, ...]:
        return self._lines

    def set_lines(self, lines: Sequence[str]) -> None:
        """Set the text; nothing is rendered until :meth:`render`, and nothing at all if unchanged."""
        self._lines = tuple(str(line) for line in lines)

    def _ensure_font(self, px: int) -> None:
        import pygame

        if px == self._font_px:
            return
        self._font = pygame.font.Font(font_path(), px)
        self._font_px = px
        self._cache.clear()

    def _line_surface(self, text: str):
        surface = self._cache.get(text)
        if surface is None:
            if len(self._cache) > 256:  # lines with numbers in them change all the time
                self._cache.clear()
            surface = self._font.render(text, True, self.colour)
            self._cache[text] = surface
        return surface

    def _rebuild(self) -> None:
        import moderngl
        import numpy as np
        import pygame

        pad = max(4, self._font_px // 3)
        line_h = self._font.get_linesize()
        surfaces = [self._line_surface(line) for line in self._lines]
        widths = [s.get_width() + 2 * pad for s in surfaces]
        width = -(-max(widths) // 64) * 64  # rounded up: a changing number rarely reallocates
        height = line_h * len(surfaces) + 2 * pad
        canvas = pygame.Surface((width, height), pygame.SRCALPHA)
        canvas.fill((0, 0, 0, round(255 * self.backdrop)))
        for i, surface in enumerate(surfaces):
            canvas.blit(surface, (pad, pad + i * line_h))
        data = pygame.image.tobytes(canvas, "RGBA", True)  # flipped: GL rows go bottom-up
        if self._texture is None or self._size != (width, height):
            self._release_texture()
            self._texture = self.ctx.texture((width, height), 4, data)
            self._texture.filter = (moderngl.NEAREST, moderngl.NEAREST)
            if self._blitter is not None and self._blitter.available:
                self._texture_fbo = self.ctx.framebuffer(color_attachments=[self._texture])
            self._size = (width, height)
        else:
            self._texture.write(data)
        self._rects = []
        # One quad (two triangles) a line; the first and last lines also cover the padding.
        quads = []
        for i, w in enumerate(widths):
            y0 = 0 if i == 0 else pad + i * line_h
            y1 = height if i == len(widths) - 1 else pad + (i + 1) * line_h
            x0, x1 = 0, w
            self._rects.append((x0, y0, x1, y1))
            u0, u1 = x0 / width, x1 / width
            v0, v1 = 1 - y0 / height, 1 - y1 / height
            quads += [x0, y0, u0, v0, x1, y0, u1, v0, x0, y1, u0, v1,
                      x1, y0, u1, v0, x1, y1, u1, v1, x0, y1, u0, v1]
        vertices = np.asarray(quads, dtype="f4")
        if self._vbo is None or self._vbo.size < vertices.nbytes:
            if self._vao is not None:
                self._vao.release()
                self._vbo.release()
            self._vbo = self.ctx.buffer(reserve=max(vertices.nbytes, 24 * 4 * 32), dynamic=True)
            self._vao = self.ctx.vertex_array(self._program, [(self._vbo, "2f 2f", "in_px", "in_uv")])
        self._vbo.write(vertices.tobytes())
        self._vertices = len(widths) * 6
        self.renders += 1

    def _release_texture(self) -> None:
        if self._texture_fbo is not None:
            self._texture_fbo.release()
            self._texture_fbo = None
        if self._texture is not None:
            self._texture.release()
            self._texture = None

    def render(self, fb_size: tuple[int, int], fbo=None) -> tuple[int, int, int, int] | None:
        """Draw the text into ``fbo`` (or, for a translucent backdrop, the bound framebuffer) of ``fb_size`` pixels.

        Returns:
            The block's bounding rectangle, ``(x, y, width, height)`` in pixels from the top-left, or ``None``.
        """
        import moderngl

        if not self._lines:
            return None
        self._ensure_font(font_size_for(fb_size[1]))
        key = (self._lines, self._font_px)
        if key != self._drawn:
            self._rebuild()
            self._drawn = key
        margin = max(6, fb_size[1] // 60)
        width, height = self._size
        y = margin if self.anchor == "top-left" else fb_size[1] - margin - height
        if self._texture_fbo is not None and fbo is not None:
            fb_h = fb_size[1]
            for x0, y0, x1, y1 in self._rects:
                # GL counts rows from the bottom, in the texture (flipped on upload) and in the target.
                self._blitter.blit(self._texture_fbo.glo, fbo.glo, (x0, height - y1, x1, height - y0),
                                   (margin + x0, fb_h - (y + y1), margin + x1, fb_h - (y + y0)))
            self._blitter.restore(fbo.glo)
            fbo.use()
            return (margin, y, width, height)
        self._program["u_origin"].value = (float(margin), float(y))
        self._program["u_fb"].value = (float(fb_size[0]), float(fb_size[1]))
        self._program["u_texture"].value = 0
        self._texture.use(0)
        self.ctx.enable(moderngl.BLEND)
        self.ctx.blend_func = moderngl.SRC_ALPHA, moderngl.ONE_MINUS_SRC_ALPHA
        self._vao.render(mode=moderngl.TRIANGLES, vertices=self._vertices)
        self.ctx.disable(moderngl.BLEND)
        return (margin, y, width, height)

    def release(self) -> None:
        self._release_texture()
        if self._vao is not None:
            self._vao.release()
            self._vbo.release()
        self._program.release()
        self._cache.clear()
