"""The renderer drawn through a real EGL offscreen context (Mesa), checked pixel by pixel."""

from __future__ import annotations

import numpy as np
import pytest
from aego.visuals import COLORMAPS, OverlayState, SpectrogramRenderer, SpectrogramStyle, colormap
from aego.visuals.headless import OffscreenTarget, create_headless_context, read_png, write_png

from aego.errors import UsageError

W, H = 320, 240
SR = 22050
BINS = 1025
BIN_HZ = SR / 2048


@pytest.fixture(scope="module")
def ctx():
    context = create_headless_context()
    yield context
    context.release()


@pytest.fixture
def target(ctx):
    t = OffscreenTarget(ctx, W, H)
    yield t
    t.release()


def tone(bin_index: int, level: float = 300.0) -> np.ndarray:
    col = np.full(BINS, 1e-3, np.float32)
    col[bin_index] = level
    return col


def silence(frames: int = 1) -> np.ndarray:
    return np.zeros((frames, BINS), np.float32)


def brightness(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float32).sum(axis=2)


def text_pixels(img: np.ndarray) -> np.ndarray:
    """Pixels of the overlay's pale grey text colour (bright in every channel, little colour)."""
    rgb = img.astype(np.int32)
    return (rgb.min(axis=2) > 150) & (rgb.max(axis=2) - rgb.min(axis=2) < 40)


def draw(renderer: SpectrogramRenderer, target: OffscreenTarget) -> np.ndarray:
    renderer.render(target.fbo)
    return target.read()


def test_a_single_strong_bin_lands_at_its_log_frequency_row_in_the_newest_columns(ctx, target):
    r = SpectrogramRenderer(ctx, W, H, BINS, SR, overlay=False, path_map=False)
    k = 93  # 1001 Hz
    r.push(np.stack([tone(k)] * 10))
    img = draw(r, target)
    lit = brightness(img) > 60
    # Only the ten newest columns, at the right edge, hold anything.
    columns = np.flatnonzero(lit.any(axis=0))
    assert columns.min() == W - 10 and columns.max() == W - 1
    # The brightest row sits where the log axis puts 1001 Hz (row 0 is the top of the image).
    row = int(np.argmax(brightness(img)[:, W - 5]))
    expected = (1.0 - r.frequency_to_y(k * BIN_HZ)) * H
    assert abs(row - expected) <= 2, (row, expected)
    # On a log axis 1 kHz is well above the middle of a 40 Hz - 11 kHz picture, and 4 kHz higher still.
    assert row < H * 0.5
    r.push(np.stack([tone(372)] * 10))
    row4k = int(np.argmax(brightness(draw(r, target))[:, W - 5]))
    assert abs(row4k - (1.0 - r.frequency_to_y(372 * BIN_HZ)) * H) <= 2
    assert row4k < row
    r.release()


def test_the_linear_axis_puts_a_bin_in_proportion_to_its_frequency(ctx, target):
    r = SpectrogramRenderer(ctx, W, H, BINS, SR, style=SpectrogramStyle(log_frequency=False),
                            overlay=False, path_map=False)
    k = 512  # half of Nyquist
    r.push(np.stack([tone(k)] * 4))
    row = int(np.argmax(brightness(draw(r, target))[:, W - 2]))
    assert abs(row - H * (1 - k / (BINS - 1))) <= 2
    r.release()


