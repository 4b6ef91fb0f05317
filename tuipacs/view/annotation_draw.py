"""Presentation-state annotations, segments and contours drawn into the picture (pure).

Drawn like the measurements (:mod:`tuipacs.view.measure_draw`), on the grid of pixels the
backend shows, so the lines stay one screen pixel (or one half-cell) thin in every backend:
polylines and contours are mapped from source points by the measurements' mapping; a
segment's mask is taken through the same steps as the picture (display scale, orientation,
visible region) and sampled at the grid's pixel centres (nearest), then drawn as its
outline (mask pixels with a 4-neighbour outside it) or as a translucent fill with that
outline. Texts are drawn with PIL's small built-in font.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from tuipacs.view.annotations import Graphic, ImageAnnotations, Mask
from tuipacs.view.measure_draw import Drawing, GridPoint, draw
from tuipacs.view.viewport import Orientation, Region

OUTLINE = "outline"
FILL = "fill"
OFF = "off"
SEGMENT_MODES = (OUTLINE, FILL, OFF)
"""How segments show, in the order the key cycles them."""
FILL_ALPHA = 0.35
"""Opacity of a segment's fill."""

SourceToGrid = Callable[[tuple[float, float]], GridPoint]


def next_mode(mode: str) -> str:
    """The segment display after ``mode`` (outline, fill, off, outline ...)."""
    index = SEGMENT_MODES.index(mode) if mode in SEGMENT_MODES else -1
    return SEGMENT_MODES[(index + 1) % len(SEGMENT_MODES)]


def nearest(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``array`` sampled at the centres of a ``size`` (rows, cols) grid (nearest pixel)."""
    rows, cols = array.shape[:2]
    r_idx = np.minimum(((np.arange(size[0]) + 0.5) * rows / size[0]).astype(np.int64), rows - 1)
    c_idx = np.minimum(((np.arange(size[1]) + 0.5) * cols / size[1]).astype(np.int64), cols - 1)
    return array[np.ix_(r_idx, c_idx)]


def mask_on_grid(
    mask: np.ndarray,
    values_shape: tuple[int, int],
    orientation: Orientation,
    region: Region,
    grid_size: tuple[int, int],
) -> np.ndarray:
    """A source ``mask`` as the picture shows it: at the display array's ``values_shape``
    (a reduced big image), oriented, cut to the visible ``region``, on the grid."""
    if mask.shape != values_shape:
        mask = nearest(mask, values_shape)
    oriented = orientation.apply(mask)
    rows, cols = oriented.shape
    r_slice, c_slice = region.slices(rows, cols)
    return nearest(oriented[r_slice, c_slice], grid_size)


def boundary(mask: np.ndarray) -> np.ndarray:
    """The pixels of ``mask`` with a 4-neighbour outside it (the picture's edge counts as
    outside)."""
    padded = np.pad(mask, 1, constant_values=False)
    inner = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:] & mask
    return mask & ~inner


def draw_mask(
    rgb: np.ndarray, grid_mask: np.ndarray, colour: tuple[int, int, int], mode: str
) -> None:
    """One segment on the grid picture ``rgb`` in place: outline, or fill and outline."""
    if mode == OFF or not grid_mask.any():
        return
    ink = np.asarray(colour, dtype=np.float64)
    if mode == FILL:
        part = rgb[grid_mask].astype(np.float64)
        rgb[grid_mask] = np.round(part * (1 - FILL_ALPHA) + ink * FILL_ALPHA).astype(np.uint8)
    rgb[boundary(grid_mask)] = ink.astype(np.uint8)


def draw_texts(rgb: np.ndarray, texts: list[tuple[str, GridPoint, tuple[int, int, int]]]) -> None:
    """Texts at their anchors (clipped to the picture), in place."""
    if not texts:
        return
    picture = Image.fromarray(rgb)
    pen = ImageDraw.Draw(picture)
    font = ImageFont.load_default()
    for text, (row, col), colour in texts:
        pen.text((col + 1, row + 1), text, fill=(0, 0, 0), font=font)
        pen.text((col, row), text, fill=colour, font=font)
    rgb[:] = np.asarray(picture)


def draw_image_annotations(
    rgb: np.ndarray,
    found: ImageAnnotations,
    to_grid: SourceToGrid,
    mask_to_grid: Callable[[Mask], np.ndarray],
    *,
    graphics: bool = True,
    segments: str = OUTLINE,
) -> None:
    """Everything of one image on its grid picture ``rgb`` in place: segments (by
    ``segments`` mode), contours (unless segments are off), and GSPS graphics and texts
    (when ``graphics``)."""
    if segments != OFF:
        for mask in found.masks:
            draw_mask(rgb, mask_to_grid(mask), mask.colour, segments)
    lines: list[Graphic] = []
    if segments != OFF:
        lines.extend(found.contours)
    if graphics:
        lines.extend(found.graphics)
    if lines:
        drawn = tuple(
            (tuple(to_grid(p) for p in g.points), g.closed, g.colour)
            for g in lines
            if len(g.points) >= 2
        )
        draw(rgb, Drawing(drawn, ()))
    if graphics and found.labels:
        draw_texts(rgb, [(label.text, to_grid(label.at), label.colour) for label in found.labels])
