"""The viewer over a study with a GSPS, a SEG and an RTSTRUCT (real objects made in
tests/annotationkit.py and checked by dciodvfy in tests/unit/test_annotations.py): the
GSPS's window applied and its polyline drawn, the segment drawn on its mask's boundary in
the picture on screen, the keys that toggle them, and the reader's window kept when the
GSPS is set to annotations only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from annotationkit import SIZE, WINDOW, Kit, make
from apphelpers import open_study, settle, until

from tuipacs.app.screens.viewer import ViewerScreen
from tuipacs.app.widgets.image_view import ImageView
from tuipacs.store.archive import Archive
from tuipacs.store.importer import import_paths
from tuipacs.view.annotation_draw import boundary
from tuipacs.view.annotations import GSPS_COLOUR
from tuipacs.view.viewport import Orientation

CYAN = (0, 255, 255)


@pytest.fixture
def kit_archive(tmp_path: Path) -> Iterator[tuple[Kit, Archive]]:
    kit = make(tmp_path / "files")
    archive = Archive.open(tmp_path / "archive")
    assert import_paths(archive, [*kit.ct_paths, kit.seg, kit.rtstruct, kit.gsps]).added == 6
    yield kit, archive
    archive.close()


def picture(screen: ViewerScreen) -> np.ndarray:
    shown = screen.query_one(ImageView).last_shown
    assert shown is not None
    return np.asarray(shown.array)


def has(array: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    return np.all(array == colour, axis=2) if array.ndim == 3 else np.zeros(array.shape, bool)


async def press(pilot: Any, *keys: str) -> None:
    await pilot.press(*keys)
    await settle(pilot)


async def test_gsps_seg_and_rtstruct_over_the_images(
    kit_archive: tuple[Kit, Archive], make_app: Any
) -> None:
    kit, archive = kit_archive
    app = make_app(archive)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_study(pilot, 0)
        await until(pilot, lambda: screen.annotations is not None, "the annotations")
        await press(pilot, "j")  # slice 2: the segment, the contour and the polyline
        await until(pilot, lambda: "SEG" in screen.overlay_text(), "the overlay")
        text = screen.overlay_text()
        assert "GSPS" in text and "SEG: 1 segment (outline)" in text and "RTSTRUCT: 1 ROI" in text
        window = screen.state.window
        assert window is not None and (window.center, window.width) == WINDOW
        assert screen.rendered is not None and screen.rendered.window == window
        array = picture(screen)
        # the segment's outline: every pixel of its colour lies on the mask's boundary
        seg = screen.annotations_of(1)
        assert seg is not None and len(seg.masks) == 1
        colour = seg.masks[0].colour
        rows, cols = np.nonzero(has(array, colour))
        assert len(rows) > 20
        height, width = array.shape[:2]
        src_r = ((rows + 0.5) * SIZE / height).astype(int)
        src_c = ((cols + 0.5) * SIZE / width).astype(int)
        assert boundary(kit.mask[1])[src_r, src_c].all()
        assert has(array, CYAN).any() and has(array, GSPS_COLOUR).any()
        # fill, then off: the segment and the contour go, the GSPS's polyline stays
        await press(pilot, "S")
        filled = picture(screen)
        assert "SEG: 1 segment (fill)" in screen.overlay_text()
        inside = kit.mask[1] & ~boundary(kit.mask[1])
        rr, cc = np.nonzero(inside)
        centre = (int((rr.mean() + 0.5) * height / SIZE), int((cc.mean() + 0.5) * width / SIZE))
        assert not np.array_equal(filled[centre], array[centre])  # tinted
        await press(pilot, "S")
        off = picture(screen)
        assert not has(off, colour).any() and not has(off, CYAN).any()
        assert has(off, GSPS_COLOUR).any()
        await press(pilot, "A")  # annotations off
        assert not has(picture(screen), GSPS_COLOUR).any()
        await press(pilot, "A", "S")
        # annotations only: the reader's own window comes back and stays through the images
        await press(pilot, "G")
        assert "GSPS (annotations only)" in screen.overlay_text()
        assert screen.state.window is not None
        assert (screen.state.window.center, screen.state.window.width) == (40.0, 400.0)
        await press(pilot, "3")  # the reader picks a preset
        chosen = screen.state.window
        await press(pilot, "k")
        await press(pilot, "j")
        assert screen.state.window == chosen
        assert has(picture(screen), GSPS_COLOUR).any()
        await press(pilot, "G")  # the GSPS's window again
        assert screen.state.window is not None
        assert (screen.state.window.center, screen.state.window.width) == WINDOW


async def test_gsps_rotation_flip_and_displayed_area_applied(tmp_path: Path, make_app: Any) -> None:
    kit = make(tmp_path / "files")
    ds = pydicom.dcmread(kit.gsps)
    ds.ImageRotation, ds.ImageHorizontalFlip = 90, "Y"
    area = ds.DisplayedAreaSelectionSequence[0]
    area.DisplayedAreaTopLeftHandCorner = [11, 21]  # columns 10..40, rows 20..50
    area.DisplayedAreaBottomRightHandCorner = [40, 50]
    ds.save_as(kit.gsps, enforce_file_format=True)
    archive = Archive.open(tmp_path / "archive")
    assert import_paths(archive, [*kit.ct_paths, kit.gsps]).added == 4
    try:
        app = make_app(archive)
        async with app.run_test(size=(160, 50)) as pilot:
            screen = await open_study(pilot, 0)
            await until(pilot, lambda: screen.annotations is not None, "the annotations")
            await press(pilot, "j")
            assert screen.state.orientation == Orientation(1, True, False)
            assert screen.rendered is not None
            region = screen.rendered.region
            # the area's centre (row 35, column 25) turned a quarter clockwise, then mirrored
            centre = (region.top + region.height / 2, region.left + region.width / 2)
            assert abs(centre[0] - 25) < 1 and abs(centre[1] - 35) < 1
            assert abs(min(region.height, region.width) - 30) < 1  # the area just fits
            await press(pilot, "G")  # annotations only: the reader's fitted, upright view
            assert screen.state.orientation == Orientation() and screen.state.zoom == 1.0
    finally:
        archive.close()


async def test_gsps_magnify_shows_image_pixels_at_the_ratio(tmp_path: Path, make_app: Any) -> None:
    kit = make(tmp_path / "files")
    ds = pydicom.dcmread(kit.gsps)
    area = ds.DisplayedAreaSelectionSequence[0]
    area.PresentationSizeMode = "MAGNIFY"
    area.PresentationPixelMagnificationRatio = 3.0
    ds.save_as(kit.gsps, enforce_file_format=True)
    archive = Archive.open(tmp_path / "archive")
    assert import_paths(archive, [*kit.ct_paths, kit.gsps]).added == 4
    try:
        app = make_app(archive)
        async with app.run_test(size=(160, 50)) as pilot:
            screen = await open_study(pilot, 0)
            await until(pilot, lambda: screen.annotations is not None, "the annotations")
            await press(pilot, "j")
            await press(pilot, "k")
            # three screen pixels per image pixel (zoom as the overlay gives it: 300 %)
            assert abs(screen.zoom_percent() - 300) < 1.5
    finally:
        archive.close()
