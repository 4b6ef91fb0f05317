"""The probe: a source pixel, where it is in the picture on screen, and its readout (pure).

The probe is a pixel of the *source* image, ``(x, y)`` = (column, row) as DICOM counts them,
so it stays on the same anatomy while the reader scrolls, zooms, pans, rotates or flips.
Arrows move it one source pixel in the direction they point on screen, Shift+arrows ten
(:data:`STEP`, :data:`BIG_STEP`); the mouse puts it on the pixel under the pointer (the
middle of the cell, or the pointer's own position where the terminal reports pixels).
A very large image the viewer reduced for display (:attr:`Frame.scale` < 1) still counts
source pixels; its value is then the reduced pixel's (marked ``~``).

Coordinates here are continuous: pixel ``i`` spans ``[i, i + 1)``, its centre is ``i + 0.5``.
The crosshair itself is :mod:`tuipacs.view.crosshair`; mm are
:mod:`tuipacs.view.probe_geometry`.
"""

from __future__ import annotations

import math

from tuipacs.imaging.resample import fit_pixels
from tuipacs.safe_text import clean
from tuipacs.view import format as fmt
from tuipacs.view.frames import Frame
from tuipacs.view.layout import Box, CellSize, box_pixels
from tuipacs.view.probe_geometry import position_text
from tuipacs.view.render import Rendered
from tuipacs.view.viewport import Orientation

OUTSIDE = "Probe: outside the image"
STEP = 1
"""Source pixels an arrow moves the probe."""
BIG_STEP = 10
"""Source pixels Shift+arrow moves the probe."""

Point = tuple[float, float]
"""(row, col), continuous."""


def oriented_point(orientation: Orientation, point: Point, shape: tuple[int, int]) -> Point:
    """Where ``point`` of a ``shape`` (rows, cols) source is in the oriented picture (as
    :meth:`Orientation.apply` turns it: quarter turns clockwise, then the mirrors)."""
    row, col = point
    height, width = shape
    for _ in range(orientation.quarter_turns % 4):
        row, col = col, height - row
        height, width = width, height
    if orientation.flip_h:
        col = width - col
    if orientation.flip_v:
        row = height - row
    return row, col


def source_point(orientation: Orientation, point: Point, shape: tuple[int, int]) -> Point:
    """The inverse of :func:`oriented_point`: ``point`` of the oriented picture in the
    ``shape`` (rows, cols) source."""
    row, col = point
    height, width = orientation.oriented_shape(*shape)
    if orientation.flip_v:
        row = height - row
    if orientation.flip_h:
        col = width - col
    for _ in range(orientation.quarter_turns % 4):
        row, col = width - col, row
        height, width = width, height
    return row, col


def screen_step(orientation: Orientation, d_row: int, d_col: int) -> tuple[int, int]:
    """(rows, cols) of the source that move the probe ``d_row``, ``d_col`` on screen."""
    origin = source_point(orientation, (0.0, 0.0), (1, 1))
    moved = source_point(orientation, (float(d_row), float(d_col)), (1, 1))
    return round(moved[0] - origin[0]), round(moved[1] - origin[1])


def source_shape(frame: Frame) -> tuple[int, int]:
    """(rows, cols) of the source image (larger than the frame's array when reduced)."""
    rows, cols = frame.values.shape[:2]
    scale = frame.scale if frame.scale > 0 else 1.0
    return max(1, round(rows / scale)), max(1, round(cols / scale))


def clamp(probe: tuple[int, int], shape: tuple[int, int]) -> tuple[int, int]:
    """``probe`` (x, y) kept inside a ``shape`` (rows, cols) source."""
    x, y = probe
    rows, cols = shape
    return max(0, min(cols - 1, x)), max(0, min(rows - 1, y))


