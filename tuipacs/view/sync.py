"""Where one viewport's slice is in another's (pure): synchronised scrolling, cross-reference
lines and the jump to the probe's point.

An image plane (PS3.3 C.7.6.2.1.1) is its Image Position (the centre of the top-left pixel),
the two direction cosines of Image Orientation (along a row as the column ``x`` grows, along
a column as the row ``y`` grows) and Pixel Spacing (row spacing, column spacing)::

    P(x, y) = IPP + F_row * column_spacing * x + F_col * row_spacing * y

- **Synchronised position.** Two stacks whose slices are parallel are matched along the
  normal: in the same frame of reference the other viewport shows its slice nearest to the
  active slice's plane; across frames of reference (a prior study: its patient coordinates
  are another scanner session's) the distance between the two slices when they were linked
  is kept. Stacks without usable geometry (or not parallel) go by image number.
- **Cross-reference line.** The line where the active slice's plane cuts another viewport's
  image, in that image's pixels, clipped to it; none for parallel planes or planes of
  different frames of reference.
- **Jump to the probe.** The probed pixel's patient point; another stack's slice nearest to
  it and that point's pixel there.

Every value comes from a file: cosines that are not two orthogonal unit vectors, spacings that
are not positive and finite, or non-finite results give no plane (or no line) rather than a
wrong one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from tuipacs.store.query import InstanceRow
from tuipacs.view.frames import ImageRef
from tuipacs.view.info import FrameInfo

PARALLEL = 0.995
"""|cos| of the angle between two normals above which the planes count as parallel (~5.7°)."""
MAX_COORD = 1e6
"""Largest position coordinate taken (mm): beyond it a value is nonsense."""
UNIT_TOLERANCE = 0.01


@dataclass(frozen=True)
class Plane:
    """One image's plane in patient coordinates (mm); ``spacing`` (row, column) may be
    unknown (the archive's index does not keep it: enough for positions, not for pixels)."""

    origin: tuple[float, float, float]
    row_dir: tuple[float, float, float]
    col_dir: tuple[float, float, float]
    spacing: tuple[float, float] | None = None

    @property
    def normal(self) -> np.ndarray:
        """The unit normal (row direction x column direction)."""
        normal = np.cross(np.asarray(self.row_dir), np.asarray(self.col_dir))
        return normal / float(np.linalg.norm(normal))

    def distance(self, normal: np.ndarray) -> float:
        """The plane's position along ``normal``."""
        return float(np.asarray(self.origin) @ normal)

    def point(self, x: float, y: float) -> np.ndarray | None:
        """The patient point (mm) of pixel (x, y) (continuous), None without spacing."""
        if self.spacing is None:
            return None
        row_spacing, col_spacing = self.spacing
        return (
            np.asarray(self.origin)
            + np.asarray(self.row_dir) * col_spacing * x
            + np.asarray(self.col_dir) * row_spacing * y
        )

    def pixel(self, point: np.ndarray) -> tuple[float, float] | None:
        """The pixel (x, y) of the patient ``point`` projected onto the plane."""
        if self.spacing is None:
            return None
        row_spacing, col_spacing = self.spacing
        offset = point - np.asarray(self.origin)
        x = float(offset @ np.asarray(self.row_dir)) / col_spacing
        y = float(offset @ np.asarray(self.col_dir)) / row_spacing
        return (x, y) if math.isfinite(x) and math.isfinite(y) else None


def _vector(values: Sequence[float] | None, size: int) -> tuple[float, ...] | None:
    if values is None or len(values) != size:
        return None
    try:
        floats = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        return None
    if not all(math.isfinite(v) and abs(v) <= MAX_COORD for v in floats):
        return None
    return floats


def plane_of(
    position: Sequence[float] | None,
    orientation: Sequence[float] | None,
    spacing: Sequence[float] | None = None,
) -> Plane | None:
    """The plane of an image from its position, orientation and (optional) spacing; None when
    the values are missing or not a plane (see the module docstring)."""
    origin = _vector(position, 3)
    cosines = _vector(orientation, 6)
    if origin is None or cosines is None:
        return None
    row, col = np.asarray(cosines[:3]), np.asarray(cosines[3:])
    if abs(float(np.linalg.norm(row)) - 1) > UNIT_TOLERANCE:
        return None
    if abs(float(np.linalg.norm(col)) - 1) > UNIT_TOLERANCE or abs(float(row @ col)) > 0.01:
        return None
    pair = _vector(spacing, 2) if spacing is not None else None
    if pair is not None and not (pair[0] > 0 and pair[1] > 0):
        pair = None
    return Plane(
        (origin[0], origin[1], origin[2]),
        (cosines[0], cosines[1], cosines[2]),
        (cosines[3], cosines[4], cosines[5]),
        (pair[0], pair[1]) if pair is not None else None,
    )


def frame_plane(info: FrameInfo | None) -> Plane | None:
    """The plane of a decoded image (with its spacing), None without geometry."""
    if info is None:
        return None
    return plane_of(info.position, info.orientation, info.pixel_spacing)


def parse_values(text: str, size: int) -> tuple[float, ...] | None:
    r"""A multi-valued decimal string of the archive's index (``a\b\c``) as floats."""
    parts = text.split("\\") if text else []
    if len(parts) != size or len(text) > 200:
        return None
    try:
        return _vector([float(p) for p in parts], size)
    except ValueError:
        return None


@dataclass(frozen=True)
class StackPlanes:
    """The plane of each image of a stack (None where unknown: multi-frame, a PDF page, no
    geometry) and the stack's frame of reference ('' when unknown)."""

    planes: tuple[Plane | None, ...] = ()
    frame_of_reference: str = ""

    def __len__(self) -> int:
        return len(self.planes)

    def at(self, index: int) -> Plane | None:
        """The plane of image ``index`` (None out of range)."""
        return self.planes[index] if 0 <= index < len(self.planes) else None

    @cached_property
    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Unit normals and origins of the planes (N x 3; NaN where there is no plane)."""
        normals = np.full((len(self.planes), 3), np.nan)
        origins = np.full((len(self.planes), 3), np.nan)
        for index, plane in enumerate(self.planes):
            if plane is not None:
                normals[index] = plane.normal
                origins[index] = plane.origin
        return normals, origins

    def nearest(self, normal: np.ndarray, distance: float) -> int | None:
        """The image whose plane, parallel to ``normal``, is nearest to ``distance`` along
        it; None when no image has a parallel plane (vectorised: this runs on every step
        of a synchronised scroll)."""
        normals, origins = self._arrays
        if not len(normals):
            return None
        with np.errstate(invalid="ignore"):
            parallel = np.abs(normals @ normal) >= PARALLEL
            gaps = np.abs(origins @ normal - distance)
        gaps = np.where(parallel, gaps, np.inf)
        best = int(np.argmin(gaps))
        return best if np.isfinite(gaps[best]) else None


def same_frame(a: StackPlanes, b: StackPlanes) -> bool:
    """Both stacks in one known frame of reference."""
    return bool(a.frame_of_reference) and a.frame_of_reference == b.frame_of_reference


def link_offset(src: Plane | None, dst: Plane | None) -> float | None:
    """The distance (mm, along ``dst``'s normal) from the ``src`` slice to the ``dst`` slice
    when two stacks of different frames of reference are linked; None when not parallel."""
    if src is None or dst is None:
        return None
    normal = dst.normal
    if abs(float(src.normal @ normal)) < PARALLEL:
        return None
    return dst.distance(normal) - src.distance(normal)


def synced_index(
    src: Plane | None,
    src_index: int,
    dst: StackPlanes,
    dst_count: int,
    offset: float | None,
) -> int:
    """The image of the other stack to show with the active one at ``src_index`` (plane
    ``src``): nearest along the normal, ``offset`` mm apart (0 in the same frame of
    reference, else the distance when linked), or the same image number."""
    fallback = max(0, min(dst_count - 1, src_index))
    reference = next((p for p in dst.planes if p is not None), None)
    if src is None or reference is None or offset is None:
        return fallback
    normal = reference.normal
    if abs(float(src.normal @ normal)) < PARALLEL:
        return fallback
    found = dst.nearest(normal, src.distance(normal) + offset)
    return found if found is not None and found < dst_count else fallback


def crossref_segment(
    active: Plane | None, other: Plane | None, shape: tuple[int, int]
) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """Where the ``active`` slice's plane cuts the ``other`` image of ``shape`` (rows,
    columns): two source points (x, y) on its border, or None (parallel, no spacing, or the
    line misses the image)."""
    if active is None or other is None or other.spacing is None:
        return None
    normal = active.normal
    if abs(float(other.normal @ normal)) >= PARALLEL:
        return None
    row_spacing, col_spacing = other.spacing
    a = col_spacing * float(np.asarray(other.row_dir) @ normal)
    b = row_spacing * float(np.asarray(other.col_dir) @ normal)
    c = float((np.asarray(other.origin) - np.asarray(active.origin)) @ normal)
    rows, cols = shape
    x0, x1, y0, y1 = -0.5, cols - 0.5, -0.5, rows - 0.5
    points: list[tuple[float, float]] = []
    if abs(b) > 1e-9:
        for x in (x0, x1):
            y = -(a * x + c) / b
            if y0 - 1e-6 <= y <= y1 + 1e-6:
                points.append((x, y))
    if abs(a) > 1e-9:
        for y in (y0, y1):
            x = -(b * y + c) / a
            if x0 - 1e-6 <= x <= x1 + 1e-6:
                points.append((x, y))
    unique: list[tuple[float, float]] = []
    for point in points:
        if all(math.dist(point, seen) > 1e-6 for seen in unique):
            unique.append(point)
    if len(unique) < 2 or not all(math.isfinite(v) for p in unique for v in p):
        return None
    return unique[0], unique[1]


def probe_target(
    point: np.ndarray, dst: StackPlanes, spacing: tuple[float, float] | None
) -> tuple[int, tuple[int, int] | None] | None:
    """The image of ``dst`` nearest to the patient ``point`` and the point's pixel (x, y)
    there (None without ``spacing``); None when no image has geometry."""
    best: tuple[float, int] | None = None
    for index, plane in enumerate(dst.planes):
        if plane is None:
            continue
        gap = abs(float((point - np.asarray(plane.origin)) @ plane.normal))
        if best is None or gap < best[0]:
            best = (gap, index)
    if best is None:
        return None
    found = dst.planes[best[1]]
    assert found is not None
    if spacing is None:
        return best[1], None
    pixel = Plane(found.origin, found.row_dir, found.col_dir, spacing).pixel(point)
    if pixel is None:
        return best[1], None
    return best[1], (round(pixel[0]), round(pixel[1]))


def stack_planes(
    rows: Sequence[InstanceRow], images: Sequence[ImageRef], frame_of_reference: str = ""
) -> StackPlanes:
    """The plane of each of ``images`` (the viewer's images of the instances ``rows``) from
    the positions the archive's index keeps; multi-frame images and PDF pages have none."""
    by_path = {str(row.path): row for row in rows}
    planes: list[Plane | None] = []
    for ref in images:
        row = by_path.get(str(ref.path))
        if row is None or row.frames > 1 or type(ref) is not ImageRef:
            planes.append(None)
            continue
        planes.append(
            plane_of(parse_values(row.image_position, 3), parse_values(row.image_orientation, 6))
        )
    return StackPlanes(tuple(planes), frame_of_reference[:64])
