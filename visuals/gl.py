"""Small OpenGL pieces the layers share: a screen-aligned textured quad placed in pixels."""

from __future__ import annotations

import numpy as np

QUAD_VERTEX = """
#version 330
in vec2 in_pos;          // corners of the unit square, 0..1
uniform vec4 u_rect;     // x, y, width, height in normalised device coordinates
out vec2 v_uv;
void main() {
    v_uv = in_pos;
    gl_Position = vec4(u_rect.xy + in_pos * u_rect.zw, 0.0, 1.0);
}
"""

TEXTURED_FRAGMENT = """
#version 330
uniform sampler2D u_texture;
uniform vec4 u_tint;     // multiplies the texture (rgb) and its alpha
in vec2 v_uv;
out vec4 f_colour;
void main() {
    f_colour = texture(u_texture, v_uv) * u_tint;
}
"""

UNIT_SQUARE = np.array([0, 0, 1, 0, 0, 1, 1, 1], dtype="f4")


def ndc_rect(x: float, y: float, width: float, height: float, fb_width: int, fb_height: int) -> tuple:
    """A rectangle given in pixels from the TOP-left corner, as ``(x, y, w, h)`` in device coordinates.

    Device coordinates run -1..1 from the bottom-left; the returned ``y`` is the rectangle's bottom edge.
    """
    left = 2.0 * x / fb_width - 1.0
    bottom = 1.0 - 2.0 * (y + height) / fb_height
    return (left, bottom, 2.0 * width / fb_width, 2.0 * height / fb_height)


class TexturedQuad:
    """Draws a texture into a pixel rectangle of the current framebuffer, alpha-blended.

    Args:
        ctx: a moderngl context.
    """

    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.program = ctx.program(vertex_shader=QUAD_VERTEX, fragment_shader=TEXTURED_FRAGMENT)
        self._vbo = ctx.buffer(UNIT_SQUARE.tobytes())
        self.vao = ctx.vertex_array(self.program, [(self._vbo, "2f", "in_pos")])

    def draw(self, texture, rect_px: tuple[float, float, float, float], fb_size: tuple[int, int],
             tint: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)) -> None:
        """Draw ``texture`` into ``rect_px`` (x, y from the top-left, width, height; pixels)."""
        import moderngl

        self.program["u_rect"].value = ndc_rect(*rect_px, *fb_size)
        self.program["u_tint"].value = tint
        self.program["u_texture"].value = 0
        texture.use(0)
        self.ctx.enable(moderngl.BLEND)
        self.ctx.blend_func = moderngl.SRC_ALPHA, moderngl.ONE_MINUS_SRC_ALPHA
        self.vao.render(mode=moderngl.TRIANGLE_STRIP)
        self.ctx.disable(moderngl.BLEND)

    def release(self) -> None:
        self.vao.release()
        self._vbo.release()
        self.program.release()


GL_READ_FRAMEBUFFER = 0x8CA8
GL_DRAW_FRAMEBUFFER = 0x8CA9
GL_FRAMEBUFFER = 0x8D40
GL_COLOR_BUFFER_BIT = 0x4000
GL_NEAREST = 0x2600


class Blitter:
    """``glBlitFramebuffer`` between rectangles, which moderngl only offers for whole framebuffers.

    On Mesa's llvmpipe an unscaled blit is a memory copy (well under a millisecond for 1920×1080)
    where a full-screen textured quad costs tens of milliseconds; the scrolling picture is two such
    blits a frame. The entry point comes from the GL dispatch library (libglvnd), which forwards to
    whatever context is current, EGL or GLX.

    ``available`` is ``False`` when no GL library exposes the call; the caller then draws a quad.
    """

    def __init__(self) -> None:
        import ctypes

        self.available = False
        for name in ("libOpenGL.so.0", "libGL.so.1"):
            try:
                lib = ctypes.CDLL(name)
                blit = lib.glBlitFramebuffer
                bind = lib.glBindFramebuffer
            except (OSError, AttributeError):
                continue
            blit.argtypes = [ctypes.c_int] * 8 + [ctypes.c_uint, ctypes.c_uint]
            blit.restype = None
            bind.argtypes = [ctypes.c_uint, ctypes.c_uint]
            bind.restype = None
            self._blit, self._bind = blit, bind
            self.available = True
            break

    def blit(self, src_glo: int, dst_glo: int, src: tuple[int, int, int, int], dst: tuple[int, int, int, int]) -> None:
        """Copy ``src`` (x0, y0, x1, y1; GL pixels from the bottom-left) of one framebuffer to ``dst`` of another."""
        self._bind(GL_READ_FRAMEBUFFER, src_glo)
        self._bind(GL_DRAW_FRAMEBUFFER, dst_glo)
        self._blit(*src, *dst, GL_COLOR_BUFFER_BIT, GL_NEAREST)

    def restore(self, glo: int) -> None:
        """Bind ``glo`` for both reading and drawing again (as moderngl's ``fbo.use()`` leaves it)."""
        self._bind(GL_FRAMEBUFFER, glo)
