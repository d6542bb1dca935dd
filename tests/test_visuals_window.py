"""The visuals window end to end: a real pygame OpenGL window on Xvfb (Mesa GLX), keys through the
X server's XTEST extension, closing through the window manager protocol; and the no-display paths."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import signal
import subprocess
import time

import numpy as np
import pytest
from aego.visuals import OverlayState, Visuals, VisualsConfig
from aego.visuals.headless import read_png

from aego.errors import UsageError

BINS = 1025


def _die_with_parent() -> None:
    """In the child: end with the test process even if that one dies hard (Xlib exits on some errors)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@pytest.fixture
def xvfb(monkeypatch):
    """A private X server on a free display number; the environment points SDL at it."""
    if shutil.which("Xvfb") is None:
        pytest.fail("Xvfb is missing: install xvfb (make setup does)")
    read_fd, write_fd = os.pipe()
    # -noreset: the server would otherwise reset (refusing connections for a moment) whenever its last
    # client leaves, e.g. between two windows of one test.
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "800x600x24", "-nolisten", "tcp",
                             "-noreset"],
                            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=_die_with_parent)
    os.close(write_fd)
    number = b""
    deadline = time.monotonic() + 20
    while not number.endswith(b"\n") and time.monotonic() < deadline:
        chunk = os.read(read_fd, 16)
        if not chunk:
            break
        number += chunk
    os.close(read_fd)
    if not number.strip():
        proc.kill()
        pytest.fail("Xvfb did not report a display number")
    display = ":" + number.decode().strip()
    monkeypatch.setenv("DISPLAY", display)
    monkeypatch.setenv("SDL_VIDEODRIVER", "x11")
    yield display
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


class XClientMessage(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                ("display", ctypes.c_void_p), ("window", ctypes.c_ulong), ("message_type", ctypes.c_ulong),
                ("format", ctypes.c_int), ("data", ctypes.c_long * 5)]


class XEvent(ctypes.Union):
    _fields_ = [("xclient", XClientMessage), ("pad", ctypes.c_long * 24)]


class X11:
    """Just enough Xlib + XTEST (through ctypes) to press keys and close a window like a user."""

    def __init__(self, display: str) -> None:
        self.x = ctypes.CDLL(ctypes.util.find_library("X11"))
        self.xtst = ctypes.CDLL(ctypes.util.find_library("Xtst"))
        self.x.XOpenDisplay.restype = ctypes.c_void_p
        self.x.XOpenDisplay.argtypes = [ctypes.c_char_p]
        self.x.XStringToKeysym.restype = ctypes.c_ulong
        self.x.XStringToKeysym.argtypes = [ctypes.c_char_p]
        self.x.XKeysymToKeycode.restype = ctypes.c_ubyte
        self.x.XKeysymToKeycode.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
        self.x.XInternAtom.restype = ctypes.c_ulong
        self.x.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        self.x.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long,
                                      ctypes.POINTER(XEvent)]
        self.x.XSetInputFocus.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_ulong]
        self.x.XFlush.argtypes = [ctypes.c_void_p]
        self.x.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
        self.x.XCloseDisplay.argtypes = [ctypes.c_void_p]
        self.x.XResizeWindow.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_uint, ctypes.c_uint]
        self.xtst.XTestFakeKeyEvent.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_ulong]
        self.dpy = self.x.XOpenDisplay(display.encode())
        assert self.dpy, f"cannot open {display}"

    def focus(self, window: int) -> None:
        self.x.XSetInputFocus(self.dpy, window, 1, 0)  # RevertToPointerRoot, CurrentTime
        self.x.XSync(self.dpy, 0)

    def key(self, name: str, down: bool) -> None:
        code = self.x.XKeysymToKeycode(self.dpy, self.x.XStringToKeysym(name.encode()))
        assert code, f"no keycode for {name}"
        self.xtst.XTestFakeKeyEvent(self.dpy, code, 1 if down else 0, 0)
        self.x.XFlush(self.dpy)

    def resize(self, window: int, width: int, height: int) -> None:
        self.x.XResizeWindow(self.dpy, window, width, height)
        self.x.XFlush(self.dpy)

    def close_window(self, window: int) -> None:
        """What a window manager sends when the user clicks the close button: WM_DELETE_WINDOW."""
        event = XEvent()
        event.xclient.type = 33  # ClientMessage
        event.xclient.window = window
        event.xclient.message_type = self.x.XInternAtom(self.dpy, b"WM_PROTOCOLS", 0)
        event.xclient.format = 32
        event.xclient.data[0] = self.x.XInternAtom(self.dpy, b"WM_DELETE_WINDOW", 0)
        self.x.XSendEvent(self.dpy, window, 0, 0, ctypes.byref(event))
        self.x.XFlush(self.dpy)

    def close(self) -> None:
        self.x.XCloseDisplay(self.dpy)


