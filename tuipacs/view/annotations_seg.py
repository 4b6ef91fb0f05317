"""Segmentations (SEG) and RT structure sets (RTSTRUCT) as per-image masks and contours
(pure: no Textual, no disk; see :mod:`tuipacs.view.annotations`).

- SEG: each frame of a BINARY or FRACTIONAL segmentation is one segment on one source image,
  found from its per-frame functional groups (the DerivationImageSequence's source image,
  else the PlanePositionSequence's position matched to an image's within
  :data:`POSITION_TOLERANCE` mm). The frames are decoded with pydicom after the size they
  claim is checked against :data:`MAX_SEG_PIXELS` (a header can claim 10^6 frames).
  Colours come from RecommendedDisplayCIELabValue, else the palette.
- RTSTRUCT: each CLOSED_PLANAR contour (patient mm) is drawn on the images whose plane
  contains it within half a slice thickness, mapped to pixels by the image's position,
  orientation and pixel spacing. Colours from ROIDisplayColor, else the palette.

highdicom decodes SEG too (``Segmentation.from_dataset``, ``get_pixels_by_source_instance``)
and builds the test objects; at run time the few pydicom lines here serve better: the
claimed size is checked before anything is decoded, frames are matched to the study's
images by source or position as they are, and each frame that matches no image (or has
another size) is left out with one line while the rest still shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tuipacs.view.annotations import (
    MAX_POINTS,
    Graphic,
    ImageKey,
    Mask,
    StudyAnnotations,
    cielab_to_rgb,
    items,
    numbers,
    palette,
    text_of,
    value_count,
)

MAX_SEG_PIXELS = 1 << 27
"""Pixels (frames x rows x columns) of one SEG decoded at most (128 Mi: 128 MiB of bools)."""
MAX_SEGMENTS = 256
"""Segments (or ROIs) read from one object."""
POSITION_TOLERANCE = 0.05
"""mm between a SEG frame's position and an image's for them to match."""
DEFAULT_THICKNESS = 1.0
"""mm of slice thickness assumed when an image gives none."""


@dataclass(frozen=True)
class ImagePlane:
    """Where one image is in the patient: what RTSTRUCT contours and SEG positions need."""

    key: ImageKey
    position: tuple[float, float, float]
    row_dir: tuple[float, float, float]
    """Direction of increasing column (the first three of ImageOrientationPatient)."""
    col_dir: tuple[float, float, float]
    spacing: tuple[float, float]
    """(between rows, between columns) in mm."""
    rows: int
    cols: int
    thickness: float = DEFAULT_THICKNESS

    @property
    def normal(self) -> np.ndarray:
        """The unit normal of the image plane."""
        normal = np.cross(np.asarray(self.row_dir), np.asarray(self.col_dir))
        length = float(np.linalg.norm(normal))
        return normal / length if length > 0 else normal

    def to_pixels(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) source coordinates of patient points (N x 3 mm) and their distance from
        the plane (mm)."""
        offset = points - np.asarray(self.position)
        x = offset @ np.asarray(self.row_dir) / self.spacing[1]
        y = offset @ np.asarray(self.col_dir) / self.spacing[0]
        return np.stack([x, y], axis=1), offset @ self.normal


def plane_of(key: ImageKey, header: Any) -> ImagePlane | None:
    """The plane of an image from its header (None when its geometry is missing or bad)."""
    position = numbers(header.get("ImagePositionPatient"), 3)
    orientation = numbers(header.get("ImageOrientationPatient"), 6)
    spacing = numbers(header.get("PixelSpacing"), 2)
    rows, cols = numbers(header.get("Rows"), 1), numbers(header.get("Columns"), 1)
    if not (position and orientation and spacing and rows and cols):
        return None
    if len(position) != 3 or len(orientation) != 6 or len(spacing) != 2 or min(spacing) <= 0:
        return None
    thickness = numbers(header.get("SliceThickness"), 1)
    return ImagePlane(
        key,
        (position[0], position[1], position[2]),
        (orientation[0], orientation[1], orientation[2]),
        (orientation[3], orientation[4], orientation[5]),
        (spacing[0], spacing[1]),
        int(rows[0]),
        int(cols[0]),
        thickness[0] if thickness and thickness[0] > 0 else DEFAULT_THICKNESS,
    )