def display_index(frame: Frame, probe: tuple[int, int]) -> tuple[int, int] | None:
    """(row, col) of the frame's array that shows source pixel ``probe`` (x, y), None
    when outside."""
    x, y = probe
    rows, cols = frame.values.shape[:2]
    scale = frame.scale if frame.scale > 0 else 1.0
    row, col = math.floor((y + 0.5) * scale), math.floor((x + 0.5) * scale)
    if not (0 <= row < rows and 0 <= col < cols) or x < 0 or y < 0:
        return None
    return row, col


def probe_in_picture(
    frame: Frame, orientation: Orientation, probe: tuple[int, int]
) -> Point | None:
    """The centre of the probed pixel in the oriented picture (the frame's array turned
    and mirrored), None when outside."""
    index = display_index(frame, probe)
    if index is None:
        return None
    rows, cols = frame.values.shape[:2]
    return oriented_point(orientation, (index[0] + 0.5, index[1] + 0.5), (rows, cols))


def probe_at(frame: Frame, orientation: Orientation, point: Point) -> tuple[int, int] | None:
    """The source pixel (x, y) at ``point`` of the oriented picture, None when outside."""
    rows, cols = frame.values.shape[:2]
    row, col = source_point(orientation, point, (rows, cols))
    if not (0 <= row < rows and 0 <= col < cols):
        return None
    scale = frame.scale if frame.scale > 0 else 1.0
    return clamp((math.floor(col / scale), math.floor(row / scale)), source_shape(frame))


def in_array(rendered: Rendered, point: Point) -> Point:
    """``point`` of the oriented picture in the rendered (cropped) array's coordinates."""
    top, left = rendered.region.slices(10**9, 10**9)
    return point[0] - top.start, point[1] - left.start


def in_picture(rendered: Rendered, point: Point) -> Point:
    """The inverse of :func:`in_array`."""
    top, left = rendered.region.slices(10**9, 10**9)
    return point[0] + top.start, point[1] + left.start


def pointer_point(
    pointer: tuple[float, float], box: Box, cell: CellSize, rendered: Rendered
) -> Point | None:
    """The point of the oriented picture under ``pointer`` (x, y in cells of the ImageView,
    e.g. ``3.5`` for the middle of column 3), showing ``rendered`` fitted and centred in
    ``box``; None outside the picture."""
    x, y = pointer
    rows, cols = rendered.array.shape[:2]
    height, width = box_pixels(box, cell)
    if height < 1 or width < 1:
        return None
    inner_h, inner_w = fit_pixels((rows, cols), rendered.aspect, (height, width))
    top, left = (height - inner_h) // 2, (width - inner_w) // 2
    row = ((y - box.y) * cell.height - top) * rows / inner_h
    col = ((x - box.x) * cell.width - left) * cols / inner_w
    if not (0 <= row < rows and 0 <= col < cols):
        return None
    return in_picture(rendered, (row, col))


def probe_text(frame: Frame, probe: tuple[int, int] | None) -> str:
    """``Probe x,y  value unit`` (RGB for colour) and, on a second line, where the pixel is
    in mm (or that there is no calibration); :data:`OUTSIDE` when off the image."""
    index = display_index(frame, probe) if probe is not None else None
    if probe is None or index is None:
        return OUTSIDE
    value = frame.value_at(*index)
    if value is None:
        return OUTSIDE
    if isinstance(value, tuple):
        shown = "RGB " + ",".join(str(v) for v in value)
    else:
        shown = f"{fmt.number(value)} {clean(frame.info.unit)}".strip()
    if frame.scale < 1.0:
        shown = "~" + shown  # the reduced display pixel's value
    x, y = probe
    return f"Probe {x},{y}  {shown}\n{position_text(frame.info, x, y)}"


def centre_probe(frame: Frame, orientation: Orientation, rendered: Rendered) -> tuple[int, int]:
    """The source pixel in the middle of what is on screen (where the probe starts)."""
    region = rendered.region
    middle = (region.top + region.height / 2, region.left + region.width / 2)
    found = probe_at(frame, orientation, middle)
    if found is not None:
        return found
    rows, cols = source_shape(frame)
    return cols // 2, rows // 2