def collect(visuals: Visuals, wanted, seconds: float = 10.0) -> list:
    """Draw frames until ``wanted(events)`` holds (or time runs out); returns every event seen."""
    seen = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen += visuals.frame(None, None)
        if wanted(seen):
            break
        time.sleep(0.01)
    return seen


def spectra(frames: int, bin_index: int) -> np.ndarray:
    cols = np.full((frames, BINS), 1e-3, np.float32)
    cols[:, bin_index] = 300.0
    return cols


def test_the_window_shows_the_spectrogram_and_text_and_returns_keys_and_quit(xvfb, tmp_path):
    visuals = Visuals(VisualsConfig(size=(640, 360), frames_dir=str(tmp_path / "frames"), frame_interval=0.2))
    ok, reason = visuals.open()
    assert ok, reason
    assert "window 640×360" in reason
    if "llvmpipe" in reason:  # OpenGL on the CPU: the window leaves half the frames to the audio
        assert "up to 30 frames/s" in reason
    x11 = X11(xvfb)
    try:
        overlay = OverlayState(mode="rehearse", section="one", space="synthetic", dims=1, step=3, action=(0, 1),
                               keys=("left/right: reward -/+",))
        for _ in range(5):
            visuals.frame(spectra(4, 93), overlay)
        shot = visuals.screenshot()
        assert shot.shape == (360, 640, 3)
        rgb = shot.astype(int)
        text = (rgb.min(axis=2) > 150) & (rgb.max(axis=2) - rgb.min(axis=2) < 40)
        rows = np.flatnonzero(text.any(axis=1))
        assert rows.min() < 30 and np.flatnonzero(text.any(axis=0)).min() < 30  # top-left text
        lit_columns = np.flatnonzero((rgb.sum(axis=2) > 60)[int(0.3 * 360):int(0.8 * 360)].any(axis=0))
        assert lit_columns.min() == 640 - 20 and lit_columns.max() == 639  # 20 frames at the right edge
        row = int(np.argmax(rgb[:, 635].sum(axis=1)))
        expected = (1 - visuals.renderer.frequency_to_y(93 * 22050 / 2048)) * 360
        assert abs(row - expected) <= 2

        import pygame

        window = pygame.display.get_wm_info()["window"]
        x11.focus(window)
        x11.key("a", True)
        x11.key("a", False)
        x11.key("Left", True)
        x11.key("Left", False)
        events = collect(visuals, lambda ev: sum(not e.down for e in ev) >= 2)
        keys = [(e.key, e.down) for e in events]
        assert keys == [("a", True), ("a", False), ("left", True), ("left", False)]
        assert all(isinstance(e.t, float) for e in events)

        x11.close_window(window)
        events = collect(visuals, lambda ev: any(e.key == "quit" for e in ev))
        assert any(e.key == "quit" and e.down for e in events)
    finally:
        x11.close()
        visuals.close()
    pngs = sorted((tmp_path / "frames").glob("frame-*.png"))
    assert pngs, "no PNG frame was written"
    picture = read_png(pngs[-1])
    assert picture.shape == (360, 640, 3)
    assert picture[:, -5:].sum() > 0  # the spectrum is in the saved frame too


