"""Geometry of a picture on a cell grid: aspect-correct cell boxes and pixel resampling.

Pure functions on numbers and numpy arrays (Pillow for resampling); no Textual.

Conventions: ``aspect`` is the physical height / width of ONE image pixel (row spacing over
column spacing, DICOM PixelSpacing[0] / PixelSpacing[1]); 1.0 means square pixels.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from PIL import Image


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


def display_ratio(height: int, width: int, aspect: float) -> float:
    """Physical height / width of a ``height`` x ``width`` image whose pixels have ``aspect``."""
    return height * aspect / width


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


def fit_pixels(
    image_size: tuple[int, int], aspect: float, target: tuple[int, int]
) -> tuple[int, int]:
    """(height, width) in screen pixels of the picture fitted inside ``target`` (height, width)."""
    height, width = image_size
    ratio = display_ratio(height, width, aspect)
    target_h, target_w = target
    if target_h / target_w > ratio:
        out_w, out_h = target_w, round(target_w * ratio)
    else:
        out_w, out_h = round(target_h / ratio), target_h
    return max(1, min(target_h, out_h)), max(1, min(target_w, out_w))


def square_pixel_size(image_size: tuple[int, int], aspect: float) -> tuple[int, int]:
    """(height, width) of the image resampled to square pixels without losing resolution."""
    height, width = image_size
    if abs(aspect - 1.0) < 1e-3:
        return height, width
    if aspect > 1.0:
        return max(1, round(height * aspect)), width
    return height, max(1, round(width / aspect))


def resize(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resample a uint8 grey or RGB array to (height, width): bilinear, antialiased."""
    height, width = size
    if array.shape[0] == height and array.shape[1] == width:
        return array
    image = Image.fromarray(np.ascontiguousarray(array))
    resized = image.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(resized)


def half_resolution(array: np.ndarray) -> np.ndarray:
    """A quarter-area preview (2x2 box average), at least 1 x 1 pixel."""
    if array.shape[0] < 2 or array.shape[1] < 2:
        return array
    image = Image.fromarray(np.ascontiguousarray(array))
    return np.asarray(image.reduce(2))


def letterbox(array: np.ndarray, size: tuple[int, int], fill: int = 0) -> np.ndarray:
    """Place ``array`` centred on a (height, width) canvas filled with ``fill``."""
    height, width = size
    shape = (height, width) + array.shape[2:]
    canvas = np.full(shape, fill, dtype=np.uint8)
    top = (height - array.shape[0]) // 2
    left = (width - array.shape[1]) // 2
    canvas[top : top + array.shape[0], left : left + array.shape[1]] = array
    return canvas


def fit_into(array: np.ndarray, aspect: float, size: tuple[int, int]) -> np.ndarray:
    """Resample ``array`` to fill (height, width) screen pixels with correct proportions.

    The picture is fitted, centred and padded with black, so the result is exactly ``size``.
    """
    inner = fit_pixels((array.shape[0], array.shape[1]), aspect, size)
    return letterbox(resize(array, inner), size)
