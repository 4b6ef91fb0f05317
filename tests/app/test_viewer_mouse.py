"""The viewer's mouse, through the app as a terminal's events arrive (posted to the app, so
that it makes the Click of a press and release itself): a left-drag moves the window in the
modality's units, a click still puts the probe, Ctrl+wheel zooms about the pointer; and the
preset list reaches the presets past the number keys."""

from __future__ import annotations

from typing import Any

import pytest
from apphelpers import HALFCELL, SIZE, open_study, settle, until
from textual import events
from textual.app import App

from tuipacs.app.app import build_app
from tuipacs.app.screens.presets import PresetScreen
from tuipacs.app.screens.viewer import ViewerScreen
from tuipacs.app.widgets.image_view import ImageView
from tuipacs.config import Config
from tuipacs.imaging import presets
from tuipacs.store.archive import Archive
from tuipacs.view.probe import pointer_point, probe_at

CT = 0  # the browser's first row
LEFT = 1


def post(app: App[Any], kind: type[events.MouseEvent], x: int, y: int, **what: Any) -> None:
    """A mouse event at screen cell (x, y) as a terminal driver posts it."""
    button = what.get("button", LEFT if kind is not events.MouseScrollUp else 0)
    app.post_message(kind(None, x, y, 0, 0, button, False, False, what.get("ctrl", False)))


def picture_centre(screen: ViewerScreen) -> tuple[int, int, int, int]:
    """Screen cell of the picture's centre, and the picture's size in cells (cols, rows)."""
    image = screen.query_one(ImageView)
    box = image.box
    assert box is not None
    region = image.region
    return region.x + box.x + box.cols // 2, region.y + box.y + box.rows // 2, box.cols, box.rows


def hu_per_cell(cells: int) -> int:
    """What a drag moves per cell on CT: 1500 HU over the picture, 1 to 40 HU a cell."""
    return min(40, max(1, round(1500 / cells)))


