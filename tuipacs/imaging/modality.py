"""Modality LUT: stored values to modality values (HU for CT), per frame.

The transform comes from, in order: the frame's Pixel Value Transformation in the
Per-frame Functional Groups, the same in the Shared Functional Groups (enhanced
multi-frame objects), the Modality LUT Sequence, then Rescale Slope/Intercept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

from tuipacs.imaging.luts import LookupTable, little_endian_of, parse_lut

_INT16 = np.iinfo(np.int16)


def functional_group_item(ds: Dataset, index: int, keyword: str) -> Dataset | None:
    """First item of macro ``keyword`` for frame ``index``: per-frame, else shared."""
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame is not None and 0 <= index < len(per_frame):
        macro = per_frame[index].get(keyword)
        if macro:
            return macro[0]
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared:
        macro = shared[0].get(keyword)
        if macro:
            return macro[0]
    return None


def _number(value: object, default: float) -> float:
    """A DS/IS value as float (first of several), or ``default``."""
    if value is None or value == "":
        return default
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        seq = list(value)  # type: ignore[call-overload]
        value = seq[0] if seq else None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default


@dataclass(frozen=True, eq=False)
class ModalityTransform:
    """Rescale slope/intercept or a Modality LUT."""

    slope: float = 1.0
    intercept: float = 0.0
    lut: LookupTable | None = None
    rescale_type: str = ""

    @property
    def is_identity(self) -> bool:
        """True when modality values equal stored values."""
        return self.lut is None and self.slope == 1.0 and self.intercept == 0.0

    @property
    def is_integral(self) -> bool:
        """True when integer stored values map to integer modality values."""
        if self.lut is not None:
            return True
        return float(self.slope).is_integer() and float(self.intercept).is_integer()

    def apply(self, stored: np.ndarray) -> np.ndarray:
        """Modality values of ``stored``: int16 when they fit exactly, else float32."""
        if self.lut is not None:
            return _narrow(self.lut.apply(stored))
        if self.is_integral and stored.dtype.kind in "iub":
            return self._apply_integral(stored)
        out = stored.astype(np.float32)
        if self.slope != 1.0:
            out *= np.float32(self.slope)
        if self.intercept != 0.0:
            out += np.float32(self.intercept)
        return out

    def _apply_integral(self, stored: np.ndarray) -> np.ndarray:
        """Integer slope and intercept: int16 in place when the result fits, else wider."""
        slope, intercept = int(self.slope), int(self.intercept)
        if stored.size == 0:
            return stored.astype(np.int16)
        smin, smax = int(stored.min()), int(stored.max())
        lo, hi = sorted((smin * slope + intercept, smax * slope + intercept))
        fits = _INT16.min <= lo and hi <= _INT16.max
        small = _INT16.min <= smin and smax <= _INT16.max
        if fits and small and slope == 1 and _INT16.min <= intercept <= _INT16.max:
            out = stored.astype(np.int16)
            if intercept:
                out += np.int16(intercept)
            return out
        wide = stored.astype(np.int64) * slope + intercept
        return wide.astype(np.int16) if fits else wide.astype(np.float32)

    def apply_exact(self, stored: np.ndarray) -> np.ndarray:
        """Modality values as DCMTK computes them: in double, truncated toward zero.

        DCMTK keeps the result of the modality transform in an integer
        representation; reproducing that makes our 8-bit output pixel-identical.
        """
        if self.lut is not None or self.is_integral:
            return self.apply(stored).astype(np.float64)
        out = stored.astype(np.float64) * self.slope + self.intercept
        return np.trunc(out)

    def value_range(self, stored_min: float, stored_max: float) -> tuple[float, float]:
        """Range of modality values for stored values in [stored_min, stored_max]."""
        if self.lut is not None:
            table = self.lut.table
            return float(table.min()), float(table.max())
        a = stored_min * self.slope + self.intercept
        b = stored_max * self.slope + self.intercept
        return (a, b) if a <= b else (b, a)


def _narrow(values: np.ndarray) -> np.ndarray:
    """Integer values as int16 when they fit, else float32."""
    if values.size == 0:
        return values.astype(np.int16)
    lo, hi = int(values.min()), int(values.max())
    if _INT16.min <= lo and hi <= _INT16.max:
        return values.astype(np.int16)
    return values.astype(np.float32)


def modality_transform(ds: Dataset, index: int = 0) -> ModalityTransform:
    """The modality transform for frame ``index`` (0-based) of ``ds``."""
    item = functional_group_item(ds, index, "PixelValueTransformationSequence")
    if item is not None and "RescaleSlope" in item and "RescaleIntercept" in item:
        return _rescale(item)
    signed = int(ds.get("PixelRepresentation", 0) or 0) == 1
    sequence = ds.get("ModalityLUTSequence")
    if sequence:
        lut = parse_lut(sequence[0], signed_input=signed, little_endian=little_endian_of(ds))
        if lut is not None:
            return ModalityTransform(lut=lut)
    if "RescaleSlope" in ds and "RescaleIntercept" in ds:
        return _rescale(ds)
    return ModalityTransform()


def _rescale(item: Dataset) -> ModalityTransform:
    """Slope/intercept from ``item``; a zero or missing slope counts as 1 (as in DCMTK)."""
    slope = _number(item.get("RescaleSlope"), 1.0) or 1.0
    intercept = _number(item.get("RescaleIntercept"), 0.0)
    kind = str(item.get("RescaleType", "") or "")
    return ModalityTransform(slope=slope, intercept=intercept, rescale_type=kind)
