"""What a study's presentation states show over its images (pure: no Textual, no disk).

A Grayscale Softcopy Presentation State (GSPS) holds annotations (polylines, circles,
ellipses, points, texts) and how to show the images it references (a window, a rotation or
flip, the displayed area). This module turns one GSPS dataset into per-image drawing lists
in SOURCE pixel coordinates (x, y = column, row; pixel centres at whole numbers, as the
measurements use); :mod:`tuipacs.view.annotations_seg` does the same for segmentations
(SEG) and RT structure sets (RTSTRUCT), :mod:`tuipacs.view.annotations_sr` for the image
regions of SR measurement reports, :mod:`tuipacs.view.annotation_draw` draws them.

Every value comes from a file and is untrusted: the counts of annotations, points and texts
are bounded (:data:`MAX_GRAPHICS`, :data:`MAX_POINTS`), coordinates must be finite, and a
malformed item is left out (the rest is kept).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tuipacs.imaging.voi import Window
from tuipacs.safe_text import clean
from tuipacs.view.viewport import Orientation

GSPS_CLASS = "1.2.840.10008.5.1.4.1.1.11.1"
SEG_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
RTSTRUCT_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"
ANNOTATION_CLASSES = (GSPS_CLASS, SEG_CLASS, RTSTRUCT_CLASS)

MAX_GRAPHICS = 10_000
"""Graphic and text objects read from one object (more are left out)."""
MAX_POINTS = 200_000
"""Points read from one object, all graphics or contours together."""
MAX_TEXT = 64
"""Characters of one text annotation shown."""
ALL_FRAMES = -1
"""The frame number of a key that applies to every frame of an image."""
GSPS_COLOUR = (255, 96, 255)
"""Magenta: GSPS annotations without a colour of their own."""
ELLIPSE_SEGMENTS = 72

Colour = tuple[int, int, int]
SourcePoint = tuple[float, float]
"""(x, y) = (column, row) of the source image, pixel centres at whole numbers."""
ImageKey = tuple[str, int]
"""(SOP Instance UID, frame 0-based or :data:`ALL_FRAMES`)."""


@dataclass(frozen=True)
class Graphic:
    """A polyline (closed or not) in source coordinates, with its colour."""

    points: tuple[SourcePoint, ...]
    closed: bool
    colour: Colour


@dataclass(frozen=True)
class Label:
    """A text anchored at a source point."""

    text: str
    at: SourcePoint
    colour: Colour
    line: int = 0
    """The text's line below its anchor (0: at it), for a stack of texts at one point."""


@dataclass(frozen=True)
class Mask:
    """One segment's pixels on one image (bool, the image's rows x columns)."""

    segment: int
    pixels: np.ndarray
    colour: Colour


@dataclass(frozen=True)
class Presentation:
    """How a GSPS shows an image: its window (None: keep the reader's), orientation and
    displayed area (top, left, bottom, right in DICOM pixel coordinates: the top left
    corner of the image is 0, 0; None: the whole image)."""

    window: Window | None = None
    orientation: Orientation = field(default_factory=Orientation)
    area: tuple[float, float, float, float] | None = None
    magnify: float | None = None
    """Presentation Size Mode MAGNIFY: screen pixels per image pixel (None: the area fits
    the viewport, SCALE TO FIT; TRUE SIZE too: a terminal knows no physical size)."""


@dataclass
class ImageAnnotations:
    """Everything drawn over one image."""

    graphics: list[Graphic] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    masks: list[Mask] = field(default_factory=list)
    contours: list[Graphic] = field(default_factory=list)
    presentation: Presentation | None = None
    measurements: int = 0
    """Measurement groups of SR measurement reports drawn among the graphics."""

    def merged(self, other: ImageAnnotations) -> ImageAnnotations:
        """This and ``other`` together (the first presentation wins)."""
        return ImageAnnotations(
            self.graphics + other.graphics,
            self.labels + other.labels,
            self.masks + other.masks,
            self.contours + other.contours,
            self.presentation or other.presentation,
            self.measurements + other.measurements,
        )


@dataclass
class StudyAnnotations:
    """A study's annotations by image, with what the overlay says about them."""

    images: dict[ImageKey, ImageAnnotations] = field(default_factory=dict)
    gsps: int = 0
    reports: int = 0
    """SR measurement reports that drew something."""
    segments: dict[int, str] = field(default_factory=dict)
    rois: int = 0
    problems: list[str] = field(default_factory=list)

    def of(self, key: ImageKey) -> ImageAnnotations | None:
        """The annotations of image ``key`` (its frame's and the whole image's), or None."""
        own = self.images.get(key)
        every = self.images.get((key[0], ALL_FRAMES)) if key[1] != ALL_FRAMES else None
        if own is None or every is None:
            return own or every
        return own.merged(every)

    def at(self, key: ImageKey) -> ImageAnnotations:
        """The annotations of ``key``, created empty when absent."""
        return self.images.setdefault(key, ImageAnnotations())


