"""Pilot tests of the measurements on the demo CT: placed with the keyboard (the probe is the
cursor) and the mouse, checked against numpy on the file's own pixels (read here with
pydicom and rescaled by hand, independently of the viewer); kept per image through scrolling
and reopening the study; copied as text; deleted; drawn into the picture in every backend."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pydicom
import pytest
from apphelpers import SIZE, open_study, settle, until
from textual import events
from textual.app import App

from tuipacs.app.app import build_app
from tuipacs.app.screens.viewer import ViewerScreen
from tuipacs.app.widgets.image_view import ImageView
from tuipacs.app.widgets.measure_panel import MeasurePanel
from tuipacs.config import Config
from tuipacs.store.archive import Archive
from tuipacs.view.graphics.probe import GraphicsConfig
from tuipacs.view.layout import CellSize
from tuipacs.view.measure_draw import COLOUR
from tuipacs.view.render import RenderRequest

CT, DX = 0, 1  # rows of the browser, newest study first
LEFT = 1


def file_hu(screen: ViewerScreen) -> tuple[np.ndarray, pydicom.Dataset]:
    """The image on screen in HU, from its file (stored values x slope + intercept)."""
    assert screen.store is not None
    ds = pydicom.dcmread(screen.store.images[screen.state.index].path)
    hu = ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    return hu, ds


def panel(screen: ViewerScreen) -> str:
    """The measurement panel's text."""
    return screen.query_one(MeasurePanel).text


async def place(pilot: Any, *keys: str) -> None:
    """Move the probe with ``keys``, then place a point (Enter)."""
    await pilot.press(*keys, "enter")
    await settle(pilot)


def f1(value: float) -> str:
    return f"{value:.1f}"


