"""Offscreen OpenGL through EGL (Mesa llvmpipe works with no display), read-back and PNG files.

Used when there is no window (``--no-window`` or no display) but ``--frames DIR`` asks for pictures,
by the unit tests and by ``aego bench visuals``.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from aego.errors import UsageError


class VisualsUnavailableError(UsageError):
    """No OpenGL context could be made; the message says why and what to install."""


def create_headless_context():
    """A standalone moderngl context on EGL (needs ``libegl1 libegl-mesa0 libgl1-mesa-dri``).

    Returns:
        ``moderngl.Context`` of OpenGL 3.3 core or newer.

    Raises:
        VisualsUnavailableError: EGL or a suitable driver is missing.
    """
    import moderngl

    try:
        ctx = moderngl.create_context(standalone=True, backend="egl", require=330)
    except Exception as exc:  # moderngl raises plain Exception subclasses from glcontext
        raise VisualsUnavailableError(
            f"no offscreen OpenGL ({exc}); install libegl1 libegl-mesa0 libgl1-mesa-dri (make setup does)"
        ) from None
    return ctx


def release_current_egl() -> None:
    """Leave no EGL context current on this thread.

    With libglvnd a thread whose current context is EGL cannot make a GLX context current (the X
    server answers BadAccess and Xlib ends the process); a window opened after offscreen drawing in
    the same thread needs this first. Harmless when EGL is absent or nothing is current.
    """
    import ctypes

    try:
        egl = ctypes.CDLL("libEGL.so.1")
    except OSError:
        return
    egl.eglGetCurrentContext.restype = ctypes.c_void_p
    if egl.eglGetCurrentContext():
        egl.eglReleaseThread()


class OffscreenTarget:
    """A colour framebuffer of a given size to render into and read back.

    Args:
        ctx: a moderngl context.
        width, height: pixels.
    """

    def __init__(self, ctx, width: int, height: int) -> None:
        self.ctx = ctx
        self.width = int(width)
        self.height = int(height)
        self._colour = ctx.renderbuffer((self.width, self.height), components=4)
        self.fbo = ctx.framebuffer(color_attachments=[self._colour])

    def read(self) -> np.ndarray:
        """The picture, ``(height, width, 3)`` uint8 RGB, row 0 at the top."""
        return read_rgb(self.fbo)

    def release(self) -> None:
        self.fbo.release()
        self._colour.release()


def read_rgb(fbo) -> np.ndarray:
    """Read a framebuffer's colour, ``(height, width, 3)`` uint8 RGB, row 0 at the top."""
    width, height = fbo.viewport[2], fbo.viewport[3]
    data = fbo.read(viewport=(0, 0, width, height), components=3, alignment=1)
    return np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)[::-1]


def encode_png(rgb: np.ndarray, level: int = 3) -> bytes:
    """PNG bytes of an RGB picture.

    Written with zlib alone (it releases the GIL while compressing), so frames can be saved from a
    worker thread without holding up the drawing loop.

    Args:
        rgb: ``(height, width, 3)`` uint8, row 0 at the top.
        level: zlib compression level (low is fast; pictures of spectra compress well anyway).
    """
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected (height, width, 3) uint8, got shape {rgb.shape}")
    height, width = rgb.shape[:2]
    # Filter type 0 (none) in front of every row.
    raw = np.concatenate([np.zeros((height, 1), np.uint8), rgb.reshape(height, width * 3)], axis=1)

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw.tobytes(), level))
            + chunk(b"IEND", b""))


def write_png(path: str | Path, rgb: np.ndarray) -> Path:
    """Write ``rgb`` (``(height, width, 3)`` uint8, row 0 at the top) as a PNG file; returns the path.

    The file appears whole or not at all (written beside, then renamed).
    """
    path = Path(path)
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(encode_png(rgb))
    partial.replace(path)
    return path


def read_png(path: str | Path) -> np.ndarray:
    """Read a PNG written by :func:`write_png` (8-bit RGB, filter 0 rows), ``(height, width, 3)`` uint8."""
    data = Path(path).read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG file")
    pos, width, height, idat = 8, 0, 0, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        tag, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if tag == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            if depth != 8 or colour != 2:
                raise ValueError(f"{path}: only 8-bit RGB PNGs are read here")
        elif tag == b"IDAT":
            idat += body
        pos += 12 + length
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, 1 + width * 3)
    if np.any(rows[:, 0] != 0):
        raise ValueError(f"{path}: filtered PNG rows are not supported here")
    return rows[:, 1:].reshape(height, width, 3).copy()
