"""What the decode path checks before pydicom or a decoder plugin allocates anything.

* :func:`layout_of` reads a header's pixel description (without loading the pixels) for
  :func:`tuipacs.imaging.limits.pixel_problem`;
* :func:`overrun` finds a value that claims to run past the end of its file (pydicom
  would ask for the claimed length, up to 4 GiB);
* :func:`encoded_frame` fetches one compressed frame, for the checks of
  :mod:`tuipacs.imaging.framecheck`.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.encaps import get_frame

from tuipacs.imaging.limits import PixelLayout, count_fragments, frame_count, human_bytes

PIXEL_DATA = 0x7FE00010
UNDEFINED = 0xFFFFFFFF


def _raw(ds: Dataset, tag: int) -> RawDataElement | None:
    """The element ``tag`` as read, without reading a deferred value; None if absent."""
    if tag not in ds:
        return None
    elem = ds.get_item(tag, keep_deferred=True)
    return elem if isinstance(elem, RawDataElement) else None


def _stored_value(ds: Dataset, tag: int) -> bytes | None:
    """The value of ``tag`` if it is already in memory (never reads a deferred value)."""
    if tag not in ds:
        return None
    raw = _raw(ds, tag)
    if raw is not None:
        return bytes(raw.value) if isinstance(raw.value, bytes | bytearray) else None
    value = ds[tag].value
    return bytes(value) if isinstance(value, bytes | bytearray) else None


def file_size(path: Path | None) -> int | None:
    """Size of ``path`` in bytes, None if unknown."""
    if path is None:
        return None
    try:
        return os.path.getsize(path)
    except OSError:
        return None


def layout_of(
    ds: Dataset, path: Path | None, *, compressed: bool, frames: int | None = None
) -> PixelLayout:
    """The pixel description of ``ds`` (header-only or full) for ``pixel_problem``.

    Uncompressed: the Pixel Data's value length as stored (a deferred value is not read).
    Compressed: its fragments, counted in memory or in ``path`` (at most ``frames``).
    """

    def number(keyword: str, default: int | None) -> int | None:
        value = ds.get(keyword)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            return default

    count = frames if frames is not None else frame_count(ds.get("NumberOfFrames"))
    length: int | None = None
    fragments: int | None = None
    value = _stored_value(ds, PIXEL_DATA)
    raw = _raw(ds, PIXEL_DATA) if value is None else None
    if compressed:
        if value is not None:
            fragments = count_fragments(io.BytesIO(value), 0, len(value), count)
        elif raw is not None and path is not None and raw.value_tell is not None:
            size = file_size(path)
            if size is not None:
                with open(path, "rb") as stream:
                    fragments = count_fragments(stream, raw.value_tell, size, count)
    elif value is not None:
        length = len(value)
    elif raw is not None and raw.length != UNDEFINED:
        length = raw.length
    return PixelLayout(
        rows=number("Rows", None),
        columns=number("Columns", None),
        bits_allocated=number("BitsAllocated", None),
        samples=number("SamplesPerPixel", 1),
        frames=count,
        photometric=str(ds.get("PhotometricInterpretation", "") or ""),
        compressed=compressed,
        length=length,
        fragments=fragments,
    )


def overrun(ds: Dataset, size: int | None) -> str | None:
    """The first top-level value of ``ds`` left on disk (deferred) that claims to end past
    the end of the file, as a one-line reason; None if every value fits."""
    if size is None:
        return None
    for tag in ds.keys():
        raw = _raw(ds, tag)
        if raw is None or raw.value is not None or raw.length == UNDEFINED:
            continue
        tell = raw.value_tell
        if tell is not None and tell + raw.length > size:
            group, element = int(tag) >> 16, int(tag) & 0xFFFF
            what = "pixel data" if int(tag) == PIXEL_DATA else f"({group:04X},{element:04X})"
            return (
                f"truncated file: {what} claims {human_bytes(raw.length)}, past the end "
                f"of the file ({human_bytes(size)})"
            )
    return None


def encoded_frame(ds: Dataset, path: Path | None, index: int, frames: int) -> bytes:
    """Compressed frame ``index`` of ``ds``: from memory, or from ``path`` when the pixel
    data was left on disk. Raises what pydicom raises for broken encapsulation."""
    offsets = None
    if "ExtendedOffsetTable" in ds and "ExtendedOffsetTableLengths" in ds:
        offsets = (ds.ExtendedOffsetTable, ds.ExtendedOffsetTableLengths)
    value = _stored_value(ds, PIXEL_DATA)
    if value is not None:
        return get_frame(value, index, number_of_frames=frames, extended_offsets=offsets)
    raw = _raw(ds, PIXEL_DATA)
    if raw is None or path is None or raw.value_tell is None:
        value = ds.PixelData
        return get_frame(value, index, number_of_frames=frames, extended_offsets=offsets)
    with open(path, "rb") as stream:
        stream.seek(raw.value_tell)
        return get_frame(stream, index, number_of_frames=frames, extended_offsets=offsets)
