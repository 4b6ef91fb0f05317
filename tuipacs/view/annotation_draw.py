"""Presentation-state annotations, segments and contours drawn into the picture (pure).

Drawn like the measurements (:mod:`tuipacs.view.measure_draw`), on the grid of pixels the
backend shows, so the lines stay one screen pixel (or one half-cell) thin in every backend:
polylines and contours are mapped from source points by the measurements' mapping; a
segment's mask is taken through the same steps as the picture (display scale, orientation,
visible region) and sampled at the grid's pixel centres (nearest), then drawn as its
outline (mask pixels with a 4-neighbour outside it) or as a translucent fill with that
outline. Texts are drawn with PIL's small built-in font, a stack of them (an SR measurement's
label lines) one :data:`TEXT_LINE` below the other.
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
TEXT_LINE = 13
"""Grid pixels from one line of a stack of texts to the next (the small font's height)."""

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


def label_boundary(labels: np.ndarray) -> np.ndarray:
    """The labelled pixels (> 0) with a 4-neighbour of another label (or none, or the
    picture's edge): each segment's outline, where two touch both of theirs."""
    padded = np.pad(labels, 1, constant_values=0)
    centre = padded[1:-1, 1:-1]
    same = (
        (padded[:-2, 1:-1] == centre)
        & (padded[2:, 1:-1] == centre)
        & (padded[1:-1, :-2] == centre)
        & (padded[1:-1, 2:] == centre)
    )
    return (labels > 0) & ~same


def _paint(rgb: np.ndarray, labels: np.ndarray, colours: np.ndarray, mode: str) -> None:
    """Labelled grid pixels painted with ``colours[label]`` (uint16 rows): outline, or a
    translucent fill (integer blend) and the outline."""
    if mode == OFF:
        return
    inside = labels > 0
    if not inside.any():
        return
    if mode == FILL:
        alpha = round(FILL_ALPHA * 256)
        part = rgb[inside].astype(np.uint16)
        ink = colours[labels[inside]]
        rgb[inside] = ((part * (256 - alpha) + ink * alpha) >> 8).astype(np.uint8)
    edge = label_boundary(labels)
    rgb[edge] = colours[labels[edge]].astype(np.uint8)


def draw_mask(
    rgb: np.ndarray, grid_mask: np.ndarray, colour: tuple[int, int, int], mode: str
) -> None:
    """One segment on the grid picture ``rgb`` in place: outline, or fill and outline."""
    colours = np.asarray([(0, 0, 0), colour], dtype=np.uint16)
    _paint(rgb, grid_mask.astype(np.uint16), colours, mode)


def draw_masks(
    rgb: np.ndarray,
    masks: list[Mask],
    labels_to_grid: Callable[[np.ndarray], np.ndarray],
    mode: str,
) -> None:
    """Every segment of an image in one pass, whatever their number: their masks become
    one label image (a later segment over an earlier one where they overlap), taken to
    the grid once, then painted (:func:`_paint`)."""
    if mode == OFF or not masks:
        return
    shape = masks[0].pixels.shape
    labels = np.zeros(shape, dtype=np.uint16)
    colours = np.zeros((len(masks) + 1, 3), dtype=np.uint16)
    for number, mask in enumerate(masks, 1):
        pixels = mask.pixels if mask.pixels.shape == shape else nearest(mask.pixels, shape)
        labels[pixels] = number
        colours[number] = mask.colour
    _paint(rgb, labels_to_grid(labels), colours, mode)


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
    labels_to_grid: Callable[[np.ndarray], np.ndarray],
    *,
    graphics: bool = True,
    segments: str = OUTLINE,
) -> None:
    """Everything of one image on its grid picture ``rgb`` in place: segments (by
    ``segments`` mode; ``labels_to_grid`` takes a source label image to the grid),
    contours (unless segments are off), and GSPS graphics and texts (when ``graphics``)."""
    draw_masks(rgb, found.masks, labels_to_grid, segments)
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
        texts = []
        for label in found.labels:
            row, col = to_grid(label.at)
            texts.append((label.text, (row + label.line * TEXT_LINE, col), label.colour))
        draw_texts(rgb, texts)
