"""Colour images to 8-bit RGB: YBR conversion, bit depth, PALETTE COLOR.

Colour images bypass VOI. The arithmetic follows DCMTK so that ``tuipacs render``
writes the same RGB values as ``dcmj2pnm``:

* YBR_FULL (8 bits): integer tables truncated toward zero, then clamped;
  YBR_FULL_422 and deeper data: the same matrix in double precision, truncated.
* More than 8 bits per sample: shifted right down to 8 bits.
* Palette tables with 16-bit entries: the high byte of each entry.
"""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut

from tuipacs.imaging.luts import LookupTable, parse_lut

_KR, _KGB, _KGR, _KB = 1.4020, 0.3441, 0.7141, 1.7720
_OR, _OG, _OB = 0.7010, 0.5291, 0.8859


def _ybr8_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-value terms of the 8-bit conversion, truncated toward zero."""
    v = np.arange(256, dtype=np.float64)
    rcr = np.trunc(_KR * v - _OR * 255.0).astype(np.int32)
    gcb = np.trunc(_KGB * v).astype(np.int32)
    gcr = np.trunc(_KGR * v - _OG * 255.0).astype(np.int32)
    bcb = np.trunc(_KB * v - _OB * 255.0).astype(np.int32)
    return rcr, gcb, gcr, bcb


_TABLES = _ybr8_tables()


def ybr_to_rgb(ybr: np.ndarray, photometric: str = "YBR_FULL", bits: int = 8) -> np.ndarray:
    """RGB (same dtype as the input) from YBR_FULL or YBR_FULL_422 samples."""
    if bits == 8 and photometric == "YBR_FULL" and ybr.dtype == np.uint8:
        return _ybr8_to_rgb(ybr)
    maxvalue = float((1 << bits) - 1)
    y, cb, cr = (ybr[..., i].astype(np.float64) for i in range(3))
    red = y + _KR * cr - _OR * maxvalue
    green = y - _KGB * cb - _KGR * cr + _OG * maxvalue
    blue = y + _KB * cb - _OB * maxvalue
    rgb = np.stack([red, green, blue], axis=-1)
    return np.clip(np.trunc(rgb), 0.0, maxvalue).astype(ybr.dtype)


def _ybr8_to_rgb(ybr: np.ndarray) -> np.ndarray:
    """8-bit YBR_FULL to RGB with integer tables (DCMTK's fast path)."""
    rcr, gcb, gcr, bcb = _TABLES
    y = ybr[..., 0].astype(np.int32)
    cb, cr = ybr[..., 1], ybr[..., 2]
    rgb = np.empty(ybr.shape, dtype=np.int32)
    rgb[..., 0] = y + rcr[cr]
    rgb[..., 1] = y - gcb[cb] - gcr[cr]
    rgb[..., 2] = y + bcb[cb]
    return np.clip(rgb, 0, 255).astype(np.uint8)


def to_rgb8(rgb: np.ndarray, bits_stored: int) -> np.ndarray:
    """(rows, columns, 3) uint8 from RGB samples of ``bits_stored`` bits."""
    if rgb.dtype == np.uint8 and bits_stored == 8:
        return rgb
    values = rgb.astype(np.int64, copy=False)
    if values.dtype.kind == "i" and values.min(initial=0) < 0:
        values = values - values.min()
    if bits_stored > 8:
        return (values >> (bits_stored - 8)).clip(0, 255).astype(np.uint8)
    scale = 255.0 / float((1 << max(bits_stored, 1)) - 1)
    return np.clip(np.trunc(values * scale), 0, 255).astype(np.uint8)


def _palette_tables(ds: Dataset, little_endian: bool) -> list[LookupTable] | None:
    """Red, green and blue tables of a (non-segmented) palette, or None."""
    tables = []
    for color in ("Red", "Green", "Blue"):
        item = Dataset()
        desc = ds.get(f"{color}PaletteColorLookupTableDescriptor")
        data = ds.get(f"{color}PaletteColorLookupTableData")
        if desc is None or data is None:
            return None
        item.LUTDescriptor = list(desc)
        item.add_new(0x00283006, "OW", data)
        lut = parse_lut(item, little_endian=little_endian)
        if lut is None:
            return None
        tables.append(lut)
    return tables


def palette_to_rgb8(indices: np.ndarray, ds: Dataset, little_endian: bool = True) -> np.ndarray:
    """RGB uint8 of PALETTE COLOR ``indices`` through the dataset's palette tables.

    Entries of 16 bits keep their high byte (as DCMTK). Segmented palettes go
    through pydicom's ``apply_color_lut``.
    """
    tables = _palette_tables(ds, little_endian)
    if tables is None:
        rgb = apply_color_lut(indices, ds)
        if rgb.dtype == np.uint8:
            return rgb
        return (rgb.astype(np.uint32) >> 8).astype(np.uint8)
    planes = []
    for lut in tables:
        shift = max(lut.bits - 8, 0)
        table = lut.table.astype(np.int64) >> shift
        planes.append(np.clip(table, 0, 255).astype(np.uint8)[lut.indices(indices)])
    return np.stack(planes, axis=-1)
