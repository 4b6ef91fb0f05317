"""What part of an image the viewer shows: orientation, zoom and pan (pure functions).

The ImageView fits whatever array it is given into its cell box, keeping proportions. So the
viewer hands it the *visible region* of the oriented image: the whole image along an axis
where it fits (the ImageView centres it), or a window of the viewport's proportions where the
image is zoomed beyond the viewport. Pan moves that window and stops at the image edges, so
no padding is ever sent. Zoomed out below fit (zoom < 1) the region is the whole image and
the viewer asks the ImageView to draw it at ``zoom`` times its fitted size, centred.

Orientation is applied in screen space: ``display = flip_v(flip_h(rot90_cw^k(image)))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_ZOOM = 0.25
MAX_ZOOM = 32.0


@dataclass(frozen=True)
class Orientation:
    """Quarter turns clockwise, then horizontal and vertical mirror on screen."""

    quarter_turns: int = 0
    flip_h: bool = False
    flip_v: bool = False

    @property
    def degrees(self) -> int:
        """Rotation in degrees clockwise (0, 90, 180, 270)."""
        return (self.quarter_turns % 4) * 90

    def rotated(self, clockwise: bool = True) -> Orientation:
        """Rotate the displayed picture by 90 degrees on screen."""
        step = 1 if clockwise else -1
        if self.flip_h != self.flip_v:
            step = -step
        return Orientation((self.quarter_turns + step) % 4, self.flip_h, self.flip_v)

    def mirrored_h(self) -> Orientation:
        """Mirror the displayed picture left-right."""
        return Orientation(self.quarter_turns, not self.flip_h, self.flip_v)

    def mirrored_v(self) -> Orientation:
        """Mirror the displayed picture top-bottom."""
        return Orientation(self.quarter_turns, self.flip_h, not self.flip_v)

    def apply(self, array: np.ndarray) -> np.ndarray:
        """The oriented picture (a view where possible; H x W or H x W x 3)."""
        out = np.rot90(array, k=-(self.quarter_turns % 4), axes=(0, 1))
        if self.flip_h:
            out = out[:, ::-1]
        if self.flip_v:
            out = out[::-1]
        return out

    def oriented_aspect(self, aspect: float) -> float:
        """Pixel aspect (height / width) after orientation."""
        return 1.0 / aspect if self.quarter_turns % 2 else aspect

    def oriented_shape(self, rows: int, cols: int) -> tuple[int, int]:
        """(rows, cols) after orientation."""
        return (cols, rows) if self.quarter_turns % 2 else (rows, cols)

    def to_source(self, row: float, col: float, rows: int, cols: int) -> tuple[float, float]:
        """Map a pixel of the oriented picture back to (row, col) of the source image.

        ``rows`` x ``cols`` is the size of the *source* image.
        """
        out_rows, out_cols = self.oriented_shape(rows, cols)
        if self.flip_v:
            row = out_rows - 1 - row
        if self.flip_h:
            col = out_cols - 1 - col
        for _ in range(self.quarter_turns % 4):
            # undo one clockwise turn: displayed (r, c) came from source (R - 1 - c, r)
            height = out_cols  # the height of the picture before this turn
            row, col = height - 1 - col, row
            out_rows, out_cols = out_cols, out_rows
        return row, col

    def edge_labels(self, labels: tuple[str, str, str, str]) -> tuple[str, str, str, str]:
        """(top, right, bottom, left) labels of the source moved to where they show."""
        top, right, bottom, left = labels
        for _ in range(self.quarter_turns % 4):
            top, right, bottom, left = left, top, right, bottom
        if self.flip_h:
            left, right = right, left
        if self.flip_v:
            top, bottom = bottom, top
        return top, right, bottom, left


@dataclass(frozen=True)
class Region:
    """The visible part of the oriented picture: rows and columns as float ranges."""

    top: float
    left: float
    height: float
    width: float

    def slices(self, rows: int, cols: int) -> tuple[slice, slice]:
        """Integer slices of a ``rows`` x ``cols`` array covering the region."""
        top = int(np.clip(np.floor(self.top), 0, rows - 1))
        left = int(np.clip(np.floor(self.left), 0, cols - 1))
        bottom = int(np.clip(np.ceil(self.top + self.height), top + 1, rows))
        right = int(np.clip(np.ceil(self.left + self.width), left + 1, cols))
        return slice(top, bottom), slice(left, right)


def fit_scale(shape: tuple[int, int], aspect: float, view: tuple[float, float]) -> float:
    """Screen pixels per image column when the picture just fits ``view`` (height, width px)."""
    rows, cols = shape
    view_h, view_w = view
    if rows < 1 or cols < 1 or view_h <= 0 or view_w <= 0:
        return 1.0
    return min(view_w / cols, view_h / (rows * aspect))


def zoom_percent(
    shape: tuple[int, int], aspect: float, view: tuple[float, float], zoom: float
) -> float:
    """Zoom as a percentage of one image pixel per screen pixel (``view`` in pixels)."""
    return 100.0 * fit_scale(shape, aspect, view) * zoom


def visible_region(
    shape: tuple[int, int],
    aspect: float,
    view: tuple[float, float],
    zoom: float,
    pan: tuple[float, float],
) -> tuple[Region, tuple[float, float]]:
    """The visible region of an oriented ``shape`` picture, and the pan clamped to the edges.

    ``zoom`` is relative to fit; ``pan`` is (rows, cols) of the view centre from the picture
    centre, in image pixels. Along an axis where the picture fits, the whole axis is visible.
    """
    rows, cols = shape
    scale = fit_scale(shape, aspect, view) * zoom
    view_h, view_w = view
    seen_cols = view_w / scale
    seen_rows = view_h / (scale * aspect)
    pan_r, pan_c = pan
    if seen_rows >= rows:
        top, height, pan_r = 0.0, float(rows), 0.0
    else:
        limit = (rows - seen_rows) / 2
        pan_r = float(np.clip(pan_r, -limit, limit))
        top, height = rows / 2 + pan_r - seen_rows / 2, seen_rows
    if seen_cols >= cols:
        left, width, pan_c = 0.0, float(cols), 0.0
    else:
        limit = (cols - seen_cols) / 2
        pan_c = float(np.clip(pan_c, -limit, limit))
        left, width = cols / 2 + pan_c - seen_cols / 2, seen_cols
    return Region(top, left, height, width), (pan_r, pan_c)


def crop(array: np.ndarray, region: Region) -> np.ndarray:
    """The pixels of ``region`` (contiguous, ready for the ImageView)."""
    rows, cols = array.shape[:2]
    r, c = region.slices(rows, cols)
    return np.ascontiguousarray(array[r, c])


def screen_to_region(
    point: tuple[float, float],
    box: tuple[int, int, int, int],
    region: Region,
    cropped: tuple[int, int],
) -> tuple[float, float] | None:
    """Map a cell (x, y) inside the view to a (row, col) of the oriented picture.

    ``box`` is the ImageView's cell box (x, y, cols, rows) showing the ``cropped``
    (rows, cols) array cut from ``region``; None when the point is outside the picture.
    """
    x, y = point
    bx, by, bcols, brows = box
    if bcols < 1 or brows < 1 or not (bx <= x < bx + bcols and by <= y < by + brows):
        return None
    rows, cols = cropped
    r_slice, c_slice = region.slices(10**9, 10**9)
    row = r_slice.start + (y - by + 0.5) * rows / brows
    col = c_slice.start + (x - bx + 0.5) * cols / bcols
    return row, col
