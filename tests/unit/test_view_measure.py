"""The measurement model, its drawing and the scale bar (pure), against numpy on synthetic
frames: lengths with anisotropic spacing, angles, ROI masks and statistics, areas, hostile
calibrations, and where the lines land in the picture for a zoom, pan and rotation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tuipacs.view.info import FrameInfo
from tuipacs.view.layout import Box, CellSize
from tuipacs.view.measure import (
    ANGLE,
    ELLIPSE,
    LENGTH,
    MAX_SPACING,
    RECT,
    UNCALIBRATED,
    Measurement,
    angle,
    calibration,
    calibration_of,
    clipboard_text,
    length,
    listing,
    measure,
    next_tool,
    roi_box,
    roi_mask,
    roi_stats,
)
from tuipacs.view.measure_draw import COLOUR, Drawing, annotated, clip_segment, plan, source_mapper
from tuipacs.view.scalebar import bar_text, mm_per_cell, scale_bar
from tuipacs.view.viewport import Orientation

CT = FrameInfo(modality="CT", pixel_spacing=(0.5, 0.8), spacing_kind="PixelSpacing", unit="HU")
"""Anisotropic: rows 0.5 mm apart, columns 0.8 mm."""


def synthetic(seed: int = 7, shape: tuple[int, int] = (64, 80)) -> np.ndarray:
    """A frame of HU-like values (seeded)."""
    rng = np.random.default_rng(seed)
    return rng.normal(40.0, 25.0, shape).round().astype(np.int16)


def test_length_with_anisotropic_spacing() -> None:
    cal = calibration(CT)
    assert length(cal, (10, 5), (40, 25)) == pytest.approx(math.hypot(30 * 0.8, 20 * 0.5))
    result = measure(Measurement(LENGTH, ((10, 5), (40, 25))), CT)
    assert result.lines == (f"{math.hypot(24, 10):.1f} mm", "PixelSpacing, in the patient")
    assert result.warning == ""


def test_detector_calibration_is_named() -> None:
    info = FrameInfo(pixel_spacing=(0.2, 0.2), spacing_kind="ImagerPixelSpacing")
    result = measure(Measurement(LENGTH, ((0, 0), (0, 100))), info)
    assert result.lines == ("20.0 mm", "ImagerPixelSpacing, at the detector")


def test_angle_in_mm_space() -> None:
    cal = calibration(CT)
    # a right angle in pixels is not one in mm when the pixels are not square
    a, vertex, c = (20.0, 10.0), (10.0, 10.0), (20.0, 20.0)
    u = np.array([10 * 0.8, 0.0])
    v = np.array([10 * 0.8, 10 * 0.5])
    expected = math.degrees(math.acos(u @ v / np.linalg.norm(u) / np.linalg.norm(v)))
    assert angle(cal, a, vertex, c) == pytest.approx(expected)
    assert angle(calibration_of(None), (1, 0), (0, 0), (0, 1)) == pytest.approx(90.0)
    assert angle(cal, vertex, vertex, c) is None  # an arm without length
    result = measure(Measurement(ANGLE, (a, vertex, c)), CT)
    assert result.lines == (f"{expected:.1f}°",)


def test_rect_mask_and_stats_equal_numpy() -> None:
    values = synthetic()
    box = roi_box((30, 20), (12, 8))  # corners in any order
    found = roi_mask(RECT, box, values.shape)
    assert found is not None
    rows, cols, mask = found
    full = np.zeros(values.shape, bool)
    full[rows, cols] = mask
    expected = np.zeros(values.shape, bool)
    expected[8:21, 12:31] = True
    assert (full == expected).all()
    stats = roi_stats(values, RECT, box)
    inside = values[8:21, 12:31].astype(np.float64)
    assert stats is not None
    assert stats.mean == pytest.approx(inside.mean())
    assert stats.sd == pytest.approx(inside.std(ddof=0))
    assert (stats.minimum, stats.maximum, stats.count) == (inside.min(), inside.max(), 247)
    result = measure(Measurement(RECT, ((12, 8), (30, 20))), CT, values)
    assert result.lines[0] == f"mean {inside.mean():.1f} HU"
    assert result.lines[1] == f"SD {inside.std():.1f} (population)"
    assert result.lines[3] == f"area {247 * 0.4:.1f} mm²  n 247"


def test_ellipse_mask_is_the_centre_test() -> None:
    values = synthetic(3)
    box = roi_box((10, 10), (50, 30))
    found = roi_mask(ELLIPSE, box, values.shape)
    assert found is not None
    rows, cols, mask = found
    full = np.zeros(values.shape, bool)
    full[rows, cols] = mask
    yy, xx = np.mgrid[0 : values.shape[0], 0 : values.shape[1]]
    expected = ((xx - 30) / 20.5) ** 2 + ((yy - 20) / 10.5) ** 2 <= 1
    assert (full == expected).all()
    assert full[20, 10] and full[10, 30] and not full[10, 10]  # ends in, corners out
    stats = roi_stats(values, ELLIPSE, box)
    assert stats is not None
    assert stats.mean == pytest.approx(values[expected].mean())
    assert stats.sd == pytest.approx(values[expected].std())
    assert stats.count == int(expected.sum())
    one = roi_mask(ELLIPSE, roi_box((5, 5), (5, 5)), values.shape)  # a single pixel
    assert one is not None and one[2].sum() == 1


def test_roi_partly_outside_and_wholly_outside() -> None:
    values = synthetic()
    stats = roi_stats(values, RECT, roi_box((-10, -10), (2, 3)))
    assert stats is not None and stats.count == 3 * 4
    assert roi_stats(values, RECT, roi_box((500, 500), (600, 600))) is None
    result = measure(Measurement(ELLIPSE, ((500, 500), (600, 600))), CT, values)
    assert result.lines == ("no pixels of the image inside",)
    colour = measure(Measurement(RECT, ((0, 0), (3, 3))), CT, None)
    assert colour.lines == ("colour image: no modality values",)


@pytest.mark.parametrize(
    "spacing",
    [
        None,
        (float("nan"), 0.5),
        (0.5, float("inf")),
        (0.0, 0.5),
        (-0.5, 0.5),
        (0.5, MAX_SPACING * 10),
        (1e300, 1e300),
        ("a", "b"),
        (0.5,),
    ],
)
def test_hostile_spacing_gives_pixels_with_a_warning(spacing: object) -> None:
    info = FrameInfo(pixel_spacing=spacing, spacing_kind="PixelSpacing")  # type: ignore[arg-type]
    values = synthetic()
    result = measure(Measurement(LENGTH, ((0, 0), (3, 4))), info)
    assert result.lines == ("5.0 px",) and result.warning == UNCALIBRATED
    roi = measure(Measurement(RECT, ((0, 0), (3, 4))), info, values)
    assert roi.lines[3] == "area 20 px²  n 20" and roi.warning == UNCALIBRATED
    assert f"! {UNCALIBRATED}" in listing([Measurement(LENGTH, ((0, 0), (3, 4)))], info)
    assert scale_bar(mm_per_cell(calibration(info), Orientation(), 80, 1.0, 40), 40) == ""


def test_hostile_points_are_refused() -> None:
    for bad in ((float("nan"), 0.0), (1e12, 0.0)):
        with pytest.raises(ValueError):
            Measurement(LENGTH, ((0.0, 0.0), bad))
    with pytest.raises(ValueError):
        Measurement(ANGLE, ((0.0, 0.0), (1.0, 1.0)))  # three points
    with pytest.raises(ValueError):
        Measurement("volume", ((0.0, 0.0), (1.0, 1.0)))


def test_text_is_sanitised_and_numbered() -> None:
    info = FrameInfo(pixel_spacing=(1.0, 1.0), spacing_kind="PixelSpacing", unit="HU\x1b[2J\nX")
    values = synthetic()
    items = [Measurement(LENGTH, ((0, 0), (0, 10))), Measurement(RECT, ((0, 0), (1, 1)))]
    text = listing(items, info, values)
    assert "\x1b" not in text and text.startswith("1 Length\n  10.0 mm")
    assert "\n2 Rectangle\n  mean " in text
    copied = clipboard_text("Image 1/2\x1b]52;c;evil\x07", items, info, values)
    assert "\x1b" not in copied and "\x07" not in copied
    assert copied.splitlines()[1] == "1 Length  10.0 mm  PixelSpacing, in the patient"


def test_tool_cycle() -> None:
    assert [next_tool(t) for t in (None, LENGTH, ANGLE, RECT, ELLIPSE)] == [
        LENGTH,
        ANGLE,
        RECT,
        ELLIPSE,
        None,
    ]


def test_scale_bar_length_is_exact_to_an_eighth_cell() -> None:
    cal = calibration(CT)
    # 80 columns of 0.8 mm across 40 cells: 1.6 mm per cell; room 10 cells: 10 mm
    per_cell = mm_per_cell(cal, Orientation(), 80, 1.0, 40)
    assert per_cell == pytest.approx(1.6)
    text = scale_bar(per_cell, 40)
    bar, label = text.split(" ", 1)
    assert label == "10 mm"
    assert bar == bar_text(10 / 1.6) == "██████▎"  # 6.25 cells
    # turned a quarter: the rows' spacing runs across the screen
    turned = mm_per_cell(cal, Orientation().rotated(True), 64, 1.0, 40)
    assert turned == pytest.approx(64 * 0.5 / 40)
    assert scale_bar(0.001, 40).endswith(" 0.01 mm")
    assert scale_bar(float("nan"), 40) == ""


def test_clip_segment() -> None:
    found = clip_segment((5, -100), (5, 100), 10, 20)
    assert found is not None
    assert list(found[0] + found[1]) == pytest.approx([5, 0, 5, 20 - 1e-6])
    assert clip_segment((-5, -5), (-1, 30), 10, 20) is None
    assert clip_segment((0, 0), (float("nan"), 1), 10, 20) is None


def painted(picture: np.ndarray) -> np.ndarray:
    return np.all(picture == np.asarray(COLOUR, np.uint8), axis=2)


def test_line_lands_where_the_source_pixels_are_shown_zoomed_panned_rotated() -> None:
    """A horizontal length in the source, turned a quarter clockwise, in a crop of a
    zoomed picture: a vertical line on the grid at the column the oriented pixels map to."""
    orientation = Orientation().rotated(True)  # oriented shape: 120 rows x 100 cols
    crop = (20, 10)  # the visible region starts at row 20, col 10 of the oriented picture
    array = np.zeros((60, 50), np.uint8)  # what is visible
    item = Measurement(LENGTH, ((30.0, 40.0), (70.0, 40.0)))
    box, cell = Box(0, 0, 50, 30), CellSize(10, 20)  # 500 x 600 screen pixels

    def drawing_of(grid_scale: tuple[float, float]) -> Drawing:
        mapper = source_mapper((100, 120), 1.0, orientation, crop, grid_scale)
        return plan([item], None, None, mapper)

    picture, _aspect = annotated(array, 1.0, "sixel", box, cell, drawing_of)
    height, width = picture.shape[:2]
    s_r, s_c = height / 60, width / 50
    # source (x, y) centre -> oriented (row, col) = (x + .5, 100 - (y + .5)) -> minus crop
    col = (100 - 40.5 - crop[1]) * s_c
    top, bottom = (30.5 - crop[0]) * s_r, (70.5 - crop[0]) * s_r
    marks = painted(picture)
    rows_on = np.nonzero(marks[:, math.floor(col)])[0]
    assert rows_on.size and abs(rows_on.min() - math.floor(top)) <= 1
    assert abs(rows_on.max() - math.floor(bottom)) <= 1
    line = marks.copy()
    line[:, math.floor(col)] = False
    # the number's box sits beside the first point; nothing else is painted
    ys, xs = np.nonzero(line)
    assert ys.size == 0 or (abs(ys - top).max() < 40 and abs(xs - col).max() < 40)


def test_far_outside_costs_nothing_and_draws_nothing() -> None:
    array = np.zeros((40, 40), np.uint8)
    item = Measurement(LENGTH, ((-5e6, -5e6), (-4e6, 5e6)))

    def drawing_of(grid_scale: tuple[float, float]) -> Drawing:
        mapper = source_mapper((40, 40), 1.0, Orientation(), (0, 0), grid_scale)
        return plan([item], None, None, mapper)

    box, cell = Box(0, 0, 40, 20), CellSize(10, 20)
    picture, _ = annotated(array, 1.0, "halfcell", box, cell, drawing_of)
    assert not painted(picture).any()


def test_a_reduced_display_frame_gives_approximate_statistics() -> None:
    """A frame reduced for display (half size): the ROI is mapped to its pixels, the count
    and area stay in source pixels, and the values are marked approximate."""
    values = synthetic(5, (40, 40)).astype(np.float32)
    result = measure(Measurement(RECT, ((0, 0), (19, 9))), CT, values, scale=0.5)
    inside = values[0:5, 0:10].astype(np.float64)
    assert result.lines[0] == f"mean ~{inside.mean():.1f} HU"
    assert result.lines[3].endswith("n 200")
    assert "reduced display image" in result.warning
