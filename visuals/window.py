"""The visuals window: pygame + moderngl, keys back to the run loop, PNG frames on request.

pygame is initialised with its display and font modules only (a full ``pygame.init()`` would open an
audio device, which belongs to the engine). With no display the run goes on without a window; with
``--frames DIR`` the pictures are still drawn, offscreen through EGL, and saved once a second.

:meth:`Visuals.frame` is called by the run loop: it draws one frame and returns the key presses
and releases since the last call (and a ``quit`` event when the window is closed). It never waits
on the engine or the agent; PNG files are compressed on a worker thread.
"""

from __future__ import annotations

import dataclasses
import os
import queue
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from aego.visuals.overlay import OverlayState
from aego.visuals.spectrogram import SpectrogramRenderer, SpectrogramStyle

from aego.errors import UsageError


@dataclass(frozen=True)
class VisualsConfig:
    """Where and how the visuals are shown.

    Attributes:
        window: open a window (``--no-window`` sets it to ``False``).
        display: the display the window opens on (``--display N``), 0 is the first.
        fullscreen: cover that display (``--fullscreen``).
        size: window size in pixels when not full screen.
        frames_dir: also write the picture as PNG files into this folder (``--frames DIR``).
        frame_interval: seconds between PNG files.
        title: the window title.
        sample_rate: Hz of the transform the spectrum frames come from (for the frequency axis).
        bins: bins of the spectrum frames (frames with another size reconfigure the picture).
        vsync: wait for the display's refresh when showing a frame (no tearing on a projector).
        max_fps: with a window, :meth:`Visuals.frame` returns no sooner than ``1 / max_fps`` after the
            previous frame, so a loop paced by it never spins (where vsync is unavailable, e.g. Xvfb,
            or off) and leaves the CPU to the audio.
        cpu_max_fps: the same limit when OpenGL runs on the CPU (Mesa llvmpipe/softpipe): there every
            frame costs a full-screen copy into the window on the cores the audio also needs.
        style: the spectrogram's look.
    """

    window: bool = True
    display: int = 0
    fullscreen: bool = False
    size: tuple[int, int] = (1280, 720)
    frames_dir: str | None = None
    frame_interval: float = 1.0
    title: str = "ægo"
    sample_rate: float = 22050.0
    bins: int = 1025
    vsync: bool = True
    max_fps: float = 60.0
    cpu_max_fps: float = 30.0
    style: SpectrogramStyle = field(default_factory=SpectrogramStyle)


@dataclass(frozen=True)
class KeyEvent:
    """A key pressed or released in the window, or ``quit`` when the window is closed.

    Attributes:
        key: pygame's key name (``a``, ``space``, ``left``, ``escape``, ``f1`` ...) or ``quit``.
        down: ``True`` for a press, ``False`` for a release.
        t: ``time.monotonic()`` seconds when the event was collected.
    """

    key: str
    down: bool
    t: float