def test_resizing_the_window_resizes_the_picture_and_full_screen_covers_the_display(xvfb):
    import pygame

    visuals = Visuals(VisualsConfig(size=(320, 200)))
    ok, reason = visuals.open()
    assert ok, reason
    x11 = X11(xvfb)
    try:
        visuals.frame(spectra(5, 300), OverlayState(section="one"))
        x11.resize(pygame.display.get_wm_info()["window"], 480, 300)
        deadline = time.monotonic() + 10
        while visuals.renderer.width != 480 and time.monotonic() < deadline:
            visuals.frame(None, None)
        assert (visuals.renderer.width, visuals.renderer.height) == (480, 300)
        visuals.frame(spectra(5, 300), None)
        for _ in range(3):  # the window's buffers follow the new size at the next swaps
            visuals.frame(None, None)
        shot = visuals.screenshot()
        assert shot.shape == (300, 480, 3)
        lit = np.flatnonzero((shot.astype(int).sum(axis=2) > 60)[50:100].any(axis=0))  # 3.2 kHz: row 66
        assert len(lit) and lit.max() == 479 and lit.min() == 480 - 10, lit  # five older frames kept, five new
        visuals.set_colormap("viridis")
        assert visuals.screenshot()[299, 0].tolist() == [68, 1, 84]  # viridis' floor colour, lower left
        with pytest.raises(UsageError):
            visuals.set_colormap("nope")
    finally:
        x11.close()
        visuals.close()
    visuals = Visuals(VisualsConfig(fullscreen=True))
    ok, reason = visuals.open()
    assert ok, reason
    try:
        assert "800×600" in reason
        assert visuals.screenshot().shape == (600, 800, 3)
    finally:
        visuals.close()


def test_a_display_that_does_not_exist_is_reported_not_fatal(xvfb):
    visuals = Visuals(VisualsConfig(display=5))
    ok, reason = visuals.open()
    assert not ok
    assert "display 5 does not exist" in reason and "--display 0..0" in reason
    assert visuals.frame(np.ones((2, BINS)), OverlayState()) == []
    visuals.close()


def test_without_a_display_the_run_goes_on_and_frames_are_drawn_offscreen(monkeypatch, tmp_path):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("SDL_VIDEODRIVER", raising=False)
    visuals = Visuals(VisualsConfig(size=(320, 180), frames_dir=str(tmp_path / "f"), frame_interval=0.05))
    ok, reason = visuals.open()
    assert not ok
    assert "no display" in reason and "offscreen" in reason
    deadline = time.monotonic() + 10
    while visuals.stats()["frames_written"] < 2 and time.monotonic() < deadline:
        visuals.frame(spectra(2, 200), OverlayState(section="one", step=1))
        time.sleep(0.02)
    visuals.close()
    pngs = sorted((tmp_path / "f").glob("frame-*.png"))
    assert len(pngs) >= 2
    picture = read_png(pngs[-1])
    # A second run into the same folder (a resumed session) adds frames after them.
    again = Visuals(VisualsConfig(window=False, size=(320, 180), frames_dir=str(tmp_path / "f")))
    again.open()
    again.frame(spectra(2, 200), OverlayState())
    again.close()
    assert sorted((tmp_path / "f").glob("frame-*.png"))[: len(pngs)] == pngs
    assert len(list((tmp_path / "f").glob("frame-*.png"))) == len(pngs) + 1
    assert picture.shape == (180, 320, 3)
    assert picture[:, -3:].sum() > 0 and picture[:20, :60].max() > 150  # spectrum at the right, text top-left


def test_no_window_and_no_frames_costs_nothing(monkeypatch):
    visuals = Visuals(VisualsConfig(window=False))
    ok, reason = visuals.open()
    assert not ok and "--no-window" in reason
    assert visuals.frame(np.ones((2, BINS)), OverlayState()) == []
    assert visuals.renderer is None
    visuals.close()


def test_an_unwritable_frames_folder_is_a_usage_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UsageError, match="cannot create the frames folder"):
        Visuals(VisualsConfig(frames_dir=str(blocker / "frames")))