# -- SEG -----------------------------------------------------------------------------------


def _segment_colours(ds: Any, study: StudyAnnotations) -> dict[int, tuple[int, int, int]]:
    """Segment number -> colour, and the segments' labels into ``study``."""
    colours: dict[int, tuple[int, int, int]] = {}
    for item in items(ds, "SegmentSequence", MAX_SEGMENTS):
        found = numbers(item.get("SegmentNumber"), 1)
        if not found:
            continue
        number = int(found[0])
        colour = cielab_to_rgb(item.get("RecommendedDisplayCIELabValue"))
        colours[number] = colour or palette(number)
        study.segments[number] = text_of(item, "SegmentLabel") or f"segment {number}"
    return colours


def _frame_segment(group: Any, shared: Any) -> int | None:
    """The segment number of one frame (its functional group, else the shared one)."""
    for source in (group, shared):
        for item in items(source, "SegmentIdentificationSequence", 1):
            found = numbers(item.get("ReferencedSegmentNumber"), 1)
            if found:
                return int(found[0])
    return None


def _frame_image(
    group: Any, planes: list[ImagePlane], known: set[str]
) -> tuple[ImageKey | None, str]:
    """The image one SEG frame lies on: its derivation's source image when in the study,
    else the image at its position; and '' or why none was found."""
    for derivation in items(group, "DerivationImageSequence", 4):
        for source in items(derivation, "SourceImageSequence", 4):
            uid = text_of(source, "ReferencedSOPInstanceUID")
            frames = numbers(source.get("ReferencedFrameNumber"), 1)
            if uid in known:
                return (uid, int(frames[0]) - 1 if frames and frames[0] >= 1 else 0), ""
    for plane_item in items(group, "PlanePositionSequence", 1):
        position = numbers(plane_item.get("ImagePositionPatient"), 3)
        if not position or len(position) != 3:
            continue
        where = np.asarray(position)
        for plane in planes:
            if float(np.abs(where - np.asarray(plane.position)).max()) <= POSITION_TOLERANCE:
                return plane.key, ""
    return None, "no image of the study at its position"


def seg_problem(ds: Any) -> str:
    """Why the pixels of a SEG cannot be decoded ('' when they can)."""
    rows, cols = numbers(ds.get("Rows"), 1), numbers(ds.get("Columns"), 1)
    frames = numbers(ds.get("NumberOfFrames"), 1) or [1.0]
    if not rows or not cols or rows[0] < 1 or cols[0] < 1 or frames[0] < 1:
        return "a segmentation without a usable size: left out"
    total = rows[0] * cols[0] * frames[0]
    if total > MAX_SEG_PIXELS:
        return (
            f"a segmentation of {int(frames[0])} frames of {int(rows[0])} x {int(cols[0])} "
            f"is over the {MAX_SEG_PIXELS // (1 << 20)} Mi pixel limit: left out"
        )
    kind = text_of(ds, "SegmentationType").upper()
    if kind not in ("BINARY", "FRACTIONAL"):
        return f"a segmentation of type {kind or '(none)'} cannot be shown: left out"
    return ""


