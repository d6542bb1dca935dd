"""A small map of the active 2-D projection: where the space was trained, and where the agent walks.

The trained zone is a blurred density of the encoded training points along the first two explored
axes (normalised coordinates, ``[0, 1]`` = 1st-99th percentile); the agent's recent path is a line
that fades with age, its position a dot. Walking off the bright zone means the decoder is
extrapolating: sounds nobody trained it on.
"""

from __future__ import annotations

import numpy as np

DENSITY_SIZE = 48

PATH_VERTEX = """
#version 330
in vec2 in_px;        // pixels from the framebuffer's top-left corner, y down
in vec4 in_colour;
uniform vec2 u_fb;    // framebuffer size, pixels
out vec4 v_colour;
void main() {
    v_colour = in_colour;
    gl_Position = vec4(2.0 * in_px.x / u_fb.x - 1.0, 1.0 - 2.0 * in_px.y / u_fb.y, 0.0, 1.0);
}
"""

PATH_FRAGMENT = """
#version 330
in vec4 v_colour;
out vec4 f_colour;
void main() {
    f_colour = v_colour;
}
"""

PATH_COLOUR = (1.0, 0.85, 0.4, 0.9)
DOT_COLOUR = (1.0, 1.0, 1.0, 1.0)


def path_triangles(points_px: np.ndarray, width: float, dot: float) -> np.ndarray:
    """Triangles drawing a polyline that fades with age and a dot on its newest point.

    Lines and large points are slow paths on Mesa's CPU renderer; plain triangles are not.

    Args:
        points_px: ``(n, 2)`` positions in pixels, oldest first.
        width: line width, pixels.
        dot: side of the square dot, pixels.

    Returns:
        ``(vertices, 6)`` float32: x, y, r, g, b, a.
    """
    n = len(points_px)
    out = []
    if n > 1:
        p0, p1 = points_px[:-1], points_px[1:]
        d = p1 - p0
        length = np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-6)[:, None]
        normal = np.column_stack([-d[:, 1], d[:, 0]]) / length * (width / 2)
        alpha = (PATH_COLOUR[3] * np.linspace(0.05, 1.0, n - 1))[:, None]
        rgb = np.broadcast_to(np.asarray(PATH_COLOUR[:3]), (n - 1, 3))
        colour = np.hstack([rgb, alpha])
        corners = [p0 + normal, p0 - normal, p1 + normal, p0 - normal, p1 - normal, p1 + normal]
        seg = np.stack([np.hstack([c, colour]) for c in corners], axis=1)  # (n-1, 6, 6)
        out.append(seg.reshape(-1, 6))
    if n:
        x, y = points_px[-1]
        h = dot / 2
        square = np.array([[x - h, y - h], [x + h, y - h], [x - h, y + h],
                           [x + h, y - h], [x + h, y + h], [x - h, y + h]])
        out.append(np.hstack([square, np.tile(DOT_COLOUR, (6, 1))]))
    if not out:
        return np.zeros((0, 6), np.float32)
    return np.concatenate(out).astype(np.float32)