# -- colours -------------------------------------------------------------------------------

_D50_TO_SRGB = np.array(
    [
        [3.1338561, -1.6168667, -0.4906146],
        [-0.9787684, 1.9161415, 0.0334540],
        [0.0719453, -0.2289914, 1.4052427],
    ]
)


def cielab_to_rgb(value: Any) -> Colour | None:
    """A DICOM CIELab colour (three 0..65535 integers: L*, a*, b* scaled) as sRGB, None
    when it is not three finite numbers."""
    try:
        l_raw, a_raw, b_raw = (float(v) for v in value)
    except (TypeError, ValueError):
        return None
    if not all(math.isfinite(v) for v in (l_raw, a_raw, b_raw)):
        return None
    lightness = l_raw * 100.0 / 65535.0
    a_star = a_raw * 255.0 / 65535.0 - 128.0
    b_star = b_raw * 255.0 / 65535.0 - 128.0
    f_y = (lightness + 16.0) / 116.0
    f_x, f_z = f_y + a_star / 500.0, f_y - b_star / 200.0

    def inverse(t: float) -> float:
        return t**3 if t > 6.0 / 29.0 else 3 * (6.0 / 29.0) ** 2 * (t - 4.0 / 29.0)

    xyz = np.array([0.96422 * inverse(f_x), inverse(f_y), 0.82521 * inverse(f_z)])
    linear = np.clip(_D50_TO_SRGB @ xyz, 0.0, 1.0)
    srgb = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    red, green, blue = (int(round(float(v) * 255)) for v in np.clip(srgb, 0.0, 1.0))
    return red, green, blue


PALETTE: tuple[Colour, ...] = (
    (255, 64, 64),
    (64, 200, 255),
    (255, 220, 0),
    (64, 255, 96),
    (255, 128, 0),
    (200, 96, 255),
    (0, 255, 220),
    (255, 96, 180),
)
"""Segment and ROI colours when the file gives none (by number)."""


def palette(number: int) -> Colour:
    """The palette colour of segment or ROI ``number``."""
    return PALETTE[number % len(PALETTE)]


# -- reading untrusted values --------------------------------------------------------------


def items(dataset: Any, keyword: str, limit: int = MAX_GRAPHICS) -> list[Any]:
    """The first ``limit`` items of sequence ``keyword`` of ``dataset`` ([] when absent or
    not a sequence)."""
    try:
        value = dataset.get(keyword)
    except Exception:  # a malformed element: as if absent
        return []
    if value is None or isinstance(value, (str, bytes)):
        return []
    try:
        return list(value[:limit])
    except Exception:
        return []


def numbers(value: Any, limit: int = MAX_POINTS * 3) -> list[float] | None:
    """The finite numbers of a multi-valued element (None when any is not one)."""
    if value is None:
        return None
    try:
        listed = [value] if isinstance(value, (int, float, str)) else list(value)
        if len(listed) > limit:
            return None
        values = [float(v) for v in listed]
    except (TypeError, ValueError):
        return None
    if not all(math.isfinite(v) for v in values):
        return None
    return values


def value_count(dataset: Any, keyword: str) -> int:
    """How many values element ``keyword`` holds, counted in its raw bytes when pydicom has
    not converted it yet (converting 3 million decimal strings takes seconds); 0 when absent."""
    try:
        element = dataset.get_item(keyword)
    except Exception:
        return 0
    if element is None or element.value is None:
        return 0
    value = element.value
    if isinstance(value, bytes):
        if element.VR in ("FL", "OF"):
            return len(value) // 4
        if element.VR in ("FD", "OD"):
            return len(value) // 8
        return value.count(b"\\") + 1 if value.strip(b" \x00") else 0
    try:
        return len(value) if not isinstance(value, (str, int, float)) else 1
    except TypeError:
        return 1


def text_of(dataset: Any, keyword: str) -> str:
    """Element ``keyword`` as a short, clean, single-line text ('' when absent)."""
    try:
        value = dataset.get(keyword)
    except Exception:
        return ""
    return clean(str(value))[:MAX_TEXT] if value is not None else ""


