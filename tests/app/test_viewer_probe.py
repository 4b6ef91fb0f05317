"""Pilot tests of the probe: a crosshair drawn into the picture in every backend, moved one
source pixel by an arrow and ten by Shift+arrow, and a readout that equals the file's value
at that pixel (read here with pydicom, independently of the viewer) and its position in mm."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pydicom
import pytest
from apphelpers import SIZE, open_study, settle

from tuipacs.app.app import build_app
from tuipacs.app.screens.viewer import ViewerScreen
from tuipacs.app.widgets.image_view import ImageView
from tuipacs.config import Config
from tuipacs.store.archive import Archive
from tuipacs.view.crosshair import COLOUR
from tuipacs.view.graphics.probe import GraphicsConfig
from tuipacs.view.layout import CellSize
from tuipacs.view.probe_geometry import NO_CALIBRATION
from tuipacs.view.render import RenderRequest

CT, DX, US, MR = 0, 1, 2, 3  # rows of the browser, newest study first


def file_value(screen: ViewerScreen, x: int, y: int) -> tuple[float, pydicom.Dataset]:
    """The modality value at column x, row y of the image on screen, read from its file."""
    assert screen.store is not None
    ds = pydicom.dcmread(screen.store.images[screen.state.index].path)
    stored = float(ds.pixel_array[y, x])
    return stored * float(ds.RescaleSlope) + float(ds.RescaleIntercept), ds


def mm(value: float) -> str:
    """One decimal without a useless ``.0`` (how the readout writes mm)."""
    text = f"{round(value, 1):.1f}"
    return text[:-2] if text.endswith(".0") else text


def arms_centre(picture: np.ndarray) -> tuple[int, int]:
    """(row, col) where the crosshair's arms meet: the row of the horizontal arms and the
    column of the vertical ones."""
    painted = np.all(picture == np.asarray(COLOUR, np.uint8), axis=2)
    rows, cols = np.nonzero(painted)
    assert rows.size, "no crosshair in the picture"
    row_counts = np.bincount(rows)
    col_counts = np.bincount(cols)
    return int(row_counts.argmax()), int(col_counts.argmax())


def shown_picture(screen: ViewerScreen) -> np.ndarray:
    """The picture the ImageView shows now (with the probe: the crosshair picture)."""
    shown = screen.query_one(ImageView).last_shown
    assert shown is not None and isinstance(shown.tag, RenderRequest)
    assert shown.tag.probe == screen.state.probe  # the picture on screen is the newest probe
    return shown.array


def assert_crosshair_on(screen: ViewerScreen, x: int, y: int) -> None:
    """The crosshair's arms meet on the grid pixel showing source pixel (x, y) (no zoom,
    no rotation: the whole image is in view), and that pixel is not painted."""
    picture = shown_picture(screen)
    assert screen.frame is not None
    rows, cols = screen.frame.values.shape[:2]
    height, width = picture.shape[:2]
    row, col = arms_centre(picture)
    assert abs(row - math.floor((y + 0.5) * height / rows)) <= 1
    assert abs(col - math.floor((x + 0.5) * width / cols)) <= 1
    assert not np.all(picture[row, col] == np.asarray(COLOUR, np.uint8))


async def test_probe_moves_by_one_and_ten_and_reads_the_file_value(
    archive: Archive, make_app: Any
) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        box = screen.query_one(ImageView).box
        await pilot.press("c")
        await settle(pilot)
        assert screen.query_one(ImageView).box == box  # the picture does not move
        assert screen.state.probe is not None
        x, y = screen.state.probe
        await pilot.press("right")
        await settle(pilot)
        assert screen.state.probe == (x + 1, y)
        await pilot.press("shift+down")
        await settle(pilot)
        assert screen.state.probe == (x + 1, y + 10)
        x, y = x + 1, y + 10
        value, ds = file_value(screen, x, y)
        first, second = screen.probe_text().split("\n")
        assert first == f"Probe {x},{y}  {int(value)} HU"
        spacing_r, spacing_c = (float(v) for v in ds.PixelSpacing)
        origin = [float(v) for v in ds.ImagePositionPatient]
        assert [float(v) for v in ds.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
        px, py, pz = origin[0] + x * spacing_c, origin[1] + y * spacing_r, origin[2]
        assert second == f"Patient x {mm(px)} y {mm(py)} z {mm(pz)} mm"
        assert first in screen.overlay_text() and second in screen.overlay_text()
        assert_crosshair_on(screen, x, y)
        await pilot.press("j")  # the probe stays on the pixel through the stack
        await settle(pilot)
        value, _ds = file_value(screen, x, y)
        assert screen.probe_text().startswith(f"Probe {x},{y}  {int(value)} HU\n")
        await pilot.press("c")
        await settle(pilot)
        assert screen.probe_text() == ""
        shown = screen.query_one(ImageView).last_shown
        assert shown is not None and shown.array is screen.rendered.array  # type: ignore[union-attr]


@pytest.mark.parametrize("backend", ["kitty", "sixel", "halfcell"])
async def test_crosshair_in_every_backend(
    archive: Archive, tuipacs_home: Any, backend: str
) -> None:
    graphics = GraphicsConfig(backend=backend, cell_size=CellSize(10, 20))
    app = build_app(archive, Config(), graphics=graphics, theme="reading-room")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        await pilot.press("c")
        await settle(pilot)
        x, y = screen.state.probe or (0, 0)
        assert_crosshair_on(screen, x, y)
        await pilot.press("shift+left", "up")
        await settle(pilot)
        assert screen.state.probe == (x - 10, y - 1)
        assert_crosshair_on(screen, x - 10, y - 1)


async def test_probe_follows_a_rotated_zoomed_view(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        await pilot.press("plus", "plus", "plus", "plus", "plus", "r", "c")
        await settle(pilot)
        x, y = screen.state.probe or (0, 0)
        for _ in range(12):  # right on screen, turned clockwise: up in the source
            await pilot.press("shift+right")
        await settle(pilot)
        assert screen.state.probe == (x, max(0, y - 120))
        value, _ds = file_value(screen, x, max(0, y - 120))
        assert screen.probe_text().startswith(f"Probe {x},{max(0, y - 120)}  {int(value)} HU")
        arms_centre(shown_picture(screen))  # panned along: the crosshair is in view


async def test_colour_without_calibration_and_a_radiograph(archive: Archive, make_app: Any) -> None:
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, US)
        await pilot.press("c")
        await settle(pilot)
        x, y = screen.state.probe or (0, 0)
        assert screen.store is not None
        ref = screen.store.images[screen.state.index]
        ds = pydicom.dcmread(ref.path)
        pixels = (
            ds.pixel_array[ref.frame] if int(ds.get("NumberOfFrames", 1)) > 1 else ds.pixel_array
        )
        rgb = ",".join(str(int(v)) for v in pixels[y, x])
        assert screen.probe_text() == f"Probe {x},{y}  RGB {rgb}\n{NO_CALIBRATION}"
        await pilot.press("escape", "escape")
    app = make_app(archive)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, DX)
        await pilot.press("c")
        await settle(pilot)
        assert (
            screen.probe_text()
            .split("\n")[1]
            .endswith("mm from top-left (ImagerPixelSpacing, at the detector)")
        )