def add_seg(study: StudyAnnotations, ds: Any, planes: list[ImagePlane], known: set[str]) -> None:
    """Add one SEG dataset's masks to ``study``; ``planes`` are the study's images with
    their geometry, ``known`` the SOP Instance UIDs of its images."""
    problem = seg_problem(ds)
    if problem:
        study.problems.append(problem)
        return
    frames = int((numbers(ds.get("NumberOfFrames"), 1) or [1.0])[0])
    groups = items(ds, "PerFrameFunctionalGroupsSequence", frames)
    if len(groups) != frames:
        study.problems.append("a segmentation's frames and their descriptions differ: left out")
        return
    try:
        pixels = np.asarray(ds.pixel_array)
    except Exception as exc:  # pydicom's own reasons for a bad pixel data element
        study.problems.append(f"a segmentation's pixels cannot be decoded ({type(exc).__name__})")
        return
    pixels = pixels.reshape((frames, int(ds.Rows), int(ds.Columns)))
    threshold = 0.5
    if text_of(ds, "SegmentationType").upper() == "FRACTIONAL":
        maximum = numbers(ds.get("MaximumFractionalValue"), 1) or [255.0]
        threshold = max(1.0, maximum[0]) / 2
    colours = _segment_colours(ds, study)
    shared = (items(ds, "SharedFunctionalGroupsSequence", 1) or [None])[0]
    sizes = {plane.key: (plane.rows, plane.cols) for plane in planes}
    unplaced = 0
    for index, group in enumerate(groups):
        number = _frame_segment(group, shared)
        key, _why = _frame_image(group, planes, known)
        if number is None or key is None:
            unplaced += 1
            continue
        size = sizes.get(key) or sizes.get((key[0], -1))
        if size is not None and size != pixels.shape[1:]:
            unplaced += 1
            continue
        mask = pixels[index] >= threshold
        if mask.any():
            colour = colours.get(number) or palette(number)
            study.at(key).masks.append(Mask(number, mask, colour))
    if unplaced:
        study.problems.append(
            f"{unplaced} segmentation frame(s) match no image of the study (size or position)"
        )


# -- RTSTRUCT ------------------------------------------------------------------------------


def add_rtstruct(study: StudyAnnotations, ds: Any, planes: list[ImagePlane]) -> None:
    """Add one RTSTRUCT dataset's closed planar contours to the images they lie on."""
    colours: dict[int, tuple[int, int, int]] = {}
    for roi in items(ds, "StructureSetROISequence", MAX_SEGMENTS):
        found = numbers(roi.get("ROINumber"), 1)
        if found:
            colours[int(found[0])] = palette(int(found[0]))
    budget = MAX_POINTS
    cut = False
    index = _PlaneIndex(planes)
    for roi in items(ds, "ROIContourSequence", MAX_SEGMENTS):
        found = numbers(roi.get("ReferencedROINumber"), 1)
        number = int(found[0]) if found else 0
        shown = numbers(roi.get("ROIDisplayColor"), 3)
        colour = colours.get(number, palette(number))
        if shown and len(shown) == 3:
            red, green, blue = (int(min(255, max(0, v))) for v in shown)
            colour = (red, green, blue)
        study.rois += 1
        for contour in items(roi, "ContourSequence"):
            if text_of(contour, "ContourGeometricType").upper() not in ("CLOSED_PLANAR", ""):
                continue
            if value_count(contour, "ContourData") > 3 * max(0, budget):
                cut = True
                continue
            data = numbers(contour.get("ContourData"), 3 * max(0, budget))
            if data is None or len(data) < 9 or len(data) % 3:
                continue
            budget -= len(data) // 3
            index.place(study, np.asarray(data).reshape(-1, 3), colour)
    if cut or budget <= 0:
        study.problems.append(
            f"a structure set has over {MAX_POINTS} contour points: the rest are left out"
        )


class _PlaneIndex:
    """The study's image planes, to find the ones a contour lies on in one numpy pass."""

    def __init__(self, planes: list[ImagePlane]) -> None:
        self.planes = planes
        self.positions = np.asarray([p.position for p in planes], dtype=np.float64).reshape(-1, 3)
        self.normals = np.asarray([p.normal for p in planes], dtype=np.float64).reshape(-1, 3)
        self.half = np.asarray([p.thickness / 2 + 1e-6 for p in planes], dtype=np.float64)

    def place(self, study: StudyAnnotations, points: np.ndarray, colour: Any) -> None:
        """Draw one contour on each image whose plane holds it within half a slice."""
        if not self.planes:
            return
        first = np.sum((points[0] - self.positions) * self.normals, axis=1)
        for which in np.nonzero(np.abs(first) <= self.half)[0]:
            plane = self.planes[int(which)]
            pixels, distance = plane.to_pixels(points)
            if float(np.abs(distance).max()) > self.half[which]:
                continue
            outline = tuple((float(x), float(y)) for x, y in pixels)
            study.at(plane.key).contours.append(Graphic(outline, True, colour))