def referenced_images(dataset: Any) -> list[ImageKey]:
    """The (SOP Instance UID, frame) keys of a ReferencedImageSequence (frames 1-based in
    the file; every frame when none is named)."""
    keys: list[ImageKey] = []
    for item in items(dataset, "ReferencedImageSequence"):
        uid = text_of(item, "ReferencedSOPInstanceUID")
        if not uid:
            continue
        frames = numbers(item.get("ReferencedFrameNumber"), MAX_GRAPHICS)
        if frames:
            keys.extend((uid, int(f) - 1) for f in frames if f >= 1)
        else:
            keys.append((uid, ALL_FRAMES))
    return keys


# -- GSPS ----------------------------------------------------------------------------------


def _series_images(ds: Any) -> list[ImageKey]:
    """Every image a GSPS applies to (its ReferencedSeriesSequence)."""
    keys: list[ImageKey] = []
    for series in items(ds, "ReferencedSeriesSequence"):
        keys.extend(referenced_images(series))
    return keys


def _layer_colours(ds: Any) -> dict[str, Colour]:
    """The recommended colour of each graphic layer that has one."""
    colours: dict[str, Colour] = {}
    for layer in items(ds, "GraphicLayerSequence"):
        name = text_of(layer, "GraphicLayer")
        colour = cielab_to_rgb(layer.get("GraphicLayerRecommendedDisplayCIELabValue"))
        if name and colour is not None:
            colours[name] = colour
    return colours


def _window(ds: Any, images: list[ImageKey]) -> dict[ImageKey, Window]:
    """The window of each image from the SoftcopyVOILUTSequence."""
    windows: dict[ImageKey, Window] = {}
    for item in items(ds, "SoftcopyVOILUTSequence"):
        centre = numbers(item.get("WindowCenter"), 16)
        width = numbers(item.get("WindowWidth"), 16)
        if not centre or not width or width[0] <= 0:
            continue
        window = Window(centre[0], width[0], "GSPS")
        for key in referenced_images(item) or images:
            windows[key] = window
    return windows


def _areas(ds: Any, images: list[ImageKey]) -> dict[ImageKey, tuple[float, float, float, float]]:
    """The displayed area of each image (top, left, bottom, right; DICOM pixel coordinates)."""
    areas: dict[ImageKey, tuple[float, float, float, float]] = {}
    for item in items(ds, "DisplayedAreaSelectionSequence"):
        top_left = numbers(item.get("DisplayedAreaTopLeftHandCorner"), 2)
        bottom_right = numbers(item.get("DisplayedAreaBottomRightHandCorner"), 2)
        if not top_left or not bottom_right or len(top_left) != 2 or len(bottom_right) != 2:
            continue
        left, top = top_left[0] - 1.0, top_left[1] - 1.0
        right, bottom = bottom_right
        if right - left < 1 or bottom - top < 1:
            continue
        for key in referenced_images(item) or images:
            areas[key] = (top, left, bottom, right)
    return areas


def _magnify(ds: Any, images: list[ImageKey]) -> dict[ImageKey, float]:
    """The magnification of each image whose displayed area says MAGNIFY (0.01 to 100)."""
    found: dict[ImageKey, float] = {}
    for item in items(ds, "DisplayedAreaSelectionSequence"):
        if text_of(item, "PresentationSizeMode").upper() != "MAGNIFY":
            continue
        ratio = numbers(item.get("PresentationPixelMagnificationRatio"), 1)
        if not ratio or not 0.01 <= ratio[0] <= 100:
            continue
        for key in referenced_images(item) or images:
            found[key] = ratio[0]
    return found


def _orientation(ds: Any) -> Orientation:
    """The spatial transformation: rotation (90, 180, 270 clockwise) then horizontal flip."""
    rotation = numbers(ds.get("ImageRotation"), 1)
    turns = int(rotation[0]) // 90 % 4 if rotation and rotation[0] % 90 == 0 else 0
    flip = text_of(ds, "ImageHorizontalFlip").upper() == "Y"
    return Orientation(turns, flip, False)


def _to_source(
    x: float, y: float, units: str, area: tuple[float, float, float, float] | None
) -> SourcePoint | None:
    """A GSPS point (PIXEL: DICOM pixel coordinates; DISPLAY: fractions of the displayed
    area) in source coordinates (pixel centres at whole numbers); None for DISPLAY units
    without a displayed area."""
    if units == "DISPLAY":
        if area is None:
            return None
        top, left, bottom, right = area
        x, y = left + x * (right - left), top + y * (bottom - top)
    return x - 0.5, y - 0.5


