"""Measurements drawn into the picture, like the probe's crosshair (pure).

Text over a picture hides pixels (and a Sixel picture erases it), so lines, outlines and
numbers are drawn into the picture itself, on the grid of pixels the backend shows
(:func:`tuipacs.view.crosshair.grid_of`): one screen pixel thick in Sixel and Kitty, one
half-cell in half-cell blocks, exact in every backend. A source point goes to the grid as
the probe does: the display array (:attr:`Frame.scale`), the oriented picture
(:func:`tuipacs.view.probe.oriented_point`), the visible crop (:func:`in_array`), then the
grid's scale. Outlines are clipped to the picture before they are drawn, so a measurement
far outside a zoomed view costs nothing.

Each finished measurement is drawn in :data:`COLOUR` and numbered next to its first point
with a small bitmap digit font (:data:`DIGITS`); the one being placed is drawn in
:data:`PENDING_COLOUR`, with a line from its last point to the probe.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from tuipacs.imaging.resample import resize
from tuipacs.view.crosshair import draw_crosshair, grid_of
from tuipacs.view.layout import Box, CellSize
from tuipacs.view.measure import ANGLE, ELLIPSE, LENGTH, RECT, Measurement, Point, roi_box
from tuipacs.view.probe import oriented_point
from tuipacs.view.viewport import Orientation

COLOUR = (255, 200, 0)
"""Amber: finished measurements (the crosshair is green)."""
PENDING_COLOUR = (80, 190, 255)
"""Light blue: the measurement being placed."""
SHADOW = (0, 0, 0)
SMALL_GRID = 240
"""A grid smaller than this (either side) is coarse: numbers are drawn without a box."""
ELLIPSE_SEGMENTS = 96
"""Straight segments an ellipse outline is drawn with."""

DIGITS = {
    "0": ("111", "101", "101", "101", "111"),
    "1": ("010", "110", "010", "010", "111"),
    "2": ("111", "001", "111", "100", "111"),
    "3": ("111", "001", "111", "001", "111"),
    "4": ("101", "101", "111", "001", "001"),
    "5": ("111", "100", "111", "001", "111"),
    "6": ("111", "100", "111", "101", "111"),
    "7": ("111", "001", "010", "010", "010"),
    "8": ("111", "101", "111", "101", "111"),
    "9": ("111", "101", "111", "001", "111"),
}
"""A 3 x 5 pixel font for the measurement numbers."""

GridPoint = tuple[float, float]
"""(row, col) in grid pixels, continuous."""


@dataclass(frozen=True)
class Drawing:
    """What to draw on one picture, in grid pixels: polylines (closed or not) with their
    colour, and numbers at points."""

    lines: tuple[tuple[tuple[GridPoint, ...], bool, tuple[int, int, int]], ...] = ()
    labels: tuple[tuple[str, GridPoint, tuple[int, int, int]], ...] = ()


def outline(measurement: Measurement) -> list[tuple[list[Point], bool]]:
    """The outline of ``measurement`` in source coordinates (x, y; pixel centres at whole
    numbers): its polylines and whether each is closed."""
    points = list(measurement.points)
    if measurement.kind in (LENGTH, ANGLE):
        return [(points, False)]
    box = roi_box(points[0], points[1])
    if measurement.kind == RECT:
        corners = [
            (box.left, box.top),
            (box.right, box.top),
            (box.right, box.bottom),
            (box.left, box.bottom),
        ]
        return [(corners, True)]
    (cx, cy), (ax, ay) = box.centre, box.radii
    turns = [2 * math.pi * i / ELLIPSE_SEGMENTS for i in range(ELLIPSE_SEGMENTS)]
    return [([(cx + ax * math.cos(t), cy + ay * math.sin(t)) for t in turns], True)]


def pending_outline(kind: str, points: Sequence[Point], cursor: Point | None) -> list[Point]:
    """The part of a measurement being placed: its points and the cursor (the probe), as
    one polyline (for an ROI: the box so far drawn as its outline's corners)."""
    chain = [*points, *([cursor] if cursor is not None else [])]
    if kind in (RECT, ELLIPSE) and len(chain) == 2:
        box = roi_box(chain[0], chain[1])
        return [
            (box.left, box.top),
            (box.right, box.top),
            (box.right, box.bottom),
            (box.left, box.bottom),
            (box.left, box.top),
        ]
    return chain


def source_mapper(
    array_shape: tuple[int, int],
    scale: float,
    orientation: Orientation,
    crop_origin: tuple[int, int],
    grid_scale: tuple[float, float],
) -> Callable[[Point], GridPoint]:
    """A function from a source point (x, y) to the grid: the frame's display array of
    ``array_shape`` (reduced ``scale`` times), turned by ``orientation``, cropped at
    ``crop_origin`` (top, left of the visible region), on a grid of ``grid_scale`` (rows,
    cols) grid pixels per array pixel."""
    scale = scale if scale > 0 else 1.0

    def to_grid(point: Point) -> GridPoint:
        x, y = point
        row, col = (y + 0.5) * scale, (x + 0.5) * scale
        row, col = oriented_point(orientation, (row, col), array_shape)
        return (row - crop_origin[0]) * grid_scale[0], (col - crop_origin[1]) * grid_scale[1]

    return to_grid


def plan(
    measurements: Sequence[Measurement],
    pending: tuple[str, Sequence[Point]] | None,
    cursor: Point | None,
    to_grid: Callable[[Point], GridPoint],
) -> Drawing:
    """What to draw: each measurement's outline and number, the pending one to the cursor."""
    lines: list[tuple[tuple[GridPoint, ...], bool, tuple[int, int, int]]] = []
    labels: list[tuple[str, GridPoint, tuple[int, int, int]]] = []
    for number, item in enumerate(measurements, 1):
        for polyline, closed in outline(item):
            lines.append((tuple(to_grid(p) for p in polyline), closed, COLOUR))
        labels.append((str(number), to_grid(item.points[0]), COLOUR))
    if pending is not None:
        kind, points = pending
        chain = pending_outline(kind, points, cursor)
        if len(chain) >= 2:
            lines.append((tuple(to_grid(p) for p in chain), False, PENDING_COLOUR))
        for point in points:  # a mark on each point placed (a lone first point too)
            row, col = to_grid(point)
            for d_r, d_c in ((-2, 0), (2, 0), (0, -2), (0, 2)):
                lines.append((((row, col), (row + d_r, col + d_c)), False, PENDING_COLOUR))
    return Drawing(tuple(lines), tuple(labels))


def clip_segment(
    p: GridPoint, q: GridPoint, rows: int, cols: int
) -> tuple[GridPoint, GridPoint] | None:
    """The part of segment ``p``-``q`` inside ``[0, rows) x [0, cols)`` (Liang-Barsky),
    None when none of it is."""
    (r0, c0), (r1, c1) = p, q
    if not all(math.isfinite(v) for v in (r0, c0, r1, c1)):
        return None
    d_r, d_c = r1 - r0, c1 - c0
    low, high = 0.0, 1.0
    for edge_p, edge_q in (
        (-d_c, c0),
        (d_c, cols - 1e-6 - c0),
        (-d_r, r0),
        (d_r, rows - 1e-6 - r0),
    ):
        if edge_p == 0:
            if edge_q < 0:
                return None
            continue
        t = edge_q / edge_p
        if edge_p < 0:
            low = max(low, t)
        else:
            high = min(high, t)
        if low > high:
            return None
    return (r0 + low * d_r, c0 + low * d_c), (r0 + high * d_r, c0 + high * d_c)


def draw_segment(rgb: np.ndarray, p: GridPoint, q: GridPoint, colour: tuple[int, int, int]) -> None:
    """A one-pixel line from ``p`` to ``q`` (continuous grid coordinates), clipped."""
    draw_segments(rgb, [(p, q)], colour)


def draw_segments(
    rgb: np.ndarray, segments: Sequence[tuple[GridPoint, GridPoint]], colour: tuple[int, int, int]
) -> None:
    """One-pixel lines (continuous grid coordinates), clipped, all in one numpy pass."""
    rows, cols = rgb.shape[:2]
    kept = [c for c in (clip_segment(p, q, rows, cols) for p, q in segments) if c is not None]
    if not kept:
        return
    ends = np.asarray([(p[0], p[1], q[0], q[1]) for p, q in kept], dtype=np.float64)
    r0, c0, d_r, d_c = ends[:, 0], ends[:, 1], ends[:, 2] - ends[:, 0], ends[:, 3] - ends[:, 1]
    steps = np.maximum(1, np.ceil(np.maximum(np.abs(d_r), np.abs(d_c)))).astype(np.int64)
    counts = steps + 1
    which = np.repeat(np.arange(len(kept)), counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    t = (np.arange(int(counts.sum())) - first) / steps[which]
    rr = np.clip(np.floor(r0[which] + t * d_r[which]).astype(np.int64), 0, rows - 1)
    cc = np.clip(np.floor(c0[which] + t * d_c[which]).astype(np.int64), 0, cols - 1)
    rgb[rr, cc] = np.asarray(colour, dtype=np.uint8)


def label_size(size: tuple[int, int]) -> int:
    """Grid pixels per font pixel for a picture of ``size``: larger on larger pictures."""
    return max(1, round(min(size) / 300))


def draw_label(rgb: np.ndarray, text: str, at: GridPoint, colour: tuple[int, int, int]) -> None:
    """``text`` (digits) in the 3 x 5 font, up and left of ``at``: on a black box, but
    without one on a coarse grid (half-cell blocks), where the box would hide cells."""
    rows, cols = rgb.shape[:2]
    unit = label_size((rows, cols))
    glyphs = [DIGITS[c] for c in text if c in DIGITS]
    if not glyphs:
        return
    width = (4 * len(glyphs) + 1) * unit
    height = 7 * unit
    top = math.floor(at[0]) - height - 2 * unit
    left = math.floor(at[1]) - width - 2 * unit
    if top < 0:
        top = math.floor(at[0]) + 2 * unit
    if left < 0:
        left = math.floor(at[1]) + 2 * unit
    if top >= rows or left >= cols or top + height <= 0 or left + width <= 0:
        return
    box = np.zeros((height, width, 3), dtype=np.uint8)
    box[:] = np.asarray(SHADOW, dtype=np.uint8)
    keep = np.zeros((height, width), dtype=bool)
    if min(rows, cols) >= SMALL_GRID:
        keep[:] = True  # a black box behind the digits
    ink = np.asarray(colour, dtype=np.uint8)
    for index, glyph in enumerate(glyphs):
        for g_row, line in enumerate(glyph):
            for g_col, bit in enumerate(line):
                if bit == "1":
                    r = (1 + g_row) * unit
                    c = (1 + 4 * index + g_col) * unit
                    box[r : r + unit, c : c + unit] = ink
                    keep[r : r + unit, c : c + unit] = True
    r0, c0 = max(0, top), max(0, left)
    r1, c1 = min(rows, top + height), min(cols, left + width)
    part = (slice(r0 - top, r1 - top), slice(c0 - left, c1 - left))
    target = rgb[r0:r1, c0:c1]
    target[keep[part]] = box[part][keep[part]]


def draw(rgb: np.ndarray, drawing: Drawing) -> None:
    """Draw ``drawing`` into the RGB grid picture ``rgb`` in place."""
    by_colour: dict[tuple[int, int, int], list[tuple[GridPoint, GridPoint]]] = {}
    for polyline, closed, colour in drawing.lines:
        points = [*polyline, polyline[0]] if closed and len(polyline) > 2 else list(polyline)
        by_colour.setdefault(colour, []).extend(zip(points, points[1:], strict=False))
    for colour, segments in by_colour.items():
        draw_segments(rgb, segments, colour)
    for text, at, colour in drawing.labels:
        draw_label(rgb, text, at, colour)


def grid_pixels(
    array: np.ndarray, aspect: float, backend: str, box: Box, cell: CellSize
) -> tuple[np.ndarray, float, tuple[float, float]]:
    """``array`` on the crosshair's grid (:func:`grid_of`) as RGB, its aspect, and the grid
    pixels per array pixel (rows, cols)."""
    rows, cols = array.shape[:2]
    grid = grid_of(backend, (rows, cols), aspect, box, cell)
    if grid.repeat > 1:
        pixels = np.repeat(np.repeat(array, grid.repeat, axis=0), grid.repeat, axis=1)
    else:
        pixels = resize(array, grid.size)
    rgb = np.repeat(pixels[..., None], 3, axis=2) if pixels.ndim == 2 else pixels.copy()
    height, width = grid.size
    return rgb, grid.aspect, (height / rows, width / cols)


def annotated(
    array: np.ndarray,
    aspect: float,
    backend: str,
    box: Box,
    cell: CellSize,
    drawing_of: Callable[[tuple[float, float]], Drawing],
    probe: GridPoint | None = None,
    under: Callable[[np.ndarray, tuple[float, float]], None] | None = None,
) -> tuple[np.ndarray, float]:
    """``array`` on its grid with the drawing ``drawing_of(grid scale)`` and, when
    ``probe`` (row, col of ``array``, continuous) is in it, the crosshair on that pixel;
    ``under(rgb, grid scale)`` draws first (a study's annotations, under the measurements)."""
    rgb, grid_aspect, grid_scale = grid_pixels(array, aspect, backend, box, cell)
    if under is not None:
        under(rgb, grid_scale)
    draw(rgb, drawing_of(grid_scale))
    rows, cols = array.shape[:2]
    if probe is not None:
        row, col = math.floor(probe[0]), math.floor(probe[1])
        if 0 <= row < rows and 0 <= col < cols:
            s_r, s_c = grid_scale
            footprint = (row * s_r, col * s_c, (row + 1) * s_r, (col + 1) * s_c)
            rgb = draw_crosshair(rgb, footprint)
    return rgb, grid_aspect
