"""Cell boxes keep the picture's physical proportions."""

from __future__ import annotations

import numpy as np
import pytest

from tuipacs.imaging import resample
from tuipacs.view import layout
from tuipacs.view.layout import Box, CellSize

CELL = CellSize(10, 20)


def test_square_image_in_wide_area_is_centred() -> None:
    box = layout.fit_box((512, 512), 1.0, 160, 48, CELL)
    assert box == Box(x=32, y=0, cols=96, rows=48)  # 960 x 960 px


@pytest.mark.parametrize(
    ("size", "aspect", "cols", "rows"),
    [((512, 512), 2.0, 160, 48), ((256, 512), 1.0, 160, 48), ((512, 256), 0.5, 100, 50)],
)
def test_box_proportions_follow_pixel_aspect(
    size: tuple[int, int], aspect: float, cols: int, rows: int
) -> None:
    box = layout.fit_box(size, aspect, cols, rows, CELL)
    shown = (box.rows * CELL.height) / (box.cols * CELL.width)
    expected = size[0] * aspect / size[1]
    assert shown == pytest.approx(expected, rel=0.05)
    assert box.x + box.cols <= cols and box.y + box.rows <= rows
    assert (box.cols == cols) or (box.rows == rows), "the box touches the area on one side"


def test_degenerate_areas() -> None:
    assert layout.fit_box((10, 10), 1.0, 0, 10, CELL) == Box(0, 0, 0, 0)
    assert layout.fit_box((1, 1000), 1.0, 5, 5, CELL).rows == 1


def test_fit_into_letterboxes_exactly() -> None:
    array = np.full((100, 50), 200, dtype=np.uint8)
    out = resample.fit_into(array, 1.0, (40, 60))
    assert out.shape == (40, 60)
    assert (out[:, :20] == 0).all() and (out[:, 40:] == 0).all() and (out[:, 21:39] == 200).all()
    assert resample.square_pixel_size((100, 50), 2.0) == (200, 50)
    assert resample.square_pixel_size((100, 50), 0.5) == (100, 100)
    assert resample.half_resolution(np.zeros((9, 8), np.uint8)).shape == (5, 4)
