"""Viewport maths: fit, zoom about a point, pan, rotate, flip, pixel aspect, probing.

Coordinates are continuous: image pixel (column c, row r) covers [c, c+1) x [r, r+1),
and so does screen pixel (x, y) of the output. A :class:`Viewport` is immutable;
every operation returns a new one. The mapping image -> screen is::

    screen = size / 2 + scale * Flip * Rotate * (x - cx, (y - cy) * aspect)

where ``aspect`` is the displayed height / width of one pixel (from Pixel Spacing),
``scale`` is the fit scale times ``zoom`` and (cx, cy) is the image point shown at the
centre of the output. Panning and zooming about a point keep (cx, cy) inside the image, so
the picture never leaves the output entirely.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset

from tuipacs.imaging.modality import functional_group_item
from tuipacs.imaging.voi import Window, to_uint8

Size = tuple[int, int]
"""Output size in pixels: (width, height)."""

_ROTATIONS = (
    np.array([[1.0, 0.0], [0.0, 1.0]]),
    np.array([[0.0, -1.0], [1.0, 0.0]]),
    np.array([[-1.0, 0.0], [0.0, -1.0]]),
    np.array([[0.0, 1.0], [-1.0, 0.0]]),
)
"""Quarter turns clockwise on screen (y grows downwards)."""


def _pair(value: object) -> tuple[float, float] | None:
    """Two positive floats from a multi-valued attribute, or None."""
    if value is None or isinstance(value, str | bytes):
        return None
    try:
        first, second = (float(v) for v in list(value)[:2])  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None
    if first <= 0 or second <= 0 or not (math.isfinite(first) and math.isfinite(second)):
        return None
    return first, second


def pixel_spacing(ds: Dataset, index: int = 0) -> tuple[float, float] | None:
    """(row, column) spacing in mm: Pixel Measures macro, Pixel Spacing, Imager Pixel Spacing."""
    item = functional_group_item(ds, index, "PixelMeasuresSequence")
    for source, keyword in (
        (item, "PixelSpacing"),
        (ds, "PixelSpacing"),
        (ds, "ImagerPixelSpacing"),
        (ds, "NominalScannedPixelSpacing"),
    ):
        if source is not None:
            found = _pair(source.get(keyword))
            if found is not None:
                return found
    return None


def pixel_aspect(ds: Dataset, index: int = 0) -> float:
    """Displayed height / width of one pixel: from spacing, else Pixel Aspect Ratio, else 1."""
    spacing = pixel_spacing(ds, index)
    if spacing is not None:
        return spacing[0] / spacing[1]
    ratio = _pair(ds.get("PixelAspectRatio"))
    if ratio is not None:
        return ratio[0] / ratio[1]
    return 1.0


@dataclass(frozen=True)
class Viewport:
    """How an image of ``columns`` x ``rows`` pixels sits in an output area."""

    columns: int
    rows: int
    aspect: float = 1.0
    zoom: float = 1.0
    center_x: float | None = None
    center_y: float | None = None
    rotation: int = 0
    flip_h: bool = False
    flip_v: bool = False

    @property
    def center(self) -> tuple[float, float]:
        """Image point (x, y) shown at the centre of the output."""
        cx = self.columns / 2 if self.center_x is None else self.center_x
        cy = self.rows / 2 if self.center_y is None else self.center_y
        return cx, cy

    def _linear(self) -> np.ndarray:
        """2x2 matrix from image offsets to screen offsets, before scaling."""
        aspect = np.diag([1.0, self.aspect])
        flip = np.diag([-1.0 if self.flip_h else 1.0, -1.0 if self.flip_v else 1.0])
        return flip @ _ROTATIONS[self.rotation % 4] @ aspect

    def displayed_size(self) -> tuple[float, float]:
        """(width, height) of the whole image on screen at scale 1."""
        w, h = float(self.columns), float(self.rows) * self.aspect
        return (h, w) if self.rotation % 2 else (w, h)

    def fit_scale(self, size: Size) -> float:
        """Scale at which the whole image just fits ``size``."""
        dw, dh = self.displayed_size()
        return min(size[0] / dw, size[1] / dh)

    def scale(self, size: Size) -> float:
        """Screen pixels per image unit at the current zoom."""
        return self.fit_scale(size) * self.zoom

    def matrix(self, size: Size) -> np.ndarray:
        """3x3 homogeneous matrix mapping image (x, y) to screen (x, y)."""
        linear = self._linear() * self.scale(size)
        cx, cy = self.center
        offset = np.array([size[0] / 2, size[1] / 2]) - linear @ np.array([cx, cy])
        out = np.eye(3)
        out[:2, :2] = linear
        out[:2, 2] = offset
        return out

    def to_screen(self, x: float, y: float, size: Size) -> tuple[float, float]:
        """Screen position of image point (x, y)."""
        sx, sy, _ = self.matrix(size) @ np.array([x, y, 1.0])
        return float(sx), float(sy)

    def to_image(self, sx: float, sy: float, size: Size) -> tuple[float, float]:
        """Image point (x, y) under screen position (sx, sy)."""
        x, y, _ = np.linalg.inv(self.matrix(size)) @ np.array([sx, sy, 1.0])
        return float(x), float(y)

    def pixel_at(self, sx: float, sy: float, size: Size) -> tuple[int, int] | None:
        """(column, row) of the image pixel under screen pixel (sx, sy), or None if outside.

        ``sx``/``sy`` may be integer pixel indices: their centre is probed.
        """
        px = sx + 0.5 if isinstance(sx, int) else sx
        py = sy + 0.5 if isinstance(sy, int) else sy
        x, y = self.to_image(px, py, size)
        col, row = math.floor(x), math.floor(y)
        if 0 <= col < self.columns and 0 <= row < self.rows:
            return col, row
        return None

    def clamped(self) -> Viewport:
        """The same view with the centre moved inside the image (part of it stays visible)."""
        if self.center_x is None and self.center_y is None:
            return self
        cx, cy = self.center
        x = min(max(cx, 0.0), float(self.columns))
        y = min(max(cy, 0.0), float(self.rows))
        if (x, y) == (cx, cy):
            return self
        return replace(self, center_x=x, center_y=y)

    def fit(self) -> Viewport:
        """Whole image, centred (rotation and flips kept)."""
        return replace(self, zoom=1.0, center_x=None, center_y=None)

    def zoomed(self, factor: float, about: tuple[float, float] | None, size: Size) -> Viewport:
        """Zoom by ``factor`` keeping the image point under screen point ``about`` fixed
        (as far as the centre of the view stays inside the image)."""
        zoom = min(max(self.zoom * factor, 0.05), 200.0)
        if about is None:
            return replace(self, zoom=zoom)
        ix, iy = self.to_image(about[0], about[1], size)
        moved = replace(self, zoom=zoom)
        nx, ny = moved.to_image(about[0], about[1], size)
        cx, cy = self.center
        return replace(moved, center_x=cx + ix - nx, center_y=cy + iy - ny).clamped()

    def panned(self, dx: float, dy: float, size: Size) -> Viewport:
        """Move the picture by (dx, dy) screen pixels, stopping with the image's edge at the
        centre of the output (the picture never leaves the screen)."""
        ax, ay = self.to_image(size[0] / 2 - dx, size[1] / 2 - dy, size)
        return replace(self, center_x=ax, center_y=ay).clamped()

    def rotated(self, quarters: int = 1) -> Viewport:
        """Rotate the picture by ``quarters`` quarter turns clockwise (negative: anticlockwise)."""
        return replace(self, rotation=(self.rotation + quarters) % 4)

    def flipped_horizontal(self) -> Viewport:
        """Mirror the picture left-right on screen."""
        return replace(self, flip_h=not self.flip_h)

    def flipped_vertical(self) -> Viewport:
        """Mirror the picture top-bottom on screen."""
        return replace(self, flip_v=not self.flip_v)

    @classmethod
    def for_dataset(cls, ds: Dataset, index: int = 0) -> Viewport:
        """A fitted viewport for ``ds`` with its pixel aspect."""
        return cls(int(ds.Columns), int(ds.Rows), pixel_aspect(ds, index))


def _reduce_factor(viewport: Viewport, size: Size) -> int:
    """Integer box-filter factor to apply before resampling down (1 = none)."""
    scale = viewport.scale(size) * min(1.0, viewport.aspect)
    return max(1, int(1.0 / scale)) if scale < 0.5 else 1


def _to_pil(image: np.ndarray) -> Image.Image:
    """PIL image of a grey uint8, RGB uint8 or float array."""
    if image.ndim == 3:
        return Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8), "RGB")
    if image.dtype == np.uint8:
        return Image.fromarray(np.ascontiguousarray(image), "L")
    return Image.fromarray(np.ascontiguousarray(image, dtype=np.float32), "F")


def resample(
    image: np.ndarray,
    viewport: Viewport,
    size: Size,
    *,
    smooth: bool = True,
    fill: float = 0.0,
) -> np.ndarray:
    """``image`` (grey uint8, RGB uint8 or modality values) as seen through ``viewport``.

    Returns an array of ``size`` (width, height): uint8 for uint8 input, float32
    for values. Large reductions box-filter first (PIL ``reduce``) so thin lines do
    not alias; then one affine resampling (bilinear, or nearest with ``smooth=False``).
    """
    width, height = int(size[0]), int(size[1])
    pil = _to_pil(image)
    k = _reduce_factor(viewport, (width, height)) if smooth else 1
    if k > 1:
        pil = pil.reduce(k)
    inverse = np.linalg.inv(viewport.matrix((width, height)))
    if k > 1:
        inverse = np.diag([1.0 / k, 1.0 / k, 1.0]) @ inverse
    coeffs = tuple(float(v) for v in inverse[:2].reshape(-1))
    method = Image.Resampling.BILINEAR if smooth else Image.Resampling.NEAREST
    fill_value: float | tuple[int, ...] = float(fill) if pil.mode == "F" else int(fill)
    if pil.mode == "RGB":
        fill_value = (int(fill),) * 3
    out = pil.transform(
        (width, height), Image.Transform.AFFINE, coeffs, resample=method, fillcolor=fill_value
    )
    return np.asarray(out)


def display_image(
    image: np.ndarray,
    viewport: Viewport,
    size: Size,
    window: Window | tuple[float, float] | None = None,
    *,
    invert: bool = False,
    smooth: bool = True,
) -> np.ndarray:
    """The display-sized uint8 image (grey or RGB) for ``viewport`` and ``size``.

    ``image`` is a full-size uint8 picture (grey or RGB) or grey modality values.
    For values, give ``window`` (a :class:`~tuipacs.imaging.voi.Window` or
    (center, width)): they are resampled first and windowed after, so changing the
    window costs one pass over the display-sized array only. Pixels outside the
    image are black.
    """
    if image.ndim == 3 or image.dtype == np.uint8:
        return resample(image, viewport, size, smooth=smooth)
    if window is None:
        raise ValueError("a window is needed to display modality values")
    inside = resample(np.ones(image.shape, np.uint8), viewport, size, smooth=False)
    values = resample(image, viewport, size, smooth=smooth)
    grey = to_uint8(values, window, None, invert)
    grey[inside == 0] = 0
    return grey


@dataclass(frozen=True)
class Probe:
    """What lies under a screen position: the image pixel and its modality value."""

    column: int
    row: int
    value: float | tuple[int, ...]

    def label(self, unit: str = "") -> str:
        """Text for a status line, e.g. ``(120, 88) = -998 HU``."""
        if isinstance(self.value, tuple):
            shown = " ".join(str(v) for v in self.value)
        else:
            shown = f"{self.value:g}"
        return f"({self.column}, {self.row}) = {shown}{' ' + unit if unit else ''}"


def probe(values: np.ndarray, viewport: Viewport, sx: float, sy: float, size: Size) -> Probe | None:
    """The pixel under screen position (sx, sy) and its value (HU for CT), or None outside."""
    hit = viewport.pixel_at(sx, sy, size)
    if hit is None:
        return None
    col, row = hit
    sample = values[row, col]
    if np.ndim(sample):
        return Probe(col, row, tuple(int(v) for v in np.ravel(sample)))
    return Probe(col, row, float(sample))
