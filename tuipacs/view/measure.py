"""Measurements on one image (pure: no Textual): length, angle, rectangle and ellipse ROIs.

Points are *source* pixel coordinates ``(x, y)`` = (column, row) as DICOM counts them, with
pixel centres at whole numbers (as :mod:`tuipacs.view.probe_geometry`): the probe's pixel
``(x, y)`` is the point ``(x, y)``. So a measurement stays on the anatomy whatever the
zoom, pan, rotation or flips.

- **Length** (2 points): the distance between the two pixel centres, in mm when the image
  is calibrated (anisotropic spacing: ``dx * column spacing``, ``dy * row spacing``), else
  in pixels with the warning :data:`UNCALIBRATED`.
- **Angle** (3 points, the vertex second): the angle between the two arms in degrees, in mm
  space (so a non-square pixel does not bend it), in pixel space without calibration.
- **Rectangle** and **ellipse** ROIs (2 corner pixels): the box from the outer edges of the
  two corner pixels (``min - 0.5`` to ``max + 0.5`` each way). A pixel is inside when its
  centre is: for the rectangle every pixel between the corners inclusive, for the ellipse
  the pixels whose centre is inside the ellipse inscribed in the box. Statistics are over
  the frame's modality values (HU for CT): mean, SD (population: divided by N), min, max,
  the pixel count and the area (count x pixel area, in mm² or px²).

The calibration comes from the file and is untrusted: a spacing that is not a finite
number within [:data:`MIN_SPACING`, :data:`MAX_SPACING`] mm counts as none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tuipacs.safe_text import clean
from tuipacs.view.info import FrameInfo

LENGTH, ANGLE, RECT, ELLIPSE = "length", "angle", "rect", "ellipse"
TOOLS = (LENGTH, ANGLE, RECT, ELLIPSE)
"""The measurement tools, in the order the tool key cycles through them."""
POINTS = {LENGTH: 2, ANGLE: 3, RECT: 2, ELLIPSE: 2}
"""Points each kind takes."""
TITLES = {LENGTH: "Length", ANGLE: "Angle", RECT: "Rectangle", ELLIPSE: "Ellipse"}

MIN_SPACING = 1e-6
"""Smallest pixel spacing (mm) taken as a calibration (a micrometre: microscopy is larger)."""
MAX_SPACING = 1000.0
"""Largest pixel spacing (mm) taken as a calibration."""
UNCALIBRATED = "uncalibrated: pixels"
"""The warning shown with a measurement of an image without a usable pixel spacing."""
WHERE = {
    "PixelSpacing": "in the patient",
    "ImagerPixelSpacing": "at the detector",
    "NominalScannedPixelSpacing": "scanned film",
}
"""Where a calibration measures, by the attribute it came from."""
MAX_POINT = 1e7
"""Coordinates beyond this (either way) are refused (no image is that large)."""


@dataclass(frozen=True)
class Calibration:
    """The pixel spacing a measurement uses: ``spacing`` (row, column) in mm and the
    attribute it came from, or no spacing (pixels)."""

    spacing: tuple[float, float] | None = None
    source: str = ""

    @property
    def calibrated(self) -> bool:
        """True when lengths are in mm."""
        return self.spacing is not None

    @property
    def unit(self) -> str:
        """``mm`` or ``px``."""
        return "mm" if self.calibrated else "px"

    def describe(self) -> str:
        """``PixelSpacing, in the patient`` / ``ImagerPixelSpacing, at the detector`` /
        :data:`UNCALIBRATED`."""
        if self.spacing is None:
            return UNCALIBRATED
        where = WHERE.get(self.source, "")
        return f"{clean(self.source)}, {where}" if where else clean(self.source)


def _valid_spacing(value: float) -> bool:
    return (
        isinstance(value, int | float)
        and math.isfinite(value)
        and (MIN_SPACING <= value <= MAX_SPACING)
    )


def calibration_of(spacing: object, source: str = "PixelSpacing") -> Calibration:
    """The calibration for ``spacing`` (row, column mm) from attribute ``source``; none
    (pixels) when the spacing is missing, not two numbers, or out of range."""
    if not isinstance(spacing, tuple | list) or len(spacing) != 2:
        return Calibration()
    try:
        row, col = float(spacing[0]), float(spacing[1])
    except (TypeError, ValueError):
        return Calibration()
    if not (_valid_spacing(row) and _valid_spacing(col)):
        return Calibration()
    return Calibration((row, col), source or "PixelSpacing")


def calibration(info: FrameInfo) -> Calibration:
    """The calibration of the image described by ``info``."""
    return calibration_of(info.pixel_spacing, info.spacing_kind)


Point = tuple[float, float]
"""(x, y): column, row of the source image; pixel centres at whole numbers."""


@dataclass(frozen=True)
class Measurement:
    """One measurement: its ``kind`` (:data:`TOOLS`) and points (source ``(x, y)``)."""

    kind: str
    points: tuple[Point, ...]

    def __post_init__(self) -> None:
        if self.kind not in POINTS:
            raise ValueError(f"unknown measurement {self.kind!r}")
        if len(self.points) != POINTS[self.kind]:
            raise ValueError(f"a {self.kind} takes {POINTS[self.kind]} points")
        for x, y in self.points:
            if not (math.isfinite(x) and math.isfinite(y)):
                raise ValueError("a measurement point must be finite")
            if abs(x) > MAX_POINT or abs(y) > MAX_POINT:
                raise ValueError("a measurement point is outside any image")


def _scaled(cal: Calibration, a: Point, b: Point) -> tuple[float, float]:
    """The vector from ``a`` to ``b`` in mm (x, y), or pixels without calibration."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    if cal.spacing is None:
        return dx, dy
    return dx * cal.spacing[1], dy * cal.spacing[0]


