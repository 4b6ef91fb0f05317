"""Where a picture goes on a terminal's cell grid: aspect-correct cell boxes (pure).

Conventions: ``aspect`` is the physical height / width of ONE image pixel; 1.0 means square
pixels. The resampling of the pixels into a box is :mod:`tuipacs.imaging.resample`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from tuipacs.imaging.resample import display_ratio, fit_into


class CellSize(NamedTuple):
    """Size of one terminal cell in screen pixels."""

    width: int
    height: int


class Box(NamedTuple):
    """A rectangle of terminal cells: offset (x, y) inside the widget, size cols x rows."""

    x: int
    y: int
    cols: int
    rows: int


def fit_box(
    image_size: tuple[int, int],
    aspect: float,
    avail_cols: int,
    avail_rows: int,
    cell: CellSize,
) -> Box:
    """The largest cell box keeping the picture's physical proportions, centred in the area.

    ``image_size`` is (height, width) in image pixels; the area is ``avail_cols`` x
    ``avail_rows`` cells of ``cell`` pixels each. The box is rounded to whole cells.
    """
    height, width = image_size
    if avail_cols < 1 or avail_rows < 1 or height < 1 or width < 1:
        return Box(0, 0, 0, 0)
    ratio = display_ratio(height, width, aspect)
    area_w = avail_cols * cell.width
    area_h = avail_rows * cell.height
    if area_h / area_w > ratio:
        disp_w, disp_h = float(area_w), area_w * ratio
    else:
        disp_w, disp_h = area_h / ratio, float(area_h)
    cols = min(avail_cols, max(1, round(disp_w / cell.width)))
    rows = min(avail_rows, max(1, round(disp_h / cell.height)))
    return Box((avail_cols - cols) // 2, (avail_rows - rows) // 2, cols, rows)


def shrink_box(box: Box, scale: float, avail_cols: int, avail_rows: int) -> Box:
    """``box`` (the fitted picture) scaled by ``scale`` < 1 and centred in the area again.

    Zoomed out below fit, the picture takes that fraction of its fitted size; a ``scale`` of
    1 or more leaves the box as it is (the viewer crops the picture instead).
    """
    if not scale < 1.0:
        return box
    cols = min(box.cols, max(1, round(box.cols * scale)))
    rows = min(box.rows, max(1, round(box.rows * scale)))
    return Box((avail_cols - cols) // 2, (avail_rows - rows) // 2, cols, rows)


def picture_box(
    image_size: tuple[int, int],
    aspect: float,
    area: tuple[int, int],
    cell: CellSize,
    scale: float = 1.0,
) -> Box:
    """The cell box of a picture in an ``area`` of (cols, rows) cells: fitted, then shrunk
    to ``scale`` of that when zoomed out below fit (``scale`` < 1)."""
    cols, rows = area
    box = fit_box(image_size, aspect, cols, rows, cell)
    return shrink_box(box, scale, cols, rows)


def box_pixels(box: Box, cell: CellSize) -> tuple[int, int]:
    """(height, width) in screen pixels of a cell box."""
    return box.rows * cell.height, box.cols * cell.width


def box_picture(array: np.ndarray, aspect: float, box: Box, cell: CellSize) -> np.ndarray:
    """``array`` resampled to fill the pixels of ``box``: fitted with its proportions,
    centred, black bars where the box's whole cells leave room (what a Sixel shows)."""
    return fit_into(array, aspect, box_pixels(box, cell))


def screen_picture(
    array: np.ndarray,
    aspect: float,
    area: tuple[int, int],
    cell: CellSize,
    scale: float = 1.0,
) -> np.ndarray:
    """The pixels of an ``area`` of (cols, rows) cells showing ``array`` as the viewer does:
    black, with the picture in its cell box (:func:`picture_box`, :func:`box_picture`)."""
    cols, rows = area
    canvas = np.zeros((rows * cell.height, cols * cell.width) + array.shape[2:], np.uint8)
    box = picture_box(array.shape[:2], aspect, area, cell, scale)
    if box.cols < 1 or box.rows < 1:
        return canvas
    top, left = box.y * cell.height, box.x * cell.width
    height, width = box_pixels(box, cell)
    canvas[top : top + height, left : left + width] = box_picture(array, aspect, box, cell)
    return canvas
