"""The probe's crosshair, drawn into the picture at the pixels the terminal shows (pure).

A text cell over the picture covers about 5 x 10 image pixels and hides the very pixel
probed, so the crosshair is drawn into the picture itself, in every backend. To stay thin
(one screen pixel, one half-cell in half-cell blocks) it is drawn on the *grid* of pixels
the backend puts on screen, not on the image's own pixels (which a zoomed view enlarges):

- ``sixel``: the box's screen pixels (what the Sixel backend resamples to anyway);
- ``halfcell``: one column and half a row per pixel (what the half-cell backend draws);
- ``kitty``: the image's own pixels, reduced to the box's screen pixels when larger (as
  the Kitty backend sends them), or repeated a whole number of times when the terminal would
  enlarge them more than twice (the terminal scales the rest). Repeated, not interpolated:
  each pixel shows as a sharp block (the probed one exactly), and the PNG stays small (a
  128 x 244 crop of a CT zoomed 6 times: 35 KiB repeated, 249 KiB interpolated).

The picture handed to the ImageView is the grid, with a pixel aspect that keeps the
physical proportions exactly, so the ImageView places it in the same box and (Sixel,
half-cell) resamples nothing. The crosshair has a gap around the probed pixel's footprint,
which stays untouched, and a colour that stands out on grey (:data:`COLOUR`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tuipacs.imaging.resample import display_ratio, fit_pixels, resize, square_pixel_size
from tuipacs.view.layout import Box, CellSize, box_pixels

COLOUR = (0, 255, 64)
"""Bright green: visible on black, white and every grey between (and to most colour-blind
readers, unlike red)."""
GAP = 2
"""Grid pixels left clear around the probed pixel's footprint."""
MIN_ARM = 3
"""Shortest arm in grid pixels (a half-cell picture of a few cells)."""
ARM_FRACTION = 0.035
"""Arm length as a fraction of the picture's smaller side."""


@dataclass(frozen=True)
class Grid:
    """The pixels of the crosshair picture: ``size`` (height, width), the pixel aspect to
    hand the ImageView with it, and ``repeat``: each image pixel repeated that many times
    each way (1: resampled to ``size``)."""

    size: tuple[int, int]
    aspect: float
    repeat: int = 1


def grid_of(backend: str, shape: tuple[int, int], aspect: float, box: Box, cell: CellSize) -> Grid:
    """The grid the crosshair picture of a ``shape`` (rows, cols) picture with pixel
    ``aspect`` is drawn on, shown in ``box`` by ``backend`` (see the module docstring)."""
    rows, cols = shape
    ratio = display_ratio(rows, cols, aspect)
    target = box_pixels(box, cell)
    repeat = 1
    if backend == "halfcell":
        unit = aspect * 2.0 * cell.width / cell.height
        size = fit_pixels(shape, unit, (box.rows * 2, box.cols))
    elif backend == "kitty":
        native = square_pixel_size(shape, aspect)
        fitted = fit_pixels(native, 1.0, target)
        times = fitted[1] / native[1]
        if times < 1.0:
            size = fitted
        elif times >= 2.0 and native == (rows, cols):
            repeat = math.floor(times)
            size = (rows * repeat, cols * repeat)
        elif times >= 2.0:  # non-square pixels: resampled to square ones
            whole = math.floor(times)
            size = (native[0] * whole, native[1] * whole)
        else:
            size = native
    else:
        size = fit_pixels(shape, aspect, target)
    height, width = max(1, size[0]), max(1, size[1])
    return Grid((height, width), ratio * width / height, repeat)


def arm_length(size: tuple[int, int]) -> int:
    """The arm of the crosshair, in grid pixels, for a picture of ``size``."""
    return max(MIN_ARM, round(min(size) * ARM_FRACTION))


def draw_crosshair(
    pixels: np.ndarray,
    footprint: tuple[float, float, float, float],
    colour: tuple[int, int, int] = COLOUR,
) -> np.ndarray:
    """An RGB copy of ``pixels`` (grey or RGB) with a crosshair around ``footprint``.

    ``footprint`` is (top, left, bottom, right) of the probed pixel in grid pixels (float,
    exclusive ends). Four one-pixel arms point at it along its middle row and column from
    :data:`GAP` pixels outside it; the footprint and the gap stay as they were. Parts
    outside the picture are left out.
    """
    rgb = np.repeat(pixels[..., None], 3, axis=2) if pixels.ndim == 2 else pixels.copy()
    rows, cols = rgb.shape[:2]
    top, left, bottom, right = footprint
    r0, c0 = math.floor(top), math.floor(left)
    r1, c1 = max(r0 + 1, math.ceil(bottom)), max(c0 + 1, math.ceil(right))
    mid_r, mid_c = math.floor((top + bottom) / 2), math.floor((left + right) / 2)
    arm = arm_length((rows, cols))
    value = np.asarray(colour, dtype=np.uint8)
    if 0 <= mid_r < rows:
        for start, stop in ((c0 - GAP - arm, c0 - GAP), (c1 + GAP, c1 + GAP + arm)):
            lo, hi = max(0, start), min(cols, stop)
            if lo < hi:
                rgb[mid_r, lo:hi] = value
    if 0 <= mid_c < cols:
        for start, stop in ((r0 - GAP - arm, r0 - GAP), (r1 + GAP, r1 + GAP + arm)):
            lo, hi = max(0, start), min(rows, stop)
            if lo < hi:
                rgb[lo:hi, mid_c] = value
    return rgb


def crosshair_picture(
    array: np.ndarray,
    aspect: float,
    point: tuple[float, float],
    backend: str,
    box: Box,
    cell: CellSize,
) -> tuple[np.ndarray, float] | None:
    """The picture ``array`` (pixel ``aspect``) on its grid with the crosshair on the pixel
    containing ``point`` (row, col of ``array``, continuous: pixel ``i`` spans ``[i, i+1)``),
    and the aspect to show it with; None when ``point`` is outside ``array``."""
    rows, cols = array.shape[:2]
    row, col = math.floor(point[0]), math.floor(point[1])
    if not (0 <= row < rows and 0 <= col < cols):
        return None
    grid = grid_of(backend, (rows, cols), aspect, box, cell)
    height, width = grid.size
    scale_r, scale_c = height / rows, width / cols
    footprint = (row * scale_r, col * scale_c, (row + 1) * scale_r, (col + 1) * scale_c)
    if grid.repeat > 1:
        pixels = np.repeat(np.repeat(array, grid.repeat, axis=0), grid.repeat, axis=1)
    else:
        pixels = resize(array, grid.size)
    return draw_crosshair(pixels, footprint), grid.aspect
