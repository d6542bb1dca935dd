"""The projected picture: a scrolling spectrogram with the machine's state written over it.

Two ring buffers, both one column per spectrum frame, time running left to right with the newest
column at the right edge:

- the *level ring* (``width × bins``, float dB) keeps the frames as pushed;
- the *colour ring* (``width × height``, RGBA) keeps them drawn: when frames arrive, only their
  columns are shaded (frequency axis, dB scaling, colour map, all in the fragment shader).

A frame is then the colour ring copied out in two framebuffer blits (the older part of the ring, then
the newer part), plus the text and the map, copied the same way. Offscreen, on Mesa's CPU renderer,
an unscaled blit is a memory copy, so the per-frame cost stays far below shading the picture anew;
Python does only a handful of GL calls: drawing never holds up the agent or the audio process.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from aego.visuals.colormaps import DEFAULT_COLORMAP, colormap
from aego.visuals.overlay import OverlayState, OverlayText

from aego.errors import UsageError

FULL_VERTEX = """
#version 330
in vec2 in_pos;
out vec2 v_uv;
void main() {
    v_uv = in_pos;
    gl_Position = vec4(in_pos * 2.0 - 1.0, 0.0, 1.0);
}
"""

# Shades columns of the colour ring from the same columns of the level ring. A screen row may span
# several bins at the top of a log axis; taking the maximum over them keeps narrow partials visible.
# The column of the level ring is the fragment's own column (both rings share their write position).
COLUMN_FRAGMENT = """
#version 330
uniform sampler2D u_levels;    // width: columns (time), height: bins; dB of linear magnitude
uniform sampler2D u_cmap;      // 256 x 1 RGB colour map
uniform float u_columns;
uniform float u_bins;
uniform float u_height;
uniform int u_log;             // 1: logarithmic frequency axis
uniform float u_fmin_frac;     // lowest frequency shown, fraction of Nyquist
uniform float u_fmax_frac;     // highest frequency shown, fraction of Nyquist
uniform float u_floor_db;
uniform float u_range_db;
out vec4 f_colour;

float bin_at(float y) {
    float frac = u_log == 1 ? u_fmin_frac * pow(u_fmax_frac / u_fmin_frac, y) : y * u_fmax_frac;
    return frac * (u_bins - 1.0);
}