async def test_length_and_rois_by_keyboard_equal_numpy(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        await pilot.press("M")  # length; the probe is the cursor
        await settle(pilot)
        assert screen.measure_tool == "length" and screen.state.probe is not None
        x, y = screen.state.probe
        await place(pilot)
        assert "Length: point 2 of 2" in screen.overlay_text()
        await place(pilot, "shift+right", "shift+right", "shift+right", "down", "down")
        hu, ds = file_hu(screen)
        row_mm, col_mm = (float(v) for v in ds.PixelSpacing)
        length = math.hypot(30 * col_mm, 2 * row_mm)
        text = panel(screen)
        assert f"1 Length\n  {f1(length)} mm\n  PixelSpacing, in the patient" in text
        assert screen.query_one(MeasurePanel).display  # shown by itself
        # a rectangle from (x, y) to (x + 20, y + 10): every pixel between, inclusive
        await pilot.press("M", "M")
        await settle(pilot)
        assert screen.measure_tool == "rect"
        await place(pilot, *["shift+left"] * 3, "up", "up")  # back to (x, y)
        assert screen.state.probe == (x, y)
        await place(pilot, "shift+right", "shift+right", "shift+down")
        inside = hu[y : y + 11, x : x + 21]
        area = inside.size * row_mm * col_mm
        expected = (
            f"2 Rectangle\n  mean {f1(inside.mean())} HU\n  SD {f1(inside.std())} (population)"
            f"\n  min {f1(inside.min())} max {f1(inside.max())}\n  area {f1(area)} mm²  n 231"
        )
        assert expected in panel(screen)
        # an ellipse in the same box: the pixels whose centre is inside it
        await pilot.press("M")
        await settle(pilot)
        await place(pilot, "shift+left", "shift+left", "shift+up")
        await place(pilot, "shift+right", "shift+right", "shift+down")
        rows, cols = np.mgrid[0 : hu.shape[0], 0 : hu.shape[1]]
        mask = ((cols - (x + 10)) / 10.5) ** 2 + ((rows - (y + 5)) / 5.5) ** 2 <= 1
        assert 0 < mask.sum() < 231
        values = hu[mask]
        assert f"3 Ellipse\n  mean {f1(values.mean())} HU\n  SD {f1(values.std())}" in panel(screen)
        assert f"n {int(mask.sum())}" in panel(screen)


async def test_kept_per_image_copied_and_deleted(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        await pilot.press("M")
        await settle(pilot)
        await place(pilot)
        await place(pilot, "shift+right", "shift+right")
        _hu, ds = file_hu(screen)
        mm = f1(20 * float(ds.PixelSpacing[1]))
        assert f"1 Length\n  {mm} mm" in panel(screen)
        await pilot.press("j")  # the next image has none
        await settle(pilot)
        assert "No measurements" in panel(screen)
        await pilot.press("k")
        await settle(pilot)
        assert f"1 Length\n  {mm} mm" in panel(screen)
        await pilot.press("y")
        await until(pilot, lambda: bool(app.clipboard), "the copy")
        lines = app.clipboard.splitlines()
        assert lines[0].startswith(f"Image 1/{screen.state.count}")
        assert lines[1] == f"1 Length  {mm} mm  PixelSpacing, in the patient"
        await pilot.press("escape", "escape")  # the tool off, then back to the browser
        await until(pilot, lambda: not isinstance(app.screen, ViewerScreen), "the browser")
        screen = await open_study(pilot, CT)  # reopened in the same session
        await until(pilot, lambda: f"1 Length\n  {mm} mm" in panel(screen), "the panel")
        assert screen.measurements()
        await pilot.press("delete")
        await settle(pilot)
        assert screen.measurements() == ()
        assert "No measurements" in panel(screen)


async def test_uncalibrated_warning_and_detector_calibration(
    archive: Archive, make_app: Any
) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, DX)
        await pilot.press("M")
        await settle(pilot)
        await place(pilot)
        await place(pilot, "shift+down")
        assert "  ImagerPixelSpacing, at the detector" in panel(screen)
        assert "(detector)" in screen.overlay_text()  # the scale bar says where it measures


def amber(picture: np.ndarray) -> np.ndarray:
    """Where the picture is painted in the measurements' colour."""
    return np.all(picture == np.asarray(COLOUR, np.uint8), axis=2)


@pytest.mark.parametrize("backend", ["kitty", "sixel", "halfcell"])
async def test_drawn_into_the_picture_in_every_backend(
    archive: Archive, tuipacs_home: Any, backend: str
) -> None:
    graphics = GraphicsConfig(backend=backend, cell_size=CellSize(10, 20))
    app = build_app(archive, Config(), graphics=graphics, theme="reading-room")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        await pilot.press("M")
        await settle(pilot)
        x, y = screen.state.probe or (0, 0)
        await place(pilot, *["shift+left"] * 6)
        await place(pilot, *["shift+right"] * 12)  # a horizontal line, 120 pixels
        shown = screen.query_one(ImageView).last_shown
        assert shown is not None and isinstance(shown.tag, RenderRequest)
        picture = shown.array
        assert screen.frame is not None
        rows, cols = screen.frame.values.shape[:2]
        height, width = picture.shape[:2]
        painted = amber(picture)
        line_row = math.floor((y + 0.5) * height / rows)
        on_row = np.nonzero(painted[line_row])[0]
        start = math.floor((x - 60 + 0.5) * width / cols)
        end = math.floor((x + 60 + 0.5) * width / cols)
        assert abs(int(on_row.min()) - start) <= 1 and abs(int(on_row.max()) - end) <= 1
        # nothing else of the line is off its row (the number's box aside)
        assert not painted[line_row + 3 :, :].any()
        await pilot.press("delete")
        await settle(pilot)
        shown = screen.query_one(ImageView).last_shown
        assert shown is not None and not amber(shown.array).any()


def post(app: App[Any], kind: type[events.MouseEvent], x: int, y: int) -> None:
    """A mouse event at screen cell (x, y) as a terminal driver posts it."""
    app.post_message(kind(None, x, y, 0, 0, LEFT, False, False, False))


async def test_mouse_clicks_and_a_drag_place_points(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        image = screen.query_one(ImageView)
        box = image.box
        assert box is not None
        cx, cy = image.region.x + box.x + box.cols // 2, image.region.y + box.y + box.rows // 2
        await pilot.press("M")
        await settle(pilot)
        window = screen.state.window
        for kind in (events.MouseDown, events.MouseUp):  # a click: one point
            post(app, kind, cx - 5, cy)
        await until(pilot, lambda: len(screen.pending()) == 1, "the first point")
        for kind in (events.MouseDown, events.MouseUp):
            post(app, kind, cx + 5, cy)
        await until(pilot, lambda: len(screen.measurements()) == 1, "the length")
        await pilot.press("M", "M")  # rectangle, drawn by a drag from press to release
        await settle(pilot)
        post(app, events.MouseDown, cx - 4, cy - 2)
        post(app, events.MouseMove, cx, cy)
        post(app, events.MouseUp, cx + 4, cy + 2)
        await until(pilot, lambda: len(screen.measurements()) == 2, "the rectangle")
        await settle(pilot)
        assert screen.state.window == window  # no window drag with a tool on
        first, second = screen.measurements()
        assert first.kind == "length" and second.kind == "rect"
        assert first.points[0][0] < first.points[1][0]
        assert second.points[0][0] < second.points[1][0]
        assert second.points[0][1] < second.points[1][1]
