"""The probe: which source pixel lies under a cell of the picture, and its value (pure)."""

from __future__ import annotations

import numpy as np

from tuipacs.view import format as fmt
from tuipacs.view.frames import Frame
from tuipacs.view.layout import Box
from tuipacs.view.render import Rendered
from tuipacs.view.viewport import Orientation, mark_point, screen_to_region

OUTSIDE = "Probe: outside the image"


def probe_hit(cell: tuple[int, int], box: Box, rendered: Rendered) -> tuple[float, float] | None:
    """(row, col) of the oriented picture under ``cell`` (x, y) of the ImageView, showing
    ``rendered`` in ``box``; None when the cell is outside the picture."""
    return screen_to_region(
        cell,
        (box.x, box.y, box.cols, box.rows),
        rendered.region,
        (rendered.array.shape[0], rendered.array.shape[1]),
    )


def source_pixel(
    hit: tuple[float, float], orientation: Orientation, frame: Frame
) -> tuple[int, int]:
    """(row, col) of the frame's (display) array under a point of the oriented picture."""
    rows, cols = frame.values.shape[:2]
    row, col = orientation.to_source(hit[0], hit[1], rows, cols)
    return int(row), int(col)


def probe_text(frame: Frame, pixel: tuple[int, int] | None) -> str:
    """``Probe (x,y): value unit`` for ``pixel`` of ``frame`` (x, y in source pixels)."""
    if pixel is None:
        return OUTSIDE
    row, col = pixel
    value = frame.value_at(row, col)
    if value is None:
        return OUTSIDE
    scale = frame.scale or 1.0
    x, y = int(col / scale), int(row / scale)
    if isinstance(value, tuple):
        shown = "RGB " + ",".join(str(v) for v in value)
    else:
        shown = f"{fmt.number(value)} {frame.info.unit}".strip()
    return f"Probe ({x},{y}): {shown}"


def with_cross(rendered: Rendered, hit: tuple[float, float]) -> np.ndarray:
    """The rendered array with a small cross at ``hit`` (for Sixel, which hides any text
    drawn over the picture)."""
    array = rendered.array
    arm = max(2, min(array.shape[:2]) // 40)
    top, left = rendered.region.slices(10**9, 10**9)
    return mark_point(array, int(hit[0]) - top.start, int(hit[1]) - left.start, arm)
