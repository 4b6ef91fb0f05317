"""Where a probed pixel is in millimetres (pure): patient coordinates, mm in the image plane,
or nothing, each said plainly.

- Patient coordinates (DICOM's LPS, in mm) of the pixel's centre when the image has Image
  Position and Image Orientation (Patient) and Pixel Spacing (PS3.3 C.7.6.2.1.1)::

      P = IPP + F_row * column_spacing * x + F_col * row_spacing * y

  with ``F_row`` the first three cosines of ImageOrientationPatient (the direction along a
  row, as ``x`` grows), ``F_col`` the last three (as ``y`` grows), and PixelSpacing given
  as (row spacing, column spacing).
- Else mm from the centre of the top-left pixel, from Pixel Spacing, Imager Pixel Spacing
  (at the detector: a projection radiograph is magnified) or Nominal Scanned Pixel Spacing,
  naming which.
- Else pixels only, saying there is no calibration.

Every value comes from the file: an orientation that is not two orthogonal unit vectors, or
a result that is not finite, falls back to the next kind instead of printing nonsense.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tuipacs.view import format as fmt
from tuipacs.view.info import FrameInfo

NO_CALIBRATION = "no calibration: pixels only"
UNIT_TOLERANCE = 0.01
"""How far a direction cosine vector's length may be from 1 (and the two from orthogonal)."""
PATIENT = "patient"
PLANE = "plane"


@dataclass(frozen=True)
class Position:
    """A probed pixel in mm: ``kind`` is ``patient`` (x, y, z in LPS) or ``plane`` (x, y
    from the top-left pixel, along the rows and columns); ``source`` names the spacing."""

    kind: str
    mm: tuple[float, ...]
    source: str


def _orientation(values: tuple[float, ...] | None) -> np.ndarray | None:
    """The two direction cosine vectors (2 x 3) when they are unit length and orthogonal."""
    if values is None or len(values) != 6:
        return None
    cosines = np.asarray(values, dtype=np.float64).reshape(2, 3)
    if not np.isfinite(cosines).all():
        return None
    lengths = np.linalg.norm(cosines, axis=1)
    if np.any(np.abs(lengths - 1.0) > UNIT_TOLERANCE):
        return None
    if abs(float(cosines[0] @ cosines[1])) > UNIT_TOLERANCE:
        return None
    return cosines


def patient_point(
    position: tuple[float, ...],
    orientation: tuple[float, ...],
    spacing: tuple[float, float],
    x: float,
    y: float,
) -> tuple[float, float, float] | None:
    """Patient coordinates (mm) of column ``x``, row ``y`` (pixel centres at whole numbers);
    None when the geometry is unusable (see :func:`_orientation`) or the result not finite."""
    cosines = _orientation(orientation)
    if cosines is None or len(position) != 3:
        return None
    row_spacing, column_spacing = spacing
    with np.errstate(all="ignore"):
        point = (
            np.asarray(position, dtype=np.float64)
            + cosines[0] * column_spacing * x
            + cosines[1] * row_spacing * y
        )
    if not np.isfinite(point).all():
        return None
    return float(point[0]), float(point[1]), float(point[2])


def position_of(info: FrameInfo, x: float, y: float) -> Position | None:
    """Where column ``x``, row ``y`` of the image described by ``info`` is in mm; None when
    the image has no usable calibration."""
    spacing = info.pixel_spacing
    if spacing is None:
        return None
    kind = info.spacing_kind or "PixelSpacing"
    if kind == "PixelSpacing" and info.position is not None and info.orientation is not None:
        point = patient_point(info.position, info.orientation, spacing, x, y)
        if point is not None:
            return Position(PATIENT, point, kind)
    plane = (x * spacing[1], y * spacing[0])
    if not all(math.isfinite(v) for v in plane):
        return None
    return Position(PLANE, plane, kind)


def _mm(value: float) -> str:
    """One decimal, as the reader expects of mm (``-0.0`` shown as ``0``)."""
    text = fmt.number(round(value, 1))
    return "0" if text in ("-0", "-0.0") else text


def position_text(info: FrameInfo, x: float, y: float) -> str:
    """The probe's second line: patient coordinates, mm in the plane (naming the spacing),
    or that there is no calibration."""
    found = position_of(info, x, y)
    if found is None:
        return NO_CALIBRATION
    if found.kind == PATIENT:
        px, py, pz = (_mm(v) for v in found.mm)
        return f"Patient x {px} y {py} z {pz} mm"
    where = {
        "ImagerPixelSpacing": "ImagerPixelSpacing, at the detector",
        "NominalScannedPixelSpacing": "NominalScannedPixelSpacing, scanned film",
    }.get(found.source, found.source)
    dx, dy = (_mm(v) for v in found.mm)
    return f"x {dx} y {dy} mm from top-left ({where})"