def density_image(points: np.ndarray, size: int = DENSITY_SIZE) -> np.ndarray:
    """Blurred, log-scaled density of 2-D points on a ``size × size`` grid.

    Args:
        points: ``(n, 2)`` normalised coordinates (``(n, 1)`` is spread along y = 0.5).

    Returns:
        ``(size, size)`` float32 in ``[0, 1]``, row 0 at y = 0 (bottom).
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[0] == 0 or pts.shape[1] < 1:
        return np.zeros((size, size), np.float32)
    if pts.shape[1] == 1:
        pts = np.column_stack([pts[:, 0], np.full(len(pts), 0.5)])
    pts = pts[np.all(np.isfinite(pts[:, :2]), axis=1), :2]
    counts, _, _ = np.histogram2d(pts[:, 1], pts[:, 0], bins=size, range=[[0, 1], [0, 1]])
    kernel = np.exp(-0.5 * (np.arange(-3, 4) / 1.2) ** 2)
    kernel /= kernel.sum()
    for axis in (0, 1):
        counts = np.apply_along_axis(lambda v: np.convolve(v, kernel, mode="same"), axis, counts)
    dens = np.log1p(counts)
    top = dens.max()
    return (dens / top if top > 0 else dens).astype(np.float32)


class PathMap:
    """The map layer.

    Args:
        ctx: a moderngl context.
        history: how many recent positions the path shows.
    """

    def __init__(self, ctx, history: int = 240) -> None:
        from aego.visuals.gl import Blitter, TexturedQuad

        self.ctx = ctx
        self._blitter = Blitter()
        self._panel = None
        self._panel_fbo = None
        self._panel_side = 0
        self.history = history
        self._quad = TexturedQuad(ctx)
        self._program = ctx.program(vertex_shader=PATH_VERTEX, fragment_shader=PATH_FRAGMENT)
        self._path = np.zeros((history, 2), np.float32)
        self._count = 0
        self._vbo = ctx.buffer(reserve=(history * 6 + 6) * 6 * 4, dynamic=True)
        self._vao = ctx.vertex_array(self._program, [(self._vbo, "2f 4f", "in_px", "in_colour")])
        self._vertices = 0
        self._drawn_rect: tuple | None = None
        self._density = np.zeros((DENSITY_SIZE, DENSITY_SIZE), np.float32)
        self._has_points = False
        self._rest = (0.5, 0.5)
        self._dirty = False

    @property
    def has_points(self) -> bool:
        return self._has_points

    def set_points(self, points: np.ndarray | None, rest: tuple[float, float] = (0.5, 0.5)) -> None:
        """The trained points of the active projection, ``(n, 2)`` normalised; ``None`` hides the map.

        Args:
            rest: where a 1-D walk sits on the axes it does not explore (normalised coordinates).
        """
        self._release_panel()
        self._has_points = False
        self._count = 0
        self._rest = rest
        if points is None:
            return
        self._density = density_image(points)
        self._has_points = True  # the panel itself is drawn at the size of the next render

    def density_at(self, position: tuple[float, ...]) -> float:
        """How trained the zone at ``position`` is, ``[0, 1]`` (0: nothing was trained near it)."""
        x, y = self._xy(position)
        i = int(np.clip(y * DENSITY_SIZE, 0, DENSITY_SIZE - 1))
        j = int(np.clip(x * DENSITY_SIZE, 0, DENSITY_SIZE - 1))
        return float(self._density[i, j])

    def _xy(self, position: tuple[float, ...]) -> tuple[float, float]:
        x = float(position[0]) if len(position) > 0 else self._rest[0]
        y = float(position[1]) if len(position) > 1 else self._rest[1]
        return (x if np.isfinite(x) else 0.5, y if np.isfinite(y) else 0.5)

    def push(self, position: tuple[float, ...]) -> None:
        """Add the agent's current position (normalised coordinates along the explored axes)."""
        xy = self._xy(position)
        if self._count and tuple(self._path[(self._count - 1) % self.history]) == xy:
            return
        self._path[self._count % self.history] = xy
        self._count += 1
        self._dirty = True

    def _release_panel(self) -> None:
        if self._panel_fbo is not None:
            self._panel_fbo.release()
            self._panel_fbo = None
        if self._panel is not None:
            self._panel.release()
            self._panel = None
        self._panel_side = 0

    def _make_panel(self, side: int) -> None:
        """The trained-zone picture at its size on screen, opaque, so it can be copied with a blit."""
        import moderngl
        from scipy.ndimage import zoom

        self._release_panel()
        dens = np.clip(zoom(self._density, side / DENSITY_SIZE, order=1)[:side, :side], 0, 1)
        rgb = np.empty((side, side, 4), np.float32)
        for c, (dark, full) in enumerate(((10, 70), (12, 110), (16, 150))):
            rgb[..., c] = dark + (full - dark) * dens
        rgb[..., 3] = 255
        edge = (60, 60, 66, 255)
        rgb[0, :], rgb[-1, :], rgb[:, 0], rgb[:, -1] = edge, edge, edge, edge
        self._panel = self.ctx.texture((side, side), 4, rgb.astype(np.uint8).tobytes())
        self._panel.filter = (moderngl.NEAREST, moderngl.NEAREST)  # drawn texel for pixel
        if self._blitter.available:
            self._panel_fbo = self.ctx.framebuffer(color_attachments=[self._panel])
        self._panel_side = side

    def render(self, fb_size: tuple[int, int], fbo=None) -> tuple[int, int, int, int] | None:
        """Draw the map in the bottom-right corner of ``fbo`` (bound); returns its rectangle (pixels, top-left)."""
        import moderngl

        if not self._has_points:
            return None
        side = max(64, fb_size[1] // 4)
        margin = max(6, fb_size[1] // 60)
        rect = (fb_size[0] - side - margin, fb_size[1] - side - margin, side, side)
        if side != self._panel_side:
            self._make_panel(side)
        if self._panel_fbo is not None and fbo is not None:
            x0, y0 = rect[0], fb_size[1] - rect[1] - side  # GL rows count from the bottom
            self._blitter.blit(self._panel_fbo.glo, fbo.glo, (0, 0, side, side), (x0, y0, x0 + side, y0 + side))
            self._blitter.restore(fbo.glo)
            fbo.use()
        else:
            self._quad.draw(self._panel, rect, fb_size)
        n = min(self._count, self.history)
        if not n:
            return rect
        if self._dirty or rect != self._drawn_rect:
            order = np.arange(self._count - n, self._count) % self.history
            xy = np.clip(self._path[order], -0.05, 1.05)
            px = np.column_stack([rect[0] + xy[:, 0] * side, rect[1] + (1.0 - xy[:, 1]) * side])
            vertices = path_triangles(px, width=max(1.5, side / 120), dot=max(4.0, side / 24))
            self._vbo.write(vertices.tobytes())
            self._vertices = len(vertices)
            self._dirty = False
            self._drawn_rect = rect
        self._program["u_fb"].value = (float(fb_size[0]), float(fb_size[1]))
        self.ctx.enable(moderngl.BLEND)
        self.ctx.blend_func = moderngl.SRC_ALPHA, moderngl.ONE_MINUS_SRC_ALPHA
        self._vao.render(mode=moderngl.TRIANGLES, vertices=self._vertices)
        self.ctx.disable(moderngl.BLEND)
        return rect

    def release(self) -> None:
        self._release_panel()
        self._vao.release()
        self._vbo.release()
        self._program.release()
        self._quad.release()
