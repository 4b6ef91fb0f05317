"""Overlay planes (groups 6000-601E): read them and draw them as dcmj2pnm does.

Overlay bits come from Overlay Data (60xx,3000) or, in older files, from unused
high bits of the pixel data (Overlay Bits Allocated > 1, Overlay Bit Position).
Graphic overlays ('G') are drawn in white (replace mode); region-of-interest
overlays ('R') darken everything outside the region (value >> 4), as DCMTK does.
A single-frame overlay applies to every frame (CP-1974); a multi-frame overlay
applies from Image Frame Origin for Number of Frames in Overlay frames.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

OVERLAY_GROUPS = tuple(range(0x6000, 0x6020, 2))


@dataclass(frozen=True, eq=False)
class OverlayPlane:
    """One overlay plane: geometry, kind and where its bits live."""

    group: int
    rows: int
    columns: int
    origin_row: int
    origin_column: int
    kind: str
    bit_position: int
    frames: int
    first_frame: int
    multiframe: bool
    data: bytes | None
    label: str = ""
    description: str = ""

    @property
    def embedded(self) -> bool:
        """True when the bits live in the pixel data rather than Overlay Data."""
        return self.data is None

    def applies_to(self, frame: int) -> bool:
        """Whether the plane is shown on image frame ``frame`` (0-based)."""
        if not self.multiframe or self.embedded:
            return True
        return self.first_frame <= frame < self.first_frame + self.frames

    def bitmap(self, frame: int, pixel_bits: np.ndarray | None = None) -> np.ndarray | None:
        """Boolean (rows, columns) mask of the plane on ``frame``, or None if absent."""
        if not self.applies_to(frame):
            return None
        if self.embedded:
            if pixel_bits is None or pixel_bits.shape[:2] != (self.rows, self.columns):
                return None
            return ((pixel_bits.astype(np.uint32) >> self.bit_position) & 1).astype(bool)
        assert self.data is not None
        k = frame - self.first_frame if self.multiframe else 0
        size = self.rows * self.columns
        bits = np.unpackbits(np.frombuffer(self.data, dtype=np.uint8), bitorder="little")
        if bits.size < (k + 1) * size:
            return None
        return bits[k * size : (k + 1) * size].reshape(self.rows, self.columns).astype(bool)


def _get(ds: Dataset, group: int, element: int) -> object:
    """Value of (group, element) or None."""
    elem = ds.get((group, element))
    return None if elem is None else elem.value


def _ints(value: object) -> list[int]:
    """Integer values of a (multi-valued) attribute."""
    if value is None or value == "":
        return []
    seq = [value] if isinstance(value, int | str | float) else list(value)  # type: ignore[call-overload]
    out = []
    for item in seq:
        try:
            out.append(int(item))
        except (TypeError, ValueError):
            continue
    return out


def _overlay_bytes(raw: object, little_endian: bool) -> bytes | None:
    """Overlay Data as little endian bytes (OW read from big endian files is swapped)."""
    if not isinstance(raw, bytes | bytearray) or not raw:
        return None
    data = bytes(raw)
    if not little_endian and len(data) % 2 == 0:
        data = np.frombuffer(data, dtype=">u2").astype("<u2").tobytes()
    return data


def _plane(
    ds: Dataset, group: int, bits_allocated: int, bits_stored: int, little_endian: bool
) -> OverlayPlane | None:
    """Parse the plane in ``group``, applying DCMTK's validity rules; None if invalid."""
    rows = _ints(_get(ds, group, 0x0010))
    cols = _ints(_get(ds, group, 0x0011))
    origin = _ints(_get(ds, group, 0x0050))
    alloc = _ints(_get(ds, group, 0x0100))
    position = _ints(_get(ds, group, 0x0102))
    if not (rows and cols and origin and alloc and position) or rows[0] <= 0 or cols[0] <= 0:
        return None
    elem = ds.get((group, 0x3000))
    swap_free = little_endian or (elem is not None and elem.VR == "OB")
    data = _overlay_bytes(elem.value if elem is not None else None, swap_free)
    bit = position[0]
    if data is None and not (bits_stored <= bit < bits_allocated):
        return None
    frames = _ints(_get(ds, group, 0x0015))
    first = _ints(_get(ds, group, 0x0051))
    kind = str(_get(ds, group, 0x0040) or "G").strip().upper()
    return OverlayPlane(
        group=group,
        rows=rows[0],
        columns=cols[0],
        origin_row=origin[0] - 1,
        origin_column=(origin[1] if len(origin) > 1 else 1) - 1,
        kind="R" if kind == "R" else "G",
        bit_position=0 if data is not None else bit,
        frames=max(frames[0], 1) if frames else 1,
        first_frame=max(first[0] - 1, 0) if first else 0,
        multiframe=bool(frames),
        data=data,
        label=str(_get(ds, group, 0x1500) or ""),
        description=str(_get(ds, group, 0x0022) or ""),
    )


def overlay_planes(ds: Dataset, little_endian: bool = True) -> list[OverlayPlane]:
    """Every valid overlay plane of ``ds``, in group order.

    ``little_endian`` tells how ``ds`` was encoded (Overlay Data is OW).
    """
    alloc = int(ds.get("BitsAllocated", 16) or 16)
    stored = int(ds.get("BitsStored", alloc) or alloc)
    compressed = False
    meta = getattr(ds, "file_meta", None)
    if meta is not None and meta.get("TransferSyntaxUID") is not None:
        compressed = bool(meta.TransferSyntaxUID.is_compressed)
    planes = []
    for group in OVERLAY_GROUPS:
        if (group, 0x0010) not in ds:
            continue
        plane = _plane(ds, group, alloc, stored, little_endian)
        if plane is None or (plane.embedded and compressed):
            continue
        planes.append(plane)
    return planes


def draw_overlays(
    image: np.ndarray,
    planes: list[OverlayPlane],
    frame: int,
    pixel_bits: Callable[[], np.ndarray | None] | None = None,
) -> np.ndarray:
    """Draw ``planes`` on the uint8 grey ``image`` of ``frame`` in place; returns it.

    ``pixel_bits`` lazily supplies the frame's stored values with all allocated
    bits, needed only for overlays embedded in the pixel data.
    """
    bits_cache: list[np.ndarray | None] = []
    for plane in planes:
        if plane.embedded:
            if not bits_cache:
                bits_cache.append(pixel_bits() if pixel_bits is not None else None)
            mask = plane.bitmap(frame, bits_cache[0])
        else:
            mask = plane.bitmap(frame)
        if mask is not None:
            _paint(image, plane, mask)
    return image


def _paint(image: np.ndarray, plane: OverlayPlane, mask: np.ndarray) -> None:
    """Apply one plane's mask at its origin, clipped to the image."""
    rows, cols = image.shape[:2]
    top, left = plane.origin_row, plane.origin_column
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + plane.rows, rows), min(left + plane.columns, cols)
    if y1 <= y0 or x1 <= x0:
        return
    region = image[y0:y1, x0:x1]
    sub = mask[y0 - top : y1 - top, x0 - left : x1 - left]
    if plane.kind == "R":
        np.right_shift(region, 4, out=region, where=~sub)
    else:
        region[sub] = 255
