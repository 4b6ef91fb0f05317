"""ImageView in a headless Textual app (Pilot): renders, updates on show(), keeps aspect."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from apphelpers import until
from rich.console import Console
from synthetic import ct_phantom, gradient, window
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.pilot import Pilot
from textual.strip import Strip

from tuipacs.app.graphics.canvas import BLACK, StripCanvas
from tuipacs.app.graphics.halfcell import HalfcellRenderer, RenderedStrip
from tuipacs.app.widgets.image_view import ImageView
from tuipacs.view.graphics import kitty
from tuipacs.view.graphics.probe import GraphicsConfig, GraphicsError
from tuipacs.view.layout import Box, CellSize

CONFIG = GraphicsConfig(backend="halfcell", cell_size=CellSize(10, 20))
PINNED_ID = 0x2B4D6F


class ViewApp(App[None]):
    """A screen with one ImageView."""

    def __init__(self, view: ImageView) -> None:
        super().__init__()
        self.view = view

    def compose(self) -> ComposeResult:
        yield self.view


async def _wait_frames(pilot: Pilot[None], view: ImageView, count: int) -> None:
    """Let the encoder thread deliver ``count`` frames in total (each one is a message)."""
    await until(pilot, lambda: view.frames_shown >= count, f"{count} frames", 20.0)


def _canvas_text(view: ImageView) -> list[str]:
    canvas = view.query_one("StripCanvas")
    return [strip.text for strip in canvas.render_lines(canvas.region.reset_offset)]


async def test_halfcell_renders_and_keeps_aspect() -> None:
    view = ImageView(config=CONFIG)
    async with ViewApp(view).run_test(size=(80, 24)) as pilot:
        assert view.backend == "halfcell"
        view.show(window(ct_phantom(128), 400, 40))
        await _wait_frames(pilot, view, 1)
        box = view.box
        assert box is not None and box.rows == 24 and box.cols == 48  # 480 x 480 px
        assert box.x == 16 and box.y == 0
        lines = _canvas_text(view)
        assert len(lines) == 24
        assert set(lines[12][:16]) == {" "} and set(lines[12][64:]) == {" "}
        assert "\u2580" in lines[12][16:64], "the picture is drawn with half blocks"

        view.show(gradient(64, 256), aspect=1.0)  # wide: 4:1
        await _wait_frames(pilot, view, 2)
        wide = view.box
        assert wide is not None and wide.cols == 80 and wide.rows == 10
        view.show(gradient(64, 256), aspect=4.0)  # tall pixels make it square
        await _wait_frames(pilot, view, 3)
        square = view.box
        assert square is not None and square.rows * 20 == pytest.approx(square.cols * 10, rel=0.1)


async def test_show_updates_the_pixels() -> None:
    view = ImageView(config=CONFIG)
    async with ViewApp(view).run_test(size=(40, 12)) as pilot:
        view.show(np.zeros((32, 32), dtype=np.uint8))
        await _wait_frames(pilot, view, 1)
        canvas = view.query_one("StripCanvas")
        before = canvas.render_lines(canvas.region.reset_offset)
        view.show(np.full((32, 32), 255, dtype=np.uint8))
        await _wait_frames(pilot, view, 2)
        after = canvas.render_lines(canvas.region.reset_offset)
        row = before[6]
        styles_before = {seg.style.bgcolor.triplet for seg in row if seg.style and seg.text}
        styles_after = {seg.style.bgcolor.triplet for seg in after[6] if seg.style and seg.text}
        assert (255, 255, 255) in styles_after and (255, 255, 255) not in styles_before


async def test_resize_refits_the_picture() -> None:
    view = ImageView(config=CONFIG)
    async with ViewApp(view).run_test(size=(80, 24)) as pilot:
        view.show(gradient(100, 100))
        await _wait_frames(pilot, view, 1)
        await pilot.resize_terminal(120, 40)
        await _wait_frames(pilot, view, 2)
        assert view.box is not None and view.box.rows == 40 and view.box.cols == 80


async def test_kitty_pixels_change_without_new_placeholders(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    written: list[str] = []
    monkeypatch.setattr(ImageView, "write_terminal", lambda self, data: written.append(data))
    view = ImageView(config=CONFIG, backend="kitty", image_id=PINNED_ID, auto_preview=False)
    async with ViewApp(view).run_test(size=(80, 24)) as pilot:
        assert view.backend == "kitty" and view.image_id == PINNED_ID
        hu = ct_phantom(64)
        view.show(window(hu, 400, 40))
        await _wait_frames(pilot, view, 1)
        canvas = view.query_one("KittyCanvas")
        strips = canvas.strips
        assert len(strips) == 24
        segment = list(strips[3])[0]
        assert segment.text.startswith(kitty.PLACEHOLDER + kitty.DIACRITICS[3])
        assert segment.style.color.triplet == kitty.id_colour(PINNED_ID)
        view.show(window(hu, 300, 60))
        await _wait_frames(pilot, view, 2)
        assert canvas.strips is strips, "placeholders are not rebuilt for new pixels"
        assert len(written) == 2
        for data in written:
            assert data.startswith(f"\x1b_Ga=T,U=1,i={PINNED_ID},f=100,c=48,r=24,q=2,m=")
            assert re.search(r"\x1b_Gm=0;[^\x1b]*\x1b\\$", data) or ",m=0;" in data
    assert written[-1] == kitty.delete(PINNED_ID), "the image is deleted on unmount"


async def test_kitty_preview_is_half_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[str] = []
    monkeypatch.setattr(ImageView, "write_terminal", lambda self, data: written.append(data))
    view = ImageView(config=CONFIG, backend="kitty", image_id=PINNED_ID)
    async with ViewApp(view).run_test(size=(80, 24)) as pilot:
        frame = window(ct_phantom(128), 400, 40)
        view.show(frame, preview=True)
        await _wait_frames(pilot, view, 2)  # the preview, then the full frame
        assert view.last_shown is not None and not view.last_shown.preview
    sizes = [_png_size(data) for data in written[:2]]
    assert sizes == [(64, 64), (128, 128)]


def _png_size(data: str) -> tuple[int, int]:
    import base64
    import io

    from PIL import Image

    payload = "".join(re.findall(r";([^;\x1b]*)\x1b\\", data))
    width, height = Image.open(io.BytesIO(base64.b64decode(payload))).size
    return height, width


async def test_sixel_keeps_two_spare_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[str] = []
    monkeypatch.setattr(ImageView, "write_terminal", lambda self, data: written.append(data))
    view = ImageView(config=CONFIG, backend="sixel")
    async with ViewApp(view).run_test(size=(80, 24)) as pilot:
        view.show(gradient(128, 128))
        await _wait_frames(pilot, view, 1)
        assert view.box is not None and view.box.rows == 22
        await until(pilot, lambda: written, "the Sixel picture to be written")
    data = written[0]
    assert data.startswith("\x1b[?2026h\x1b7\x1b[1;") and data.endswith("\x1b8\x1b[?2026l")
    assert '"1;1;440;440' in data  # 44 x 22 cells of 10 x 20 px


def test_show_rejects_bad_input() -> None:
    view = ImageView(config=CONFIG)
    with pytest.raises(GraphicsError, match="uint8"):
        view.show(np.zeros((4, 4), dtype=np.int16))
    with pytest.raises(GraphicsError, match="RGB"):
        view.show(np.zeros((4, 4, 4), dtype=np.uint8))
    with pytest.raises(GraphicsError, match="aspect"):
        view.show(np.zeros((4, 4), dtype=np.uint8), aspect=0.0)
    with pytest.raises(GraphicsError, match="unknown graphics backend"):
        ImageView(backend="ascii")


async def test_backend_can_change_at_run_time(monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[str] = []
    monkeypatch.setattr(ImageView, "write_terminal", lambda self, data: written.append(data))
    view = ImageView(config=CONFIG, image_id=PINNED_ID)
    async with ViewApp(view).run_test(size=(60, 20)) as pilot:
        view.show(gradient(40, 40))
        await _wait_frames(pilot, view, 1)
        assert view.query("StripCanvas") and not written
        view.backend = "kitty"
        await _wait_frames(pilot, view, 2)
        assert len(view.query("KittyCanvas")) == 1
        assert written and written[0].startswith(f"\x1b_Ga=T,U=1,i={PINNED_ID},")
        view.backend = "halfcell"
        await _wait_frames(pilot, view, 3)
        assert written[-1] == kitty.delete(PINNED_ID)
        assert not view.query("KittyCanvas")


async def test_sixel_preview_is_coarser_then_full(monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[str] = []
    monkeypatch.setattr(ImageView, "write_terminal", lambda self, data: written.append(data))
    view = ImageView(config=CONFIG, backend="sixel")
    async with ViewApp(view).run_test(size=(60, 20)) as pilot:
        view.show(gradient(64, 256), preview=True)
        await _wait_frames(pilot, view, 2)
        await until(pilot, lambda: len(written) >= 2, "two Sixel pictures")
    pictures = [max(data.split("\x1bP"), key=len) for data in written[:2]]  # not margins
    registers = [len(re.findall(r"#\d+;2;", data)) for data in pictures]
    assert registers[0] <= 51 and registers[1] == 101, "a preview with fewer greys, then all"


def _old_line(canvas: StripCanvas, y: int, width: int) -> Strip:
    """A canvas line as it was composed before lines kept the prepared rendering."""
    box, strips = canvas.box, canvas.strips
    row = y - box.y
    if not 0 <= row < len(strips) or row >= box.rows:
        return Strip.blank(width, BLACK)
    picture = strips[row]
    left = min(box.x, width)
    right = max(0, width - left - picture.cell_length)
    return Strip.join([Strip.blank(left, BLACK), picture, Strip.blank(right, BLACK)]).crop(0, width)


@pytest.mark.parametrize(
    ("box", "width"),
    [
        (Box(0, 0, 12, 3), 12),  # fills the width
        (Box(5, 1, 12, 3), 22),  # centred, rows above and below
        (Box(0, 2, 12, 3), 20),  # left aligned
        (Box(8, 0, 12, 3), 20),  # right aligned
        (Box(6, 0, 12, 3), 15),  # wider than the widget: cropped
        (Box(20, 0, 12, 3), 15),  # off the widget
    ],
)
def test_canvas_lines_keep_the_prepared_rendering(box: Box, width: int) -> None:
    console = Console(file=io.StringIO(), color_system="truecolor", force_terminal=True)
    picture = np.random.default_rng(3).integers(0, 256, (6, 12), dtype=np.uint8)
    strips = HalfcellRenderer().strips(picture)
    canvas = StripCanvas()
    canvas.box, canvas.strips = box, strips
    for y in range(box.y + box.rows + 2):
        line, old = canvas._line(y, width), _old_line(canvas, y, width)
        assert line.cell_length == width
        assert list(line) == list(old)
        assert line.render(console) == Strip(list(old), width).render(console)
        fits = box.y <= y < box.y + box.rows and box.x + box.cols <= width
        assert isinstance(line, RenderedStrip) == fits, "only a fitting picture row keeps it"


async def test_halfcell_lines_on_screen_render_as_before() -> None:
    view = ImageView(config=CONFIG)
    async with ViewApp(view).run_test(size=(50, 12)) as pilot:
        view.show(window(ct_phantom(64), 400, 40))
        await _wait_frames(pilot, view, 1)
        canvas = view.query_one(StripCanvas)
        console = view.app.console
        lines = canvas.render_lines(canvas.region.reset_offset)
        assert sum(isinstance(line, RenderedStrip) for line in lines) == 12
        for line in lines:
            assert line.render(console) == Strip(list(line), line.cell_length).render(console)
        part = canvas.render_lines(Region(3, 2, 30, 4))
        assert [list(line) for line in part] == [list(line.crop(3, 33)) for line in lines[2:6]]