def test_a_high_narrow_partial_is_not_lost_between_rows(ctx, target):
    # At the top of a log axis one row spans several bins; each must still show.
    r = SpectrogramRenderer(ctx, W, H, BINS, SR, overlay=False, path_map=False)
    for k in range(900, 910):
        r.push(tone(k))
    column_peaks = brightness(draw(r, target))[: H // 10, W - 10:].max(axis=0)
    assert np.all(column_peaks > 200)
    r.release()


def test_pushing_frames_scrolls_the_picture_left(ctx, target):
    r = SpectrogramRenderer(ctx, W, H, BINS, SR, overlay=False, path_map=False)
    r.push(np.stack([tone(200)] * 5))
    before = np.flatnonzero((brightness(draw(r, target)) > 60).any(axis=0))
    r.push(silence(30))
    after = np.flatnonzero((brightness(draw(r, target)) > 60).any(axis=0))
    assert list(before) == list(range(W - 5, W))
    assert list(after) == list(range(W - 35, W - 30))
    # Round the ring more than once: the tone leaves the picture, the wrap shows no seam.
    r.push(silence(W))
    assert not (brightness(draw(r, target)) > 60).any()
    r.push(np.stack([tone(200)] * 3))
    r.push(silence(7))
    again = np.flatnonzero((brightness(draw(r, target)) > 60).any(axis=0))
    assert list(again) == list(range(W - 10, W - 7))
    r.release()


def test_colour_maps_differ_and_unknown_names_are_refused(ctx, target):
    tables = {name: colormap(name) for name in COLORMAPS}
    assert len({t.tobytes() for t in tables.values()}) == len(COLORMAPS)
    for table in tables.values():
        assert table.shape == (256, 3) and table.dtype == np.uint8
    ramp = np.geomspace(1e-3, 300, BINS).astype(np.float32)
    pictures = {}
    for name in ("magma", "viridis", "grey"):
        r = SpectrogramRenderer(ctx, W, H, BINS, SR, style=SpectrogramStyle(colormap=name), overlay=False,
                                path_map=False)
        r.push(np.stack([ramp] * 20))
        pictures[name] = draw(r, target)[:, W - 10].astype(int)
        r.release()
    assert np.abs(pictures["magma"] - pictures["viridis"]).mean() > 20
    grey = pictures["grey"]
    assert np.all(grey[:, 0] == grey[:, 1]) and np.all(grey[:, 1] == grey[:, 2])
    with pytest.raises(UsageError, match="unknown colour map 'plasmaa'"):
        colormap("plasmaa")


def test_overlay_text_is_at_the_top_left_and_nowhere_else_in_its_rows(ctx, target):
    r = SpectrogramRenderer(ctx, W * 2, H * 2, BINS, SR, path_map=False)
    big = OffscreenTarget(ctx, W * 2, H * 2)
    r.push(silence(5))
    r.set_overlay(OverlayState(mode="rehearse", section="one", space="synthetic", dims=1, period=0.05, step=12,
                               action=(0, 1), reward=0.5))
    r.render(big.fbo)
    img = big.read()
    text = text_pixels(img)
    rows = np.flatnonzero(text.any(axis=1))
    cols = np.flatnonzero(text.any(axis=0))
    assert len(rows) > 0
    # The block starts near the top-left corner ...
    assert rows.min() < 0.06 * img.shape[0] and cols.min() < 0.05 * img.shape[1]
    # ... and its rows hold no text-coloured pixel beyond the block's right edge.
    band = text[rows.min():rows.max() + 1]
    assert not band[:, int(0.75 * img.shape[1]):].any()
    # The lower half (no key legend given) is free of text.
    assert not text[img.shape[0] // 2:].any()
    big.release()
    r.release()


def test_the_key_legend_goes_to_the_bottom_left(ctx, target):
    r = SpectrogramRenderer(ctx, W * 2, H * 2, BINS, SR, path_map=False)
    big = OffscreenTarget(ctx, W * 2, H * 2)
    r.set_overlay(OverlayState(keys=("left/right: reward -/+",)))
    r.render(big.fbo)
    text = text_pixels(big.read())
    rows = np.flatnonzero(text.any(axis=1))
    # The legend near the bottom; above it only the state block's title line, at the very top.
    assert rows.max() > 0.9 * big.height
    assert not ((rows > 0.15 * big.height) & (rows < 0.85 * big.height)).any()
    big.release()
    r.release()


def test_the_text_texture_is_rebuilt_only_when_the_text_changes(ctx, target):
    r = SpectrogramRenderer(ctx, W, H, BINS, SR, path_map=False)
    state = OverlayState(section="one", step=1)
    r.set_overlay(state)
    draw(r, target)
    assert r.text.renders == 1
    for _ in range(5):
        r.set_overlay(state)
        draw(r, target)
    assert r.text.renders == 1
    r.set_overlay(OverlayState(section="one", step=2))
    draw(r, target)
    assert r.text.renders == 2
    r.release()


def test_the_overlay_lines_say_what_the_machine_is_doing():
    state = OverlayState(mode="perform", elapsed=75.4, space="orchestral", section="shrink-4", projection="ica",
                         dims=2, period=0.05, step=1234, action=(1, -1), position=(0.25, 0.5), reward=-0.5,
                         reward_source="imu", estimates=(0.12, -0.03, 0.4, float("nan")), novelty=0.83,
                         sensors="left ok · right stale", audio_load=0.23, underflows=2, status=("paused",))
    text = "\n".join(state.lines())
    assert "perform  01:15" in text
    assert "shrink-4 · orchestral · ica · 2 dims · 50 ms" in text
    assert "step     1234  dim 1 -" in text
    assert "z        0.250 0.500" in text
    assert "reward   -0.50 imu" in text
    assert "Ĥ(- +)   0 +.12 -.03  1 +.40*+.00" in text  # the best action marked; NaN shown as 0
    assert "novelty  0.83" in text and "right stale" in text and "underflows 2" in text
    assert text.endswith("paused")
    assert OverlayState().lines() == ["ægo"]


def test_the_map_shows_trained_zones_and_says_whether_the_agent_is_in_one(ctx, target):
    r = SpectrogramRenderer(ctx, W * 2, H * 2, BINS, SR)
    big = OffscreenTarget(ctx, W * 2, H * 2)
    rng = np.random.default_rng(0)
    r.set_map(rng.normal(0.25, 0.05, (3000, 2)))  # trained only around (0.25, 0.25)
    r.set_overlay(OverlayState(dims=2, position=(0.25, 0.25)))
    assert any(line.startswith("zone     trained") for line in r.text.lines)
    r.render(big.fbo)
    img = big.read()
    side = max(64, big.height // 4)
    margin = max(6, big.height // 60)
    box = brightness(img[big.height - margin - side:big.height - margin, big.width - margin - side:big.width - margin])
    # The trained zone is the lower-left quarter of the box (y grows upwards in the map); inside the frame.
    lower_left = box[side // 2:-3, 3:side // 2]
    upper_right = box[3:side // 2, side // 2:-3]
    assert lower_left.mean() > upper_right.mean() + 60
    r.set_overlay(OverlayState(dims=2, position=(0.9, 0.9)))
    assert any(line.startswith("zone     untrained") for line in r.text.lines)
    big.release()
    r.release()


def test_bad_frames_are_refused_or_survived(ctx, target):
    r = SpectrogramRenderer(ctx, W, H, BINS, SR, overlay=False, path_map=False)
    with pytest.raises(UsageError, match="frames, bins"):
        r.push(np.zeros((2, 3, 4)))
    bad = tone(100)
    bad[10] = np.nan
    bad[20] = np.inf
    r.push(bad)
    assert np.isfinite(draw(r, target)).all()
    # Frames of another transform restart the picture at their size.
    r.push(np.ones((3, 513), np.float32))
    assert r.bins == 513
    draw(r, target)
    with pytest.raises(UsageError, match="at least 2 frequency bins"):
        r.configure(1, SR)
    r.release()


def test_resizing_keeps_the_newest_columns(ctx):
    r = SpectrogramRenderer(ctx, W, H, BINS, SR, overlay=False, path_map=False)
    r.push(np.stack([tone(300)] * 4))
    r.push(silence(6))
    r.resize(W // 2, H // 2)
    small = OffscreenTarget(ctx, W // 2, H // 2)
    lit = np.flatnonzero((brightness(draw(r, small)) > 60).any(axis=0))
    assert list(lit) == list(range(W // 2 - 10, W // 2 - 6))
    small.release()
    r.release()


def test_png_files_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (17, 23, 3), dtype=np.uint8)
    path = write_png(tmp_path / "x.png", img)
    assert np.array_equal(read_png(path), img)
    import pygame

    loaded = pygame.image.load(str(path))  # an independent decoder reads it too
    assert loaded.get_size() == (23, 17)
    assert tuple(loaded.get_at((5, 2)))[:3] == tuple(img[2, 5])


@pytest.mark.parametrize("backdrop", [1.0, 0.5])
def test_text_stays_legible_over_a_loud_spectrum_with_an_opaque_or_translucent_band(ctx, backdrop):
    from aego.visuals.overlay import OverlayText

    r = SpectrogramRenderer(ctx, W * 2, H * 2, BINS, SR, overlay=False, path_map=False)
    big = OffscreenTarget(ctx, W * 2, H * 2)
    r.push(np.full((W * 2, BINS), 300.0, np.float32))  # everything at the top: the brightest colour
    text = OverlayText(ctx, backdrop=backdrop)
    text.set_lines(["reward   +0.50 keyboard", "z        0.250"])
    r.render(big.fbo)
    x, y, w, h = text.render((big.width, big.height), big.fbo)
    img = big.read().astype(int)
    block = img[y:y + h, x:x + 40]
    floor = img[-1, -1].sum()  # the spectrum's colour, outside the text
    darkest = block.sum(axis=2).min()
    if backdrop == 1.0:
        assert darkest == 0  # the band is black
    else:
        assert 0 < darkest < 0.7 * floor  # darkened, the spectrum still shows through
    assert text_pixels(img.astype(np.uint8))[y:y + h, x:x + w].any()
    assert not text_pixels(img.astype(np.uint8))[y + h + 2:].any()
    text.release()
    big.release()
    r.release()


def test_overlay_lines_never_fail_on_odd_values():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    numbers = st.floats(allow_nan=True, allow_infinity=True, width=32)

    @settings(max_examples=200, deadline=None)
    @given(elapsed=numbers, period=numbers, reward=numbers, novelty=numbers, load=numbers,
           position=st.lists(numbers, max_size=8), estimates=st.lists(numbers, max_size=17),
           dims=st.integers(0, 8), step=st.integers(0, 10**9), section=st.text(max_size=30))
    def check(elapsed, period, reward, novelty, load, position, estimates, dims, step, section):
        lines = OverlayState(mode="install", elapsed=elapsed, section=section, dims=dims, period=period, step=step,
                             action=(0, -1), position=tuple(position), reward=reward, estimates=tuple(estimates),
                             novelty=novelty, audio_load=load).lines()
        assert lines[0].startswith("ægo") and all(isinstance(line, str) for line in lines)

    check()