def length(cal: Calibration, a: Point, b: Point) -> float:
    """The distance from ``a`` to ``b`` in mm (pixels without calibration)."""
    dx, dy = _scaled(cal, a, b)
    return math.hypot(dx, dy)


def angle(cal: Calibration, a: Point, vertex: Point, c: Point) -> float | None:
    """The angle at ``vertex`` between the arms to ``a`` and ``c``, in degrees (0 to 180),
    measured in mm space; None when an arm has no length."""
    ux, uy = _scaled(cal, vertex, a)
    vx, vy = _scaled(cal, vertex, c)
    if math.hypot(ux, uy) == 0 or math.hypot(vx, vy) == 0:
        return None
    return math.degrees(abs(math.atan2(ux * vy - uy * vx, ux * vx + uy * vy)))


@dataclass(frozen=True)
class RoiBox:
    """The box of an ROI from two corner pixels: outer edges (continuous coordinates)."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def centre(self) -> Point:
        """(x, y) of the middle."""
        return (self.left + self.right) / 2, (self.top + self.bottom) / 2

    @property
    def radii(self) -> tuple[float, float]:
        """Half the width and height (the ellipse's semi-axes)."""
        return (self.right - self.left) / 2, (self.bottom - self.top) / 2


def roi_box(a: Point, b: Point) -> RoiBox:
    """The box through the outer edges of corner pixels ``a`` and ``b``."""
    return RoiBox(
        min(a[0], b[0]) - 0.5, min(a[1], b[1]) - 0.5, max(a[0], b[0]) + 0.5, max(a[1], b[1]) + 0.5
    )


def roi_mask(
    kind: str, box: RoiBox, shape: tuple[int, int]
) -> tuple[slice, slice, np.ndarray] | None:
    """(rows, cols, mask) of the pixels of a ``shape`` (rows, cols) array inside the ROI:
    the mask covers only the box's part of the array; None when that part is empty."""
    rows, cols = shape
    r0, r1 = max(0, math.ceil(box.top)), min(rows - 1, math.floor(box.bottom))
    c0, c1 = max(0, math.ceil(box.left)), min(cols - 1, math.floor(box.right))
    if r0 > r1 or c0 > c1:
        return None
    ys = np.arange(r0, r1 + 1, dtype=np.float64)[:, None]
    xs = np.arange(c0, c1 + 1, dtype=np.float64)[None, :]
    if kind == ELLIPSE:
        (cx, cy), (ax, ay) = box.centre, box.radii
        mask = ((xs - cx) / ax) ** 2 + ((ys - cy) / ay) ** 2 <= 1.0
    else:
        mask = np.ones((r1 - r0 + 1, c1 - c0 + 1), dtype=bool)
    if not mask.any():
        return None
    return slice(r0, r1 + 1), slice(c0, c1 + 1), mask


@dataclass(frozen=True)
class RoiStats:
    """Statistics of the modality values inside an ROI (SD: population, divided by N)."""

    mean: float
    sd: float
    minimum: float
    maximum: float
    count: int


def roi_stats(values: np.ndarray, kind: str, box: RoiBox) -> RoiStats | None:
    """The statistics of grey ``values`` (rows, cols) inside the ROI; None when no pixel
    of the image is inside or the values are not finite numbers."""
    if values.ndim != 2:
        return None
    found = roi_mask(kind, box, (values.shape[0], values.shape[1]))
    if found is None:
        return None
    rows, cols, mask = found
    inside = np.asarray(values[rows, cols], dtype=np.float64)[mask]
    if not np.isfinite(inside).all():
        return None
    return RoiStats(
        float(inside.mean()),
        float(inside.std()),
        float(inside.min()),
        float(inside.max()),
        int(inside.size),
    )


def scaled_box(box: RoiBox, scale: float) -> RoiBox:
    """``box`` in the pixels of an array reduced ``scale`` times (1: unchanged)."""
    if scale == 1.0:
        return box
    return RoiBox(
        (box.left + 0.5) * scale - 0.5,
        (box.top + 0.5) * scale - 0.5,
        (box.right + 0.5) * scale - 0.5,
        (box.bottom + 0.5) * scale - 0.5,
    )


def value(number: float, digits: int = 1) -> str:
    """A measured number with ``digits`` decimals (``-0.0`` shown as ``0.0``)."""
    text = f"{number:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


@dataclass(frozen=True)
class Result:
    """What a measurement gives: its ``title`` and lines of values, and ``warning``
    (:data:`UNCALIBRATED`, or that the values are approximate) when there is one."""

    title: str
    lines: tuple[str, ...]
    warning: str = ""

    def one_line(self) -> str:
        """The title, values and warning on one line (the clipboard)."""
        parts = [self.title, *self.lines]
        if self.warning:
            parts.append(f"({self.warning})")
        return "  ".join(parts)


def measure(
    measurement: Measurement,
    info: FrameInfo,
    values: np.ndarray | None = None,
    scale: float = 1.0,
) -> Result:
    """The result of ``measurement`` on the image described by ``info`` whose modality
    values are ``values`` (grey; None or colour: no statistics), reduced ``scale`` times
    for display (statistics then approximate)."""
    cal = calibration(info)
    kind, points = measurement.kind, measurement.points
    warning = "" if cal.calibrated else UNCALIBRATED
    where = cal.describe() if cal.calibrated else ""
    title = TITLES[kind]
    if kind == LENGTH:
        text = f"{value(length(cal, points[0], points[1]))} {cal.unit}"
        return Result(title, (text, where) if where else (text,), warning)
    if kind == ANGLE:
        degrees = angle(cal, points[0], points[1], points[2])
        text = "no angle (an arm has no length)" if degrees is None else f"{value(degrees)}°"
        return Result(title, (text,), warning)
    return _roi_result(measurement, info, cal, values, scale)


def _roi_result(
    measurement: Measurement,
    info: FrameInfo,
    cal: Calibration,
    values: np.ndarray | None,
    scale: float,
) -> Result:
    """Mean, SD, min, max, count and area of an ROI."""
    title = TITLES[measurement.kind]
    box = roi_box(measurement.points[0], measurement.points[1])
    if values is None or values.ndim != 2:
        return Result(title, ("colour image: no modality values",))
    scale = scale if math.isfinite(scale) and 0 < scale <= 1 else 1.0
    stats = roi_stats(values, measurement.kind, scaled_box(box, scale))
    if stats is None:
        return Result(title, ("no pixels of the image inside",))
    unit = f" {clean(info.unit)}" if info.unit.strip() else ""
    count = stats.count / (scale * scale)  # source pixels when the frame was reduced
    if cal.spacing is not None:
        area = f"area {value(count * cal.spacing[0] * cal.spacing[1])} mm²"
    else:
        area = f"area {value(count, 0)} px²"
    approx = "~" if scale < 1.0 else ""
    lines = (
        f"mean {approx}{value(stats.mean)}{unit}",
        f"SD {approx}{value(stats.sd)} (population)",
        f"min {approx}{value(stats.minimum)} max {approx}{value(stats.maximum)}",
        f"{area}  n {round(count)}",
    )
    warning = UNCALIBRATED if not cal.calibrated else ""
    if scale < 1.0:
        warning = "; ".join(w for w in (warning, "values of the reduced display image") if w)
    return Result(title, lines, warning)


def listing(
    measurements: tuple[Measurement, ...] | list[Measurement],
    info: FrameInfo,
    values: np.ndarray | None = None,
    scale: float = 1.0,
) -> str:
    """The measurements numbered from 1, a block per measurement: ``1 Length`` then its
    values indented, and its warning (the side panel)."""
    blocks = []
    for number, item in enumerate(measurements, 1):
        result = measure(item, info, values, scale)
        lines = [f"{number} {result.title}", *(f"  {line}" for line in result.lines if line)]
        if result.warning:
            lines.append(f"  ! {result.warning}")
        blocks.append("\n".join(clean(line) for line in lines))
    return "\n".join(blocks)


def clipboard_text(
    heading: str,
    measurements: tuple[Measurement, ...] | list[Measurement],
    info: FrameInfo,
    values: np.ndarray | None = None,
    scale: float = 1.0,
) -> str:
    """``heading`` (which image) and one line per measurement (what ``y`` copies)."""
    lines = [clean(heading)]
    for number, item in enumerate(measurements, 1):
        lines.append(clean(f"{number} {measure(item, info, values, scale).one_line()}"))
    return "\n".join(lines) + "\n"


def need(kind: str) -> int:
    """The points a measurement of ``kind`` takes."""
    return POINTS[kind]


def next_tool(tool: str | None) -> str | None:
    """The tool after ``tool`` in :data:`TOOLS`, None after the last (tools off)."""
    if tool is None:
        return TOOLS[0]
    index = TOOLS.index(tool) + 1 if tool in TOOLS else 0
    return TOOLS[index] if index < len(TOOLS) else None
