"""Pilot tests: zooming below fit shrinks the picture, 1:1 is one image pixel per screen
pixel, and pan never takes the picture off screen."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from apphelpers import HALFCELL, SIZE, open_study, settle

from tuipacs.app.app import build_app
from tuipacs.app.screens.viewer import ViewerScreen
from tuipacs.app.widgets.image_view import ImageView
from tuipacs.config import Config
from tuipacs.store.archive import Archive
from tuipacs.view import layout
from tuipacs.view.graphics.probe import GraphicsConfig, GraphicsError
from tuipacs.view.layout import Box, CellSize

CT = 0
KITTY = GraphicsConfig(backend="kitty", cell_size=CellSize(10, 20))


def shown_box(screen: ViewerScreen) -> Box:
    """The cell box of the picture the ImageView shows now."""
    shown = screen.query_one(ImageView).last_shown
    assert shown is not None
    return shown.box


def assert_centred(box: Box, screen: ViewerScreen) -> None:
    """The picture sits in the middle of the ImageView (to a cell)."""
    cols, rows = screen.query_one(ImageView).content_size
    assert abs(2 * box.x + box.cols - cols) <= 1
    assert abs(2 * box.y + box.rows - rows) <= 1


async def test_zoom_out_below_fit_shrinks_the_picture(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        fit = shown_box(screen)
        await pilot.press("minus")
        await settle(pilot)
        assert screen.state.zoom == pytest.approx(0.8)
        smaller = shown_box(screen)
        assert smaller.rows == pytest.approx(fit.rows * 0.8, abs=1)
        assert smaller.cols == pytest.approx(fit.cols * 0.8, abs=1)
        assert_centred(smaller, screen)
        await pilot.press("c")  # the probe starts in the middle of the smaller picture
        await settle(pilot)
        assert "HU" in screen.probe_text()
        probe = screen.state.probe
        view = screen.query_one(ImageView).region
        screen._probe_to(view.x + smaller.x - 1, view.y + smaller.y)  # in the margin
        assert screen.state.probe == probe  # a pointer off the picture leaves the probe
        await pilot.press("escape")
        await pilot.press("minus", "minus")
        await settle(pilot)
        assert shown_box(screen).rows == pytest.approx(fit.rows * 0.512, abs=1)
        await pilot.press("L", "J")  # nothing to pan: the whole picture is in view
        await settle(pilot)
        assert screen.state.pan == (0.0, 0.0)
        assert_centred(shown_box(screen), screen)
        await pilot.press("f")
        await settle(pilot)
        assert shown_box(screen) == fit


async def test_one_to_one_smaller_than_fit(archive: Archive, tuipacs_home: Any) -> None:
    """A 512 x 512 CT in a 980 x 1600 pixel viewport: 1:1 is about half the fit size."""
    app = build_app(archive, Config(), graphics=KITTY)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        fit = shown_box(screen)
        assert fit.rows * KITTY.cell_size.height > 700  # fitted: larger than 512 pixels
        await pilot.press("equals_sign")
        await settle(pilot)
        assert "Zoom: 100%" in screen.overlay_text()
        box = shown_box(screen)
        cell = KITTY.cell_size
        assert box.rows * cell.height == pytest.approx(512, abs=cell.height)
        assert box.cols * cell.width == pytest.approx(512, abs=cell.width)
        assert_centred(box, screen)
        assert screen.rendered is not None and screen.rendered.array.shape[:2] == (512, 512)


async def test_one_to_one_larger_than_fit(archive: Archive, make_app: Any) -> None:
    """Half-cell blocks: 1:1 is one image pixel per half cell, a crop of the CT."""
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        await pilot.press("equals_sign")
        await settle(pilot)
        assert "Zoom: 100%" in screen.overlay_text()
        box = shown_box(screen)
        assert screen.rendered is not None
        rows, cols = screen.rendered.array.shape[:2]
        assert rows == pytest.approx(box.rows * 2, abs=1)  # two pixels per cell, one per half
        assert cols == pytest.approx(box.cols, abs=1)
        assert rows < 512 and cols < 512


async def test_pan_keeps_the_zoomed_picture_on_screen(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        await pilot.press(*["plus"] * 8)
        await settle(pilot)
        await pilot.press(*["L"] * 40, *["J"] * 40)
        await settle(pilot)
        assert screen.rendered is not None
        region = screen.rendered.region
        rows, cols = screen.rendered.oriented_shape
        assert 0 <= region.left < cols and 0 <= region.top < rows
        assert region.left + region.width == pytest.approx(cols)  # stopped at the right edge
        assert region.top + region.height == pytest.approx(rows)  # and at the bottom edge
        assert screen.state.pan == screen.rendered.pan


def test_shrink_box_keeps_the_centre() -> None:
    shrink_box = layout.shrink_box
    box = Box(10, 0, 60, 40)
    assert shrink_box(box, 1.0, 80, 40) == box
    assert shrink_box(box, 2.0, 80, 40) == box  # never larger than fit
    assert shrink_box(box, 0.5, 80, 40) == Box(25, 10, 30, 20)
    assert shrink_box(box, 0.001, 80, 40) == Box(39, 19, 1, 1)


def test_picture_scale_must_be_positive() -> None:
    view = ImageView(config=HALFCELL)
    picture = np.zeros((4, 4), np.uint8)
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(GraphicsError):
            view.show(picture, 1.0, scale=bad)