async def test_left_drag_moves_the_window_in_hu(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        assert (screen.state.center, screen.state.width) == (40, 400)
        x, y, cols, rows = picture_centre(screen)
        post(app, events.MouseDown, x, y)
        post(app, events.MouseMove, x + 6, y)  # right: wider
        post(app, events.MouseMove, x + 6, y - 4)  # up: the level rises
        wide, high = 400 + 6 * hu_per_cell(cols), 40 + 4 * hu_per_cell(rows)
        await until(pilot, lambda: screen.state.window_name == "custom", "the drag")
        await until(pilot, lambda: (screen.state.center, screen.state.width) == (high, wide), "WL")
        post(app, events.MouseUp, x + 6, y - 4)
        # the release over the picture makes a Click, which is the drag's: no probe
        await until(pilot, lambda: not screen._dragged, "the click of the release")
        await settle(pilot)
        assert screen.state.probe is None
        assert not screen.selections  # nothing of the picture or overlays selected as text
        assert f"WL: {high} WW: {wide}" in screen.overlay_text()
        # across the whole picture the width moves about 1500 HU (not 100,000)
        assert abs(hu_per_cell(cols) * cols - 1500) <= cols
        # a new drag starts from the window as it is; back and past the start narrows
        post(app, events.MouseDown, x, y)
        post(app, events.MouseMove, x - 3, y + 2)
        post(app, events.MouseUp, x - 3, y + 2)
        narrow, low = wide - 3 * hu_per_cell(cols), high - 2 * hu_per_cell(rows)
        await until(pilot, lambda: (screen.state.center, screen.state.width) == (low, narrow), "WL")
        await until(pilot, lambda: not screen._dragged, "the click of the release")
        await settle(pilot)
        assert screen.state.probe is None


async def test_a_click_without_motion_still_puts_the_probe(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        x, y, _cols, _rows = picture_centre(screen)
        post(app, events.MouseDown, x - 2, y - 1)
        post(app, events.MouseUp, x - 2, y - 1)
        await until(pilot, lambda: screen.state.probe is not None, "the probe")
        image = screen.query_one(ImageView)
        region = image.region
        assert image.box is not None and screen.rendered is not None and screen.frame is not None
        middle = (x - 2 - region.x + 0.5, y - 1 - region.y + 0.5)
        point = pointer_point(middle, image.box, image.cell_size, screen.rendered)
        assert point is not None
        assert screen.state.probe == probe_at(screen.frame, screen.state.orientation, point)
        assert (screen.state.center, screen.state.width) == (40, 400)


async def test_a_drag_whose_release_went_unseen_ends_at_the_next_plain_move(
    archive: Archive, make_app: Any
) -> None:
    """A terminal that lost the release (the button came up outside its window) next sends
    motion without a button: the drag ends there, and the window stops following."""
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        x, y, cols, _rows = picture_centre(screen)
        post(app, events.MouseDown, x, y)
        post(app, events.MouseMove, x + 2, y)
        wide = 400 + 2 * hu_per_cell(cols)
        await until(pilot, lambda: screen.state.width == wide, "the drag")
        post(app, events.MouseMove, x + 9, y, button=0)
        await until(pilot, lambda: screen._drag is None, "the end of the drag")
        post(app, events.MouseMove, x + 12, y)  # a move with a button but no press seen
        await settle(pilot)
        assert screen.state.width == wide


async def test_ctrl_wheel_zooms_about_the_pointer(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        image = screen.query_one(ImageView)
        x, y, _cols, rows = picture_centre(screen)
        y -= rows // 4  # a quarter of the picture above its centre
        cell = (x - image.region.x, y - image.region.y)

        def under_pointer() -> tuple[float, float]:
            assert image.box is not None and screen.rendered is not None
            middle = (cell[0] + 0.5, cell[1] + 0.5)
            hit = pointer_point(middle, image.box, image.cell_size, screen.rendered)
            assert hit is not None
            return hit

        before = under_pointer()
        post(app, events.MouseScrollUp, x, y, ctrl=True)
        await until(pilot, lambda: screen.state.zoom > 1, "the zoom")
        await settle(pilot)
        assert screen.state.zoom == pytest.approx(1.25)
        assert screen.state.index == 0  # no image step
        after = under_pointer()
        per_cell = 512 / rows  # image rows a cell covers at fit
        assert abs(after[0] - before[0]) <= per_cell, (before, after)
        assert screen.state.pan[0] < 0  # the view moved up, towards the pointer
        post(app, events.MouseScrollDown, x, y, ctrl=True)
        await until(pilot, lambda: screen.state.zoom < 1.2, "the zoom back")
        assert screen.state.zoom == pytest.approx(1.0)
        post(app, events.MouseScrollDown, x, y)  # without Ctrl the wheel steps images
        await until(pilot, lambda: screen.state.index == 1, "the next image")
        assert screen.state.zoom == pytest.approx(1.0)


async def test_preset_list_applies_presets_past_the_number_keys(
    archive: Archive, tuipacs_home: Any
) -> None:
    """CT with two windows in the file and one preset from config.toml: 13 presets; key 0
    is the tenth, the list (w) reaches the rest."""
    cfg = Config(presets={"CT": [("Lung wide", -500.0, 2000.0)]})
    app = build_app(archive, cfg, graphics=HALFCELL)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        names = [c.name for c in screen.choices]
        assert names[8:] == ["user:Lung wide", "file1", "file2", "minmax", "auto"]
        await pilot.press("9")
        await settle(pilot)
        assert (screen.state.center, screen.state.width) == (-500, 2000)
        assert "LUNG WIDE" in screen.overlay_text()
        await pilot.press("0")  # the tenth: the file's first window
        await settle(pilot)
        assert (screen.state.window_name, screen.state.center) == ("file1", 40)
        await pilot.press("w")
        await until(pilot, lambda: isinstance(app.screen, PresetScreen), "the preset list")
        await pilot.press("end", "enter")  # the thirteenth: auto
        await until(pilot, lambda: screen.state.window_name == "auto", "auto")
        await settle(pilot)
        assert screen.frame is not None
        assert screen.state.window == presets.auto_window(screen.frame.values)
        await pilot.press("w")
        await until(pilot, lambda: isinstance(app.screen, PresetScreen), "the preset list")
        await pilot.press("up", "up", "enter")  # from auto (highlighted) to the file's second
        await until(pilot, lambda: screen.state.window_name == "file2", "file2")
        await settle(pilot)
        assert (screen.state.center, screen.state.width) == (-600, 1500)
        await pilot.press("w")
        await until(pilot, lambda: isinstance(app.screen, PresetScreen), "the preset list")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen, "the viewer")
        assert screen.state.window_name == "file2"