def graphic_shape(kind: str, points: list[SourcePoint]) -> tuple[list[SourcePoint], bool] | None:
    """A graphic as a polyline: (points, closed), None when malformed."""
    if kind in ("POLYLINE", "INTERPOLATED") and points:
        closed = len(points) > 2 and points[0] == points[-1]
        return (points[:-1] if closed else points), closed
    if kind == "POINT" and points:
        x, y = points[0]
        return [(x - 1, y - 1), (x + 1, y + 1), (x, y), (x - 1, y + 1), (x + 1, y - 1)], False
    if kind == "CIRCLE" and len(points) == 2:
        (cx, cy), (px, py) = points
        radius = math.hypot(px - cx, py - cy)
        turns = [2 * math.pi * i / ELLIPSE_SEGMENTS for i in range(ELLIPSE_SEGMENTS)]
        return [(cx + radius * math.cos(t), cy + radius * math.sin(t)) for t in turns], True
    if kind == "ELLIPSE" and len(points) == 4:
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = points
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        major = ((x1 - x0) / 2, (y1 - y0) / 2)
        minor = ((x3 - x2) / 2, (y3 - y2) / 2)
        turns = [2 * math.pi * i / ELLIPSE_SEGMENTS for i in range(ELLIPSE_SEGMENTS)]
        return [
            (
                cx + major[0] * math.cos(t) + minor[0] * math.sin(t),
                cy + major[1] * math.cos(t) + minor[1] * math.sin(t),
            )
            for t in turns
        ], True
    return None


def _annotation(
    item: Any,
    colours: dict[str, Colour],
    area: tuple[float, float, float, float] | None,
    budget: list[int],
) -> tuple[list[Graphic], list[Label]]:
    """The graphics and texts of one GraphicAnnotationSequence item, within ``budget``
    (points left, shared by the whole object)."""
    colour = colours.get(text_of(item, "GraphicLayer"), GSPS_COLOUR)
    graphics: list[Graphic] = []
    for graphic in items(item, "GraphicObjectSequence"):
        units = text_of(graphic, "GraphicAnnotationUnits").upper()
        if value_count(graphic, "GraphicData") > 2 * max(0, budget[0]):
            budget[0] = -1
            continue
        data = numbers(graphic.get("GraphicData"), 2 * max(0, budget[0]))
        if not data or len(data) % 2:
            continue
        budget[0] -= len(data) // 2
        found = [_to_source(data[i], data[i + 1], units, area) for i in range(0, len(data), 2)]
        pairs = [p for p in found if p is not None]
        shape = graphic_shape(text_of(graphic, "GraphicType").upper(), pairs)
        if shape is not None:
            closed = shape[1] or text_of(graphic, "GraphicFilled").upper() == "Y"
            graphics.append(Graphic(tuple(shape[0]), closed, colour))
    labels: list[Label] = []
    for text in items(item, "TextObjectSequence"):
        value = text_of(text, "UnformattedTextValue")
        anchor = numbers(text.get("AnchorPoint"), 2)
        units = text_of(text, "AnchorPointAnnotationUnits").upper()
        if not anchor:
            anchor = numbers(text.get("BoundingBoxTopLeftHandCorner"), 2)
            units = text_of(text, "BoundingBoxAnnotationUnits").upper()
        at = _to_source(anchor[0], anchor[1], units, area) if anchor and len(anchor) == 2 else None
        if value and at is not None:
            labels.append(Label(value, at, colour))
    return graphics, labels


def add_gsps(study: StudyAnnotations, ds: Any) -> None:
    """Add one GSPS dataset's annotations and presentation to ``study``."""
    images = _series_images(ds)
    if not images:
        study.problems.append("a presentation state references no images: left out")
        return
    study.gsps += 1
    windows, areas, magnify = _window(ds, images), _areas(ds, images), _magnify(ds, images)
    orientation = _orientation(ds)
    for key in images:
        if key not in study.images or study.images[key].presentation is None:
            area, ratio = areas.get(key), magnify.get(key)
            presentation = Presentation(windows.get(key), orientation, area, ratio)
            study.at(key).presentation = presentation
    colours = _layer_colours(ds)
    budget = [MAX_POINTS]
    for item in items(ds, "GraphicAnnotationSequence"):
        targets = referenced_images(item) or images
        graphics, labels = _annotation(item, colours, areas.get(targets[0]), budget)
        for key in targets[:MAX_GRAPHICS]:
            study.at(key).graphics.extend(graphics)
            study.at(key).labels.extend(labels)
    if budget[0] < 0:
        study.problems.append(
            f"a presentation state has over {MAX_POINTS} points: the rest are left out"
        )


def keys_of(images: Iterable[ImageKey]) -> set[str]:
    """The SOP Instance UIDs among ``images``."""
    return {uid for uid, _frame in images}
