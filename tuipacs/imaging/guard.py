"""What the decode path checks before pydicom or a decoder plugin allocates anything.

* :func:`layout_of` reads a header's pixel description (without loading the pixels) for
  :func:`tuipacs.imaging.limits.pixel_problem`;
* :func:`overrun` finds a value that claims to run past the end of its file (pydicom
  would ask for the claimed length, up to 4 GiB);
* :func:`encoded_frame` fetches one compressed frame, for the checks of
  :mod:`tuipacs.imaging.framecheck`;
* :func:`deflate_problem` finds a deflated file that would inflate past the limit (pydicom
  inflates the whole dataset in memory before reading it);
* :func:`read_counted` stops pydicom's parse of a file with more elements and items than
  the limit allows (each costs hundreds of bytes of Python objects).
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path
from typing import Any, BinaryIO

import pydicom
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


def _value(ds: Dataset, tag: int) -> object:
    """The value of ``tag`` as pydicom converts it (None when absent or unreadable)."""
    try:
        return ds[tag].value if tag in ds else None
    except Exception:  # a malformed value: the decoders treat it as absent too
        return None


def _number(ds: Dataset, tag: int, default: int | None) -> int | None:
    """An unsigned short (Rows, Columns, ...) read from the raw bytes when they are plain
    (pydicom's conversion costs ~30 us an element), else converted; ``default`` if absent
    or malformed."""
    raw = _raw(ds, tag)
    if raw is not None and raw.VR in (None, "US") and isinstance(raw.value, bytes):
        if len(raw.value) == 2:
            return int(struct.unpack("<H" if raw.is_little_endian else ">H", raw.value)[0])
        if not raw.value:
            return default
    value = _value(ds, tag)
    if value is None or value == "":
        return default
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return default


def _text(ds: Dataset, tag: int) -> object:
    """A short text value (IS, CS) from its raw ASCII bytes, else converted; None if absent."""
    raw = _raw(ds, tag)
    if raw is not None and isinstance(raw.value, bytes) and raw.value.isascii():
        text = raw.value.decode("ascii").strip(" \0")
        return None if "\\" in text else text
    return _value(ds, tag)


def layout_of(
    ds: Dataset, path: Path | None, *, compressed: bool, frames: int | None = None
) -> PixelLayout:
    """The pixel description of ``ds`` (header-only or full) for ``pixel_problem``.

    Uncompressed: the Pixel Data's value length as stored (a deferred value is not read).
    Compressed: its fragments, counted in memory or in ``path`` (at most ``frames``).
    """
    count = frames if frames is not None else frame_count(_text(ds, 0x00280008))
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
        rows=_number(ds, 0x00280010, None),
        columns=_number(ds, 0x00280011, None),
        bits_allocated=_number(ds, 0x00280100, None),
        samples=_number(ds, 0x00280002, 1),
        frames=count,
        photometric=str(_text(ds, 0x00280004) or ""),
        compressed=compressed,
        length=length,
        fragments=fragments,
    )


def _read_by_us(tag: int) -> bool:
    """Whether the imaging pipeline reads this top-level value: Pixel Data, Overlay Data
    (60xx,3000) and palette colour lookup table data."""
    group, element = tag >> 16, tag & 0xFFFF
    if tag == PIXEL_DATA:
        return True
    if 0x6000 <= group <= 0x601E and group % 2 == 0 and element == 0x3000:
        return True
    return group == 0x0028 and element in (0x1201, 0x1202, 0x1203, 0x1221, 0x1222, 0x1223)


def overrun(ds: Dataset, size: int | None) -> str | None:
    """The first top-level value the pipeline reads (pixel, overlay or palette data), left
    on disk (deferred), that claims to end past the end of the file, as a one-line
    reason; None if they fit. (pydicom would ask for the claimed length, up to 4 GiB; the
    values nobody reads are left alone, as pydicom leaves them.)"""
    if size is None:
        return None
    for tag in ds.keys():
        if not _read_by_us(int(tag)):
            continue
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


DEFLATED = "1.2.840.10008.1.2.1.99"
_LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT"})
_CHUNK = 1 << 16


def _meta_end(stream: BinaryIO) -> tuple[str, int] | None:
    """(transfer syntax, offset of the dataset) of a Part 10 file; None if it has no
    preamble and explicit little endian File Meta group (then it is not deflated)."""
    stream.seek(128)
    if stream.read(4) != b"DICM":
        return None
    pos, syntax = 132, ""
    while True:
        stream.seek(pos)
        head = stream.read(8)
        if len(head) < 8 or head[:2] != b"\x02\x00":
            return syntax, pos
        element, vr = struct.unpack_from("<H", head, 2)[0], head[4:6]
        if vr in _LONG_VRS:
            extra = stream.read(4)
            if len(extra) < 4:
                return None
            length, start = struct.unpack("<L", extra)[0], pos + 12
        else:
            length, start = struct.unpack_from("<H", head, 6)[0], pos + 8
        if length == UNDEFINED or length > 1 << 16:
            return None
        if element == 0x0010:
            stream.seek(start)
            syntax = stream.read(length).decode("ascii", "replace").strip(" \0")
        pos = start + length


def deflate_problem(path: Path, limit: int) -> str | None:
    """For a Deflated Explicit VR Little Endian file, why pydicom must not read it: its
    dataset inflates past ``limit / 128`` (8 MiB for 1 GiB). pydicom inflates it whole, in
    memory (300 KB of zeros are 300 MB), and parses it from there, where
    :func:`read_counted` cannot count: 8 MiB of empty items would still cost pydicom
    about 730 MB. Inflates in chunks and stops at that size; None otherwise."""
    cap = limit // 128
    with open(path, "rb") as stream:
        found = _meta_end(stream)
        if found is None or found[0] != DEFLATED:
            return None
        stream.seek(found[1])
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        total = 0
        while True:
            data = inflater.unconsumed_tail or stream.read(_CHUNK)
            if not data:
                return None
            try:
                total += len(inflater.decompress(data, _CHUNK))
            except zlib.error:
                return None  # pydicom reports the broken stream in its own words
            if total > cap:
                return (
                    f"the deflated dataset expands past {human_bytes(cap)} "
                    f"(from {human_bytes(os.path.getsize(path))} on disk), the most a "
                    "deflated file may hold"
                )
            if inflater.eof:
                return None


class TooComplex(Exception):
    """A file has more elements and items than a read may create (one line)."""


def element_budget(limit: int) -> int:
    """How many reads pydicom may make while parsing one file for a decode ``limit``: each
    element header, value and item header is a read, and each item costs pydicom about
    700 bytes of Python objects (an 8 MB file of empty items took 730 MB)."""
    return max(100_000, limit // 1024)


class CountedFile(io.BufferedReader):
    """A file handed to pydicom that stops its parse after ``budget`` reads.

    pydicom treats it as the file it opened itself (deferred values are read later from
    the path), so only the first parse is counted.
    """

    def __init__(self, path: Path, budget: int) -> None:
        super().__init__(io.FileIO(str(path), "rb"))
        self.budget = budget
        self.allowed = budget
        self.exhausted = False

    def read(self, size: int | None = -1, /) -> bytes:
        """Read as usual, or raise TooComplex once the budget is spent."""
        if self.budget <= 0:
            self.exhausted = True
            raise TooComplex(self.problem())
        self.budget -= 1
        return super().read(size)

    def problem(self) -> str:
        """The one-line reason for refusing the file."""
        return (
            f"too many data elements and sequence items (over {self.allowed} reads; "
            "pydicom would need gigabytes for them)"
        )


def read_counted(path: Path, limit: int, **options: Any) -> Dataset:
    """``pydicom.dcmread(path, **options)`` within :func:`element_budget`; TooComplex when
    the file needs more reads (whatever pydicom made of the interruption).

    Every read takes at least 4 bytes of the file, so a file of at most 4 x budget bytes
    (4 MiB for 1 GiB) cannot exceed it and is read without counting.
    """
    budget = element_budget(limit)
    size = file_size(path)
    if size is not None and size <= 4 * budget:
        return pydicom.dcmread(str(path), **options)
    with CountedFile(path, budget) as stream:
        try:
            ds = pydicom.dcmread(stream, **options)
        except Exception:
            if stream.exhausted:
                raise TooComplex(stream.problem()) from None
            raise
        if stream.exhausted:
            raise TooComplex(stream.problem())
        return ds