void main() {
    float u = (floor(gl_FragCoord.x) + 0.5) / u_columns;
    float b0 = bin_at((gl_FragCoord.y - 0.5) / u_height);
    float b1 = bin_at((gl_FragCoord.y + 0.5) / u_height);
    int first = int(ceil(b0));
    int last = min(int(ceil(b1)) - 1, int(u_bins) - 1);
    float db;
    if (last < first) {
        // Low frequencies: a bin spans several rows; interpolate between bins for a smooth picture.
        db = texture(u_levels, vec2(u, (0.5 * (b0 + b1) + 0.5) / u_bins)).r;
    } else {
        // High frequencies: the row spans bins first..last; the loudest of them counts.
        db = -1.0e9;
        int column = int(gl_FragCoord.x);
        for (int i = first; i <= min(last, first + 63); i++) {
            db = max(db, texelFetch(u_levels, ivec2(column, i), 0).r);
        }
    }
    float level = clamp((db - u_floor_db) / u_range_db, 0.0, 1.0);
    f_colour = vec4(texture(u_cmap, vec2((level * 255.0 + 0.5) / 256.0, 0.5)).rgb, 1.0);
}
"""

# Used only where glBlitFramebuffer cannot be reached: the colour ring drawn with an offset.
SCROLL_FRAGMENT = """
#version 330
uniform sampler2D u_colours;
uniform float u_offset;        // the oldest column, as a fraction of the width
in vec2 v_uv;
out vec4 f_colour;
void main() {
    f_colour = texture(u_colours, vec2(v_uv.x + u_offset, v_uv.y));
}
"""

#: the level ring's value for "nothing here" (well below any floor).
SILENCE_DB = -200.0


@dataclass(frozen=True)
class SpectrogramStyle:
    """How spectra look.

    Attributes:
        log_frequency: logarithmic frequency axis (``False``: linear).
        fmin: lowest frequency shown on the log axis, Hz.
        fmax: highest frequency shown, Hz (``None``: Nyquist).
        range_db: dB between the floor (darkest) and the top (brightest).
        reference: linear magnitude drawn brightest; ``None`` follows the loudest recent frames.
        min_top_db: the automatic top never falls below this, so silence stays dark instead of
            showing amplified numerical noise.
        release_db: how fast the automatic top falls back, dB per pushed frame (0.02 dB a frame is
            about 2 dB a second at 94 frames a second).
        frames_per_column: frames combined (by maximum) into one column; 2 scrolls half as fast.
        colormap: a name from :data:`aego.visuals.colormaps.COLORMAPS`.
    """

    log_frequency: bool = True
    fmin: float = 40.0
    fmax: float | None = None
    range_db: float = 60.0
    reference: float | None = None
    min_top_db: float = 0.0
    release_db: float = 0.02
    frames_per_column: int = 1
    colormap: str = DEFAULT_COLORMAP


class SpectrogramRenderer:
    """Scrolling spectrogram, text overlay and (optionally) the path map, drawn into any framebuffer.

    Args:
        ctx: any moderngl context (a window's, or a standalone EGL one).
        width, height: size of the picture in pixels (:meth:`resize` changes it); one column per pixel.
        bins: frequency bins per frame (``n_fft // 2 + 1``).
        sample_rate: Hz, for the frequency axis.
        style: see :class:`SpectrogramStyle`.
        overlay: draw the text overlay.
        path_map: draw the map of the projection once points are given (:meth:`set_map`).
    """

    def __init__(self, ctx, width: int, height: int, bins: int, sample_rate: float,
                 style: SpectrogramStyle | None = None, overlay: bool = True, path_map: bool = True) -> None:
        import moderngl
        from aego.visuals.gl import Blitter
        from aego.visuals.path_map import PathMap

        self._mgl = moderngl
        self.ctx = ctx
        self.style = style or SpectrogramStyle()
        if self.style.frames_per_column < 1:
            raise UsageError(f"frames_per_column must be 1 or more, not {self.style.frames_per_column}")
        self._column_program = ctx.program(vertex_shader=FULL_VERTEX, fragment_shader=COLUMN_FRAGMENT)
        self._scroll_program = ctx.program(vertex_shader=FULL_VERTEX, fragment_shader=SCROLL_FRAGMENT)
        self._vbo = ctx.buffer(np.array([0, 0, 1, 0, 0, 1, 1, 1], dtype="f4").tobytes())
        self._column_vao = ctx.vertex_array(self._column_program, [(self._vbo, "2f", "in_pos")])
        self._scroll_vao = ctx.vertex_array(self._scroll_program, [(self._vbo, "2f", "in_pos")])
        self._blitter = Blitter()
        self._cmap = self._levels = self._colours = self._colour_fbo = None
        self._pending = np.zeros((0, 0), np.float32)
        self.width, self.height = max(1, int(width)), max(1, int(height))
        self.bins, self.sample_rate = 0, float(sample_rate)
        self.colormap_name = ""
        self._top_db = self.style.min_top_db
        self._head = 0
        self.frames_pushed = 0
        self.set_colormap(self.style.colormap)
        self.configure(bins, sample_rate)
        self.text = OverlayText(ctx, anchor="top-left") if overlay else None
        self.legend = OverlayText(ctx, anchor="bottom-left") if overlay else None
        self.map = PathMap(ctx) if path_map else None
        self.state = OverlayState()

    # -- configuration -------------------------------------------------------------------------
    def configure(self, bins: int, sample_rate: float) -> None:
        """Start afresh with ``bins`` bins at ``sample_rate`` Hz (e.g. a space with another transform)."""
        bins = int(bins)
        if bins < 2:
            raise UsageError(f"a spectrogram needs at least 2 frequency bins, not {bins}")
        if not float(sample_rate) > 0:
            raise UsageError(f"the sample rate must be positive, not {sample_rate}")
        self._check_size(self.width, bins)
        self.bins, self.sample_rate = bins, float(sample_rate)
        self._make_levels(np.full((bins, self.width), SILENCE_DB, np.float32))
        self._head = 0
        self._top_db = self.style.min_top_db
        self._pending = np.zeros((0, bins), np.float32)
        self._make_colours()

    def _check_size(self, columns: int, rows: int) -> None:
        limit = self.ctx.info["GL_MAX_TEXTURE_SIZE"]
        if columns > limit or rows > limit:
            raise UsageError(f"a {columns}×{rows} spectrogram exceeds this GL's texture size limit ({limit})")

    def _make_levels(self, levels: np.ndarray) -> None:
        """The level ring from ``levels``, ``(bins, columns)`` float32 dB."""
        if self._levels is not None:
            self._levels.release()
        self._levels = self.ctx.texture((levels.shape[1], levels.shape[0]), 1, levels.tobytes(), dtype="f4")
        self._levels.repeat_x = self._levels.repeat_y = False

    def _make_colours(self) -> None:
        """A new colour ring of the current size, every column shaded from the level ring."""
        if self._colour_fbo is not None:
            self._colour_fbo.release()
            self._colours.release()
        self._colours = self.ctx.texture((self.width, self.height), 4)
        self._colours.filter = (self._mgl.NEAREST, self._mgl.NEAREST)
        self._colours.repeat_x = True
        self._colour_fbo = self.ctx.framebuffer(color_attachments=[self._colours])
        self._shade(0, self.width)

    def set_colormap(self, name: str) -> None:
        """Switch the colour map (an unknown name raises :class:`UsageError`); the picture is redrawn."""
        table = colormap(name)
        if self._cmap is not None:
            self._cmap.release()
        self._cmap = self.ctx.texture((len(table), 1), 3, table.tobytes())
        self._cmap.repeat_x = False
        self.colormap_name = name
        if self._colours is not None:
            self._shade(0, self.width)

    def resize(self, width: int, height: int) -> None:
        """Change the picture's size; the newest columns are kept (as many as the new width holds)."""
        width, height = max(1, int(width)), max(1, int(height))
        if (width, height) == (self.width, self.height):
            return
        self._check_size(width, self.bins)
        old = np.frombuffer(self._levels.read(), np.float32).reshape(self.bins, self.width)
        ordered = np.roll(old, -self._head, axis=1)  # oldest first
        levels = np.full((self.bins, width), SILENCE_DB, np.float32)
        keep = min(width, self.width)
        levels[:, width - keep:] = ordered[:, self.width - keep:]
        self.width, self.height = width, height
        self._head = 0
        self._make_levels(levels)
        self._make_colours()

    # -- data in -------------------------------------------------------------------------------
    @property
    def top_db(self) -> float:
        """The level drawn brightest, in dB of linear magnitude."""
        if self.style.reference is not None:
            return float(20.0 * np.log10(max(self.style.reference, 1e-12)))
        return self._top_db

    def push(self, columns: np.ndarray) -> None:
        """Append spectrum frames, newest last.

        Args:
            columns: linear magnitudes, ``(frames, bins)`` or ``(bins,)``. Non-finite values count as
                silence. Frames with another number of bins restart the spectrogram at that size.
        """
        cols = np.asarray(columns, dtype=np.float32)
        if cols.ndim == 1:
            cols = cols[None, :]
        if cols.ndim != 2:
            raise UsageError(f"spectrum frames must be (frames, bins), got shape {cols.shape}")
        if cols.shape[0] == 0:
            return
        if cols.shape[1] != self.bins:
            self.configure(cols.shape[1], self.sample_rate)
        cols = np.nan_to_num(np.abs(cols), nan=0.0, posinf=0.0)
        self.frames_pushed += cols.shape[0]
        k = self.style.frames_per_column
        if k > 1:
            cols = np.concatenate([self._pending, cols])
            whole = cols.shape[0] // k * k
            self._pending = cols[whole:]
            if whole == 0:
                return
            cols = cols[:whole].reshape(-1, k, self.bins).max(axis=1)
        cols = cols[-self.width:]
        n = cols.shape[0]
        db = 20.0 * np.log10(np.maximum(cols, 1e-10))
        # The automatic top rises at once with a loud frame and falls back slowly.
        self._top_db = max(float(db.max()), self._top_db - self.style.release_db * n * k, self.style.min_top_db)
        data = np.ascontiguousarray(db.T, dtype=np.float32)  # (bins rows, n columns)
        first = min(n, self.width - self._head)
        self._levels.write(np.ascontiguousarray(data[:, :first]).tobytes(), viewport=(self._head, 0, first, self.bins))
        self._shade(self._head, first)
        if first < n:
            self._levels.write(np.ascontiguousarray(data[:, first:]).tobytes(), viewport=(0, 0, n - first, self.bins))
            self._shade(0, n - first)
        self._head = (self._head + n) % self.width

    def _shade(self, x: int, n: int) -> None:
        """Draw columns ``x .. x+n-1`` of the colour ring from the level ring."""
        nyquist = self.sample_rate / 2.0
        fmax = min(self.style.fmax or nyquist, nyquist)
        fmin = min(max(self.style.fmin, 1e-3), fmax / 2)
        p = self._column_program
        p["u_levels"].value = 0
        p["u_cmap"].value = 1
        p["u_columns"].value = float(self.width)
        p["u_bins"].value = float(self.bins)
        p["u_height"].value = float(self.height)
        p["u_log"].value = 1 if self.style.log_frequency else 0
        p["u_fmin_frac"].value = fmin / nyquist
        p["u_fmax_frac"].value = fmax / nyquist
        p["u_floor_db"].value = self.top_db - self.style.range_db
        p["u_range_db"].value = self.style.range_db
        self._levels.use(0)
        self._cmap.use(1)
        self._colour_fbo.use()
        self._colour_fbo.viewport = (x, 0, n, self.height)
        # The quad covers the viewport; gl_FragCoord still counts from the framebuffer's corner.
        self._column_vao.render(mode=self._mgl.TRIANGLE_STRIP)

    def set_overlay(self, state: OverlayState) -> None:
        """The text to show (rendered into a texture at the next :meth:`render`, only if it changed)."""
        self.state = state
        if self.map is not None and state.position:
            self.map.push(state.position)
        if self.text is not None:
            lines = state.lines()
            if self.map is not None and self.map.has_points and state.position:
                zone = self.map.density_at(state.position)
                at = next((i + 1 for i, line in enumerate(lines) if line.startswith("z ")), len(lines))
                lines.insert(at, f"zone     {'trained' if zone > 0.2 else 'untrained'} {zone:.2f}")
            self.text.set_lines(lines)
            self.legend.set_lines(state.keys)

    def set_map(self, points: np.ndarray | None, rest: tuple[float, float] = (0.5, 0.5)) -> None:
        """Trained points of the active projection, ``(n, 2)`` normalised coordinates; ``None`` hides the map."""
        if self.map is not None:
            self.map.set_points(points, rest)

    # -- drawing -------------------------------------------------------------------------------
    def frequency_to_y(self, frequency: float) -> float:
        """Where ``frequency`` (Hz) is drawn: fraction of the height from the bottom (0) to the top (1)."""
        nyquist = self.sample_rate / 2.0
        fmax = min(self.style.fmax or nyquist, nyquist)
        if self.style.log_frequency:
            fmin = min(max(self.style.fmin, 1e-3), fmax / 2)
            return float(np.log(frequency / fmin) / np.log(fmax / fmin))
        return float(frequency / fmax)

    def render(self, fbo) -> None:
        """Draw one frame into ``fbo`` (a moderngl framebuffer, e.g. ``ctx.screen``) at the renderer's size."""
        w, h, head = self.width, self.height, self._head
        # Offscreen, an unscaled blit is a memory copy on Mesa's CPU renderer. Into a window it is not
        # (the window's buffer differs in layout), but a textured quad measured no faster there.
        blits = self._blitter.available
        if blits:
            # Oldest columns (head ..) to the left, newest (.. head) to the right.
            self._blitter.blit(self._colour_fbo.glo, fbo.glo, (head, 0, w, h), (0, 0, w - head, h))
            if head:
                self._blitter.blit(self._colour_fbo.glo, fbo.glo, (0, 0, head, h), (w - head, 0, w, h))
            self._blitter.restore(fbo.glo)
            fbo.use()
            fbo.viewport = (0, 0, w, h)
        else:
            fbo.use()
            fbo.viewport = (0, 0, w, h)
            self._scroll_program["u_colours"].value = 0
            self._scroll_program["u_offset"].value = head / w
            self._colours.use(0)
            self._scroll_vao.render(mode=self._mgl.TRIANGLE_STRIP)
        size = (w, h)
        target = fbo if blits else None
        if self.map is not None:
            self.map.render(size, target)
        if self.text is not None:
            self.text.render(size, target)
            self.legend.render(size, target)

    def release(self) -> None:
        """Free every GL object this renderer made."""
        for layer in (self.text, self.legend, self.map):
            if layer is not None:
                layer.release()
        for obj in (self._levels, self._colour_fbo, self._colours, self._cmap, self._column_vao, self._scroll_vao,
                    self._vbo, self._column_program, self._scroll_program):
            obj.release()