class _PngWriter:
    """Saves pictures on a worker thread; a picture is dropped (and counted) if the last is not saved yet."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.written = 0
        self.dropped = 0
        self.errors: list[str] = []
        self._queue: queue.Queue = queue.Queue(maxsize=1)
        self._thread = threading.Thread(target=self._work, name="aego-visuals-png", daemon=True)
        self._thread.start()

    def submit(self, index: int, rgb: np.ndarray) -> None:
        try:
            self._queue.put_nowait((index, rgb))
        except queue.Full:
            self.dropped += 1

    def _work(self) -> None:
        from aego.visuals.headless import write_png

        while True:
            item = self._queue.get()
            if item is None:
                return
            index, rgb = item
            try:
                write_png(self.folder / f"frame-{index:06d}.png", rgb)
                self.written += 1
            except OSError as exc:
                self.errors.append(f"cannot write a frame into {self.folder}: {exc}")

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5.0)


class Visuals:
    """The window (or the offscreen picture) the run loop draws into.

    Args:
        config: see :class:`VisualsConfig`.

    Raises:
        UsageError: the frames folder cannot be created.
    """

    def __init__(self, config: VisualsConfig | None = None) -> None:
        self.config = config or VisualsConfig()
        self.window_open = False
        self.renderer: SpectrogramRenderer | None = None
        self.ctx = None
        self._target = None  # offscreen framebuffer when there is no window
        self._pygame = None
        self._pngs: _PngWriter | None = None
        self._next_png = 0.0
        self._png_index = 0
        self._events: list[dict] = []
        self._map: tuple | None = None
        self._last_flip = 0.0
        self._max_fps = self.config.max_fps
        if self.config.frames_dir is not None:
            folder = Path(self.config.frames_dir)
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UsageError(
                    f"cannot create the frames folder {folder}: {exc.strerror}; choose another --frames DIR"
                ) from None

    # -- opening -------------------------------------------------------------------------------
    def open(self) -> tuple[bool, str]:
        """Open the window.

        Returns:
            ``(True, description)`` when the window is open, or ``(False, reason)`` when the run goes
            on without one (frames are then still drawn offscreen when ``frames_dir`` is set, and the
            reason says whether they can be).
        """
        if self.config.window:
            ok, reason = self._open_window()
            if ok:
                self._start_frames()
                return True, reason
        else:
            reason = "no window (--no-window)"
        if self.config.frames_dir is not None:
            reason += "; " + self._open_offscreen()
        return False, reason

    def _open_window(self) -> tuple[bool, str]:
        driver = os.environ.get("SDL_VIDEODRIVER", "")
        if driver in ("dummy", "offscreen"):
            return False, f"no window: SDL_VIDEODRIVER={driver} has no OpenGL"
        if not driver and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            return False, "no display (DISPLAY is not set): running without a window"
        import moderngl
        from aego.visuals.headless import release_current_egl
        from aego.visuals.overlay import import_pygame

        pygame = self._pygame = import_pygame()
        try:
            pygame.display.init()
        except pygame.error as exc:
            return False, f"no window: the display cannot be opened ({exc})"
        count = pygame.display.get_num_displays()
        number = self.config.display
        if not 0 <= number < count:
            pygame.display.quit()
            return False, (f"no window: display {number} does not exist "
                           f"(this machine has {count}; use --display 0..{count - 1})")
        release_current_egl()
        pygame.display.gl_set_attribute(pygame.GL_CONTEXT_MAJOR_VERSION, 3)
        pygame.display.gl_set_attribute(pygame.GL_CONTEXT_MINOR_VERSION, 3)
        pygame.display.gl_set_attribute(pygame.GL_CONTEXT_PROFILE_MASK, pygame.GL_CONTEXT_PROFILE_CORE)
        flags = pygame.OPENGL | pygame.DOUBLEBUF | pygame.RESIZABLE
        size = tuple(int(v) for v in self.config.size)
        if self.config.fullscreen:
            flags |= pygame.FULLSCREEN
            size = tuple(pygame.display.get_desktop_sizes()[number])
        try:
            try:
                with warnings.catch_warnings():
                    # pygame warns (rather than fails) when the driver cannot sync to the refresh.
                    warnings.simplefilter("ignore")
                    pygame.display.set_mode(size, flags, display=number, vsync=1 if self.config.vsync else 0)
            except pygame.error:
                # Some drivers refuse vsync; tearing is better than no picture.
                pygame.display.set_mode(size, flags, display=number, vsync=0)
            pygame.display.set_caption(self.config.title)
            self.ctx = moderngl.create_context(require=330)
        except Exception as exc:
            pygame.display.quit()
            return False, f"no window: OpenGL 3.3 is not available on this display ({exc})"
        if self.config.fullscreen:
            pygame.mouse.set_visible(False)
        renderer = self.ctx.info["GL_RENDERER"]
        if any(name in renderer.lower() for name in ("llvmpipe", "softpipe", "swrast")):
            self._max_fps = min(self.config.max_fps, self.config.cpu_max_fps)
        width, height = pygame.display.get_window_size()
        self._make_renderer(width, height)
        self.window_open = True
        return True, f"window {width}×{height} on display {number} ({renderer}, up to {self._max_fps:g} frames/s)"

    def _open_offscreen(self) -> str:
        from aego.visuals.headless import OffscreenTarget, VisualsUnavailableError, create_headless_context

        try:
            self.ctx = create_headless_context()
        except VisualsUnavailableError as exc:
            return f"no frames either: {exc}"
        width, height = (int(v) for v in self.config.size)
        self._target = OffscreenTarget(self.ctx, width, height)
        self._make_renderer(width, height)
        self._start_frames()
        return f"frames are drawn offscreen into {self.config.frames_dir}"

    def _make_renderer(self, width: int, height: int) -> None:
        self.renderer = SpectrogramRenderer(self.ctx, width, height, self.config.bins, self.config.sample_rate,
                                            style=self.config.style)
        if self._map is not None:
            self.renderer.set_map(*self._map)

    def _start_frames(self) -> None:
        if self.config.frames_dir is not None and self._pngs is None:
            folder = Path(self.config.frames_dir)
            # A resumed run goes on numbering after the frames already there, never over them.
            numbers = [int(p.stem[6:]) for p in folder.glob("frame-*.png") if p.stem[6:].isdigit()]
            self._png_index = max(numbers, default=0)
            self._pngs = _PngWriter(folder)
            self._next_png = time.monotonic()

    # -- every frame ---------------------------------------------------------------------------
    def set_map(self, points: np.ndarray | None, rest: tuple[float, float] = (0.5, 0.5)) -> None:
        """Trained points of the active projection for the map, ``(n, 2)`` normalised; ``None`` hides it."""
        self._map = (points, rest)
        if self.renderer is not None:
            self.renderer.set_map(points, rest)

    def set_colormap(self, name: str) -> None:
        """Switch the colour map (a name from :data:`aego.visuals.colormaps.COLORMAPS`; others raise UsageError)."""
        from aego.visuals.colormaps import colormap

        colormap(name)  # refuses an unknown name even before the window opens
        self.config = dataclasses.replace(self.config, style=dataclasses.replace(self.config.style, colormap=name))
        if self.renderer is not None:
            self.renderer.set_colormap(name)

    def frame(self, columns: np.ndarray | None, overlay: OverlayState | None) -> list[KeyEvent]:
        """Draw one frame.

        Args:
            columns: spectrum frames produced since the last call, ``(frames, bins)`` linear magnitudes
                (``None`` or empty: the picture holds still).
            overlay: the state to write over the picture (``None``: unchanged).

        Returns:
            Key presses and releases since the last call, oldest first, and ``KeyEvent('quit', True, t)``
            when the window was closed.
        """
        events = self._poll() if self.window_open else []
        if self.renderer is None:
            return events
        try:
            if columns is not None and len(columns):
                self.renderer.push(columns)
            if overlay is not None:
                self.renderer.set_overlay(overlay)
            now = time.monotonic()
            capture = self._pngs is not None and now >= self._next_png
            if self.window_open:
                self.renderer.render(self.ctx.screen)
                if capture:
                    self._capture(now)
                self._pygame.display.flip()
                self._pace()
            elif capture:
                self.renderer.render(self._target.fbo)
                self._capture(now)
        except Exception as exc:  # a bad frame or a GL failure must not end the performance
            self._log_error(f"visuals: {type(exc).__name__}: {exc}")
        return events

    def _pace(self) -> None:
        """Sleep out the rest of the frame period (no-op when vsync already waited for the display)."""
        period = 1.0 / self._max_fps if self._max_fps > 0 else 0.0
        wait = self._last_flip + period - time.monotonic()
        if 0 < wait <= period:
            time.sleep(wait)
        self._last_flip = time.monotonic()

    def _capture(self, now: float) -> None:
        from aego.visuals.headless import read_rgb

        fbo = self.ctx.screen if self.window_open else self._target.fbo
        fbo.viewport = (0, 0, self.renderer.width, self.renderer.height)
        self._png_index += 1
        self._pngs.submit(self._png_index, read_rgb(fbo))
        self._next_png = max(self._next_png + self.config.frame_interval, now)

    def _poll(self) -> list[KeyEvent]:
        pygame = self._pygame
        out = []
        now = time.monotonic()
        for event in pygame.event.get():
            if event.type in (pygame.KEYDOWN, pygame.KEYUP):
                out.append(KeyEvent(pygame.key.name(event.key) or f"key{event.key}", event.type == pygame.KEYDOWN, now))
            elif event.type == pygame.QUIT:
                out.append(KeyEvent("quit", True, now))
            elif event.type in (pygame.VIDEORESIZE, pygame.WINDOWSIZECHANGED) and self.renderer is not None:
                self.renderer.resize(*pygame.display.get_window_size())
        return out

    def screenshot(self) -> np.ndarray | None:
        """Draw the current picture and read it back, ``(height, width, 3)`` uint8 RGB (``None``: nothing open)."""
        from aego.visuals.headless import read_rgb

        if self.renderer is None:
            return None
        fbo = self.ctx.screen if self.window_open else self._target.fbo
        self.renderer.render(fbo)
        return read_rgb(fbo).copy()

    def events(self) -> list[dict]:
        """Events to log since the last call (errors met while drawing or saving frames)."""
        if self._pngs is not None and self._pngs.errors:
            errors, self._pngs.errors = self._pngs.errors, []
            for message in errors:
                self._log_error(message)
        out, self._events = self._events, []
        return out

    def _log_error(self, message: str) -> None:
        # The same failure every frame is logged once, not sixty times a second.
        if not any(e["message"] == message for e in self._events[-5:]):
            self._events.append({"type": "error", "source": "visuals", "message": message})

    def stats(self) -> dict:
        """Counters for the session summary."""
        return {
            "window": self.window_open,
            "frames_written": self._pngs.written if self._pngs else 0,
            "frames_dropped": self._pngs.dropped if self._pngs else 0,
        }

    def close(self) -> None:
        """Close the window and free everything; waits for the last PNG to be written."""
        if self._pngs is not None:
            self._pngs.close()
            self._pngs = None
        if self.renderer is not None:
            self.renderer.release()
            self.renderer = None
        if self._target is not None:
            self._target.release()
            self._target = None
        if self.ctx is not None and not self.window_open:
            self.ctx.release()
        self.ctx = None
        if self.window_open:
            self._pygame.display.quit()
            self.window_open = False
