"""The probe's pure parts: the pixel under a cell, the crosshair in the picture, mm from the
header (against hand computations), the readout text."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from pydicom.dataset import Dataset

from tuipacs.imaging.voi import VoiFunction
from tuipacs.view.crosshair import (
    COLOUR,
    GAP,
    arm_length,
    crosshair_picture,
    draw_crosshair,
    grid_of,
)
from tuipacs.view.frames import Frame
from tuipacs.view.info import FrameInfo, frame_info
from tuipacs.view.layout import Box, CellSize, picture_box
from tuipacs.view.probe import (
    BIG_STEP,
    OUTSIDE,
    display_index,
    oriented_point,
    pointer_point,
    probe_at,
    probe_text,
    screen_step,
    source_point,
)
from tuipacs.view.probe_geometry import NO_CALIBRATION, position_of, position_text
from tuipacs.view.render import Rendered
from tuipacs.view.state import ViewerState
from tuipacs.view.viewport import Orientation, Region

ORIENTATIONS = [
    Orientation(k, bool(h), bool(v)) for k, h, v in itertools.product(range(4), (0, 1), (0, 1))
]
CELL = CellSize(10, 20)


def frame_of(values: np.ndarray, info: FrameInfo | None = None, scale: float = 1.0) -> Frame:
    """A frame of ``values`` (grey unless H x W x 3) with ``info``."""
    return Frame(
        values=values,
        color=values.ndim == 3,
        invert=False,
        aspect=1.0,
        windows=[],
        function=VoiFunction.LINEAR,
        info=info or FrameInfo(modality="CT", unit="HU"),
        scale=scale,
    )


def rendered_of(array: np.ndarray, region: Region | None = None) -> Rendered:
    """A rendering showing ``array`` (the crop of ``region``, the whole picture if None)."""
    rows, cols = array.shape[:2]
    region = region or Region(0.0, 0.0, float(rows), float(cols))
    return Rendered(array, 1.0, None, region, (0.0, 0.0), (rows, cols))


# -- orientation ------------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_oriented_point_finds_the_pixel_where_apply_puts_it(orientation: Orientation) -> None:
    source = np.zeros((5, 7), np.uint8)
    source[1, 4] = 1
    where = np.argwhere(orientation.apply(source) == 1)[0]
    row, col = oriented_point(orientation, (1.5, 4.5), (5, 7))
    assert (math.floor(row), math.floor(col)) == tuple(where)
    assert source_point(orientation, (row, col), (5, 7)) == pytest.approx((1.5, 4.5))


@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_an_arrow_moves_the_probe_that_way_on_screen(orientation: Orientation) -> None:
    state = ViewerState(orientation=orientation, probe=(3, 2))
    before = oriented_point(orientation, (2.5, 3.5), (5, 7))
    state.move_probe(1, 0, False, (5, 7))  # right
    x, y = state.probe or (0, 0)
    after = oriented_point(orientation, (y + 0.5, x + 0.5), (5, 7))
    assert after == pytest.approx((before[0], before[1] + 1))
    d_row, d_col = screen_step(orientation, 1, 0)  # down
    assert oriented_point(orientation, (2.5 + d_row, 3.5 + d_col), (5, 7)) == pytest.approx(
        (before[0] + 1, before[1])
    )


def test_shift_moves_ten_and_the_probe_stays_on_the_image() -> None:
    state = ViewerState(probe=(5, 5))
    state.move_probe(1, 0, True, (100, 100))
    assert state.probe == (5 + BIG_STEP, 5)
    state.move_probe(-1, -1, True, (100, 100))
    state.move_probe(-1, -1, True, (100, 100))
    assert state.probe == (0, 0)
    state.move_probe(0, 1, False, (100, 100))
    assert state.probe == (0, 1)


# -- the pixel under a cell -------------------------------------------------------------------


def test_pointer_point_maps_a_cell_centre_to_the_pixel_under_it() -> None:
    array = np.zeros((100, 200), np.uint8)  # 100 x 200 px fill a 20 x 5 box of 10 x 20 cells
    box = Box(2, 1, 20, 5)
    point = pointer_point((12.5, 3.5), box, CELL, rendered_of(array))
    # by hand: x (12.5 - 2) cells * 10 px = 105 px = column 105; y (3.5 - 1) * 20 = row 50
    assert point == pytest.approx((50.0, 105.0))
    assert pointer_point((1.5, 3.5), box, CELL, rendered_of(array)) is None  # left of the box


def test_pointer_point_skips_the_bars_and_adds_the_crop_origin() -> None:
    array = np.zeros((50, 100), np.uint8)  # 2:1 picture in a 30 x 5 box (300 x 100 px)
    region = Region(20.0, 40.0, 50.0, 100.0)  # a zoomed view: crop starts at row 20, col 40
    box = Box(0, 0, 30, 5)
    rendered = rendered_of(array, region)
    # picture 200 x 100 px centred: 50 px bars left and right
    assert pointer_point((4.5, 2.5), box, CELL, rendered) is None  # 45 px: in the bar
    point = pointer_point((15.0, 2.5), box, CELL, rendered)
    # x 150 px - 50 = 100 px of 200 -> column 50 (+40); y 50 px of 100 -> row 25 (+20)
    assert point == pytest.approx((45.0, 90.0))


def test_probe_at_and_display_index_count_source_pixels_of_a_reduced_frame() -> None:
    frame = frame_of(np.zeros((100, 150), np.float32), scale=0.5)  # a 200 x 300 source
    assert probe_at(frame, Orientation(), (10.2, 20.7)) == (41, 20)
    assert display_index(frame, (41, 20)) == (10, 20)
    assert display_index(frame, (300, 0)) is None


# -- the crosshair ----------------------------------------------------------------------------


def test_crosshair_arms_around_an_untouched_centre() -> None:
    rng = np.random.default_rng(7)
    grey = rng.integers(0, 256, (60, 80), dtype=np.uint8)
    drawn = draw_crosshair(grey, (20.0, 30.0, 23.0, 33.0))  # a 3 x 3 footprint at 20..22, 30..32
    arm = arm_length((60, 80))
    colour = np.asarray(COLOUR, np.uint8)
    original = np.repeat(grey[..., None], 3, axis=2)
    painted = np.all(drawn == colour, axis=2) & np.any(original != colour, axis=2)
    expected = np.zeros((60, 80), bool)
    expected[21, 30 - GAP - arm : 30 - GAP] = True  # left arm on the middle row (21)
    expected[21, 33 + GAP : 33 + GAP + arm] = True
    expected[20 - GAP - arm : 20 - GAP, 31] = True  # top arm on the middle column (31)
    expected[23 + GAP : 23 + GAP + arm, 31] = True
    assert np.array_equal(painted, expected)
    changed = np.any(drawn != original, axis=2)
    assert not changed[20 - GAP : 23 + GAP, 30 - GAP : 33 + GAP].any()  # footprint and gap
    assert changed.sum() == expected.sum()


def test_crosshair_near_an_edge_is_cut_not_wrapped() -> None:
    drawn = draw_crosshair(np.zeros((20, 20), np.uint8), (0.0, 0.0, 1.0, 1.0))
    painted = np.all(drawn == np.asarray(COLOUR, np.uint8), axis=2)
    arm = arm_length((20, 20))
    expected = np.zeros((20, 20), bool)
    expected[0, 1 + GAP : 1 + GAP + arm] = True  # right arm only on the top row
    expected[1 + GAP : 1 + GAP + arm, 0] = True  # bottom arm only in the left column
    assert np.array_equal(painted, expected)


@pytest.mark.parametrize("backend", ["kitty", "sixel", "halfcell"])
def test_crosshair_picture_keeps_the_box_and_marks_the_probed_pixel(backend: str) -> None:
    array = np.full((64, 64), 100, np.uint8)
    area = (60, 20)
    box = picture_box((64, 64), 1.0, area, CELL)
    result = crosshair_picture(array, 1.0, (40.5, 10.5), backend, box, CELL)
    assert result is not None
    picture, aspect = result
    assert picture.shape[2] == 3
    assert picture_box(picture.shape[:2], aspect, area, CELL) == box  # the same place
    height, width = picture.shape[:2]
    painted = np.all(picture == np.asarray(COLOUR, np.uint8), axis=2)
    rows, cols = np.nonzero(painted)
    # the arms point at the probed pixel's footprint in the grid, which stays grey
    top, bottom = 40 * height / 64, 41 * height / 64
    left, right = 10 * width / 64, 11 * width / 64
    middle_row, middle_col = math.floor((top + bottom) / 2), math.floor((left + right) / 2)
    assert set(rows[cols != middle_col]) == {middle_row}
    assert set(cols[rows != middle_row]) == {middle_col}
    assert not painted[
        math.floor(top) : math.ceil(bottom), math.floor(left) : math.ceil(right)
    ].any()
    assert (picture[middle_row, middle_col] == 100).all()


def test_crosshair_grid_is_thin_on_screen() -> None:
    box = Box(0, 0, 80, 40)  # 800 x 800 px
    assert grid_of("sixel", (512, 512), 1.0, box, CELL).size == (800, 800)
    assert grid_of("halfcell", (512, 512), 1.0, box, CELL).size == (80, 80)
    assert grid_of("kitty", (512, 512), 1.0, box, CELL).size == (512, 512)  # 1.6 px a pixel
    zoomed = grid_of("kitty", (128, 128), 1.0, box, CELL)
    assert (zoomed.size, zoomed.repeat) == ((768, 768), 6)  # 6x, not 6.25: sharp blocks
    assert grid_of("kitty", (2048, 2048), 1.0, box, CELL).size == (800, 800)


def test_kitty_repeats_the_pixels_of_a_zoomed_view() -> None:
    array = np.arange(16 * 24, dtype=np.uint8).reshape(16, 24)
    box = Box(0, 0, 80, 40)  # 800 x 800 px: 24 columns enlarged 33 times
    result = crosshair_picture(array, 1.0, (3.5, 5.5), "kitty", box, CELL)
    assert result is not None
    picture, _aspect = result
    assert picture.shape[:2] == (16 * 33, 24 * 33)
    unpainted = ~np.all(picture == np.asarray(COLOUR, np.uint8), axis=2)
    blocks = np.repeat(np.repeat(array, 33, axis=0), 33, axis=1)
    assert np.array_equal(picture[..., 0][unpainted], blocks[unpainted])


def test_no_crosshair_for_a_point_off_the_picture() -> None:
    array = np.zeros((10, 10), np.uint8)
    assert crosshair_picture(array, 1.0, (10.5, 2.0), "sixel", Box(0, 0, 10, 5), CELL) is None


# -- mm from the header -----------------------------------------------------------------------


def oblique_dataset() -> Dataset:
    """A header with an oblique orientation (turned about two axes), non-square spacing."""
    a, b = math.radians(30), math.radians(-20)
    turn_z = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    turn_x = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    axes = turn_x @ turn_z
    ds = Dataset()
    ds.Modality = "MR"
    ds.Rows, ds.Columns = 256, 192
    ds.ImageOrientationPatient = [f"{v:.8f}" for v in (*axes[:, 0], *axes[:, 1])]
    ds.ImagePositionPatient = ["-101.5", "37.25", "12.0"]
    ds.PixelSpacing = ["0.7", "0.9"]  # row spacing, column spacing
    return ds


def test_patient_mm_of_an_oblique_image_match_the_standard_matrix() -> None:
    ds = oblique_dataset()
    info = frame_info(ds, 0)
    cosines = np.array([float(v) for v in ds.ImageOrientationPatient])
    row_dir, col_dir = cosines[:3], cosines[3:]
    spacing_r, spacing_c = 0.7, 0.9
    matrix = np.zeros((4, 4))  # PS3.3 C.7.6.2.1.1, equation C.7.6.2.1-1
    matrix[:3, 0] = row_dir * spacing_c
    matrix[:3, 1] = col_dir * spacing_r
    matrix[:3, 3] = [-101.5, 37.25, 12.0]
    matrix[3, 3] = 1.0
    for x, y in ((0, 0), (17, 203), (191, 255)):
        expected = matrix @ np.array([x, y, 0.0, 1.0])
        found = position_of(info, x, y)
        assert found is not None and found.kind == "patient"
        assert found.mm == pytest.approx(tuple(expected[:3]), abs=1e-9)
    text = position_text(info, 17, 203)
    expected = matrix @ np.array([17, 203, 0.0, 1.0])
    assert text == "Patient x {:.1f} y {:.1f} z {:.1f} mm".format(*expected[:3])


def test_plane_mm_name_their_calibration() -> None:
    ds = Dataset()
    ds.Modality = "DX"
    ds.ImagerPixelSpacing = ["0.15", "0.2"]
    assert position_text(frame_info(ds, 0), 10, 20) == (
        "x 2 y 3 mm from top-left (ImagerPixelSpacing, at the detector)"
    )
    ds = oblique_dataset()
    ds.ImageOrientationPatient = ["1", "0", "0", "0.5", "1", "0"]  # not orthogonal: no patient
    assert position_text(frame_info(ds, 0), 10, 20) == "x 9 y 14 mm from top-left (PixelSpacing)"


def test_no_calibration_says_so() -> None:
    ds = Dataset()
    ds.Modality = "US"
    ds.PixelSpacing = ["0", "0.2"]  # not a spacing
    assert position_text(frame_info(ds, 0), 10, 20) == NO_CALIBRATION
    assert "no calibration" in NO_CALIBRATION


def test_huge_geometry_is_not_printed_as_inf() -> None:
    info = FrameInfo(
        position=(1e308, 0.0, 0.0),
        orientation=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
        pixel_spacing=(1e308, 1e308),
        spacing_kind="PixelSpacing",
    )
    assert position_text(info, 5, 5) == NO_CALIBRATION


# -- the readout ------------------------------------------------------------------------------


def test_readout_value_unit_and_position() -> None:
    values = np.arange(12, dtype=np.float32).reshape(3, 4) - 5.5
    info = FrameInfo(
        modality="CT", unit="HU", pixel_spacing=(0.5, 0.5), spacing_kind="PixelSpacing"
    )
    text = probe_text(frame_of(values, info), (3, 1))
    assert text == "Probe 3,1  1.5 HU\nx 1.5 y 0.5 mm from top-left (PixelSpacing)"
    assert probe_text(frame_of(values, info), (4, 1)) == OUTSIDE
    assert probe_text(frame_of(values, info), None) == OUTSIDE


def test_readout_of_colour_and_a_hostile_unit() -> None:
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[1, 0] = (200, 10, 30)
    assert probe_text(frame_of(rgb, FrameInfo()), (0, 1)).startswith("Probe 0,1  RGB 200,10,30\n")
    info = FrameInfo(unit="HU\n\x1b]52;c;AAAA\x07")
    text = probe_text(frame_of(np.zeros((2, 2), np.float32), info), (0, 0))
    first, second = text.split("\n")
    assert "\x1b" not in first and "\x07" not in first and second == NO_CALIBRATION
