"""Pixel geometry of a DICOM object: pixel spacing and the pixel aspect ratio (pure).

The viewer's viewport model (orientation, zoom, pan, the visible region) is
:mod:`tuipacs.view.viewport`; resampling of display arrays is :mod:`tuipacs.imaging.resample`.
"""

from __future__ import annotations

import math

from pydicom.dataset import Dataset

from tuipacs.imaging.modality import functional_group_item


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


def spacing_source(ds: Dataset, index: int = 0) -> tuple[tuple[float, float], str] | None:
    """(row, column) spacing in mm and the attribute it came from (``PixelSpacing``, also
    in the Pixel Measures macro, ``ImagerPixelSpacing`` or ``NominalScannedPixelSpacing``)."""
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
                return found, keyword
    return None


def pixel_spacing(ds: Dataset, index: int = 0) -> tuple[float, float] | None:
    """(row, column) spacing in mm: Pixel Measures macro, Pixel Spacing, Imager Pixel Spacing."""
    found = spacing_source(ds, index)
    return found[0] if found is not None else None


def pixel_aspect(ds: Dataset, index: int = 0) -> float:
    """Displayed height / width of one pixel: from spacing, else Pixel Aspect Ratio, else 1."""
    spacing = pixel_spacing(ds, index)
    if spacing is not None:
        return spacing[0] / spacing[1]
    ratio = _pair(ds.get("PixelAspectRatio"))
    if ratio is not None:
        return ratio[0] / ratio[1]
    return 1.0
