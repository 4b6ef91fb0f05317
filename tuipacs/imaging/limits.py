"""Is a pixel description possible, and is it small enough to decode?

One DICOM header can claim an image of any size: Rows = Columns = 65535 with 16 bits is
8 GiB per frame, in a 49 KB file. :func:`pixel_problem` is the one check every path runs
before anything is allocated for the pixels (``tuipacs render`` and the viewer before
decoding, ``tuipacs import`` and the Storage SCP before indexing):

* the attributes are usable (Rows, Columns >= 1; Bits Allocated 1, 8, 16, 32 or 64;
  Samples per Pixel >= 1; Number of Frames >= 1);
* one decoded frame (Rows x Columns x Samples x bytes per sample) stays under the decode
  limit (:data:`DECODE_LIMIT`, 1 GiB unless the caller passes another);
* uncompressed pixel data is at least as long as Rows x Columns x Frames x Samples x Bits
  say (longer is accepted, as pydicom and DCMTK do: real files carry trailing padding);
* compressed (encapsulated) pixel data has at least one fragment per frame.

Each problem is one line saying what is wrong, e.g. ``image is 65535 x 65535 x 16-bit =
8.0 GiB per frame, over the 1 GiB decode limit``. This module imports neither numpy nor
pydicom, so the archive and the server can use it cheaply; its only I/O is
:func:`count_fragments`, which reads item headers from a file it is given.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

DECODE_LIMIT = 1 << 30
"""Default ceiling in bytes for one decoded frame (config: ``decode_limit``)."""

_limit = DECODE_LIMIT


def set_decode_limit(size: int) -> None:
    """Make ``size`` bytes the ceiling of one decoded frame for this process (from the
    config's ``decode_limit``; at least 1 MiB)."""
    global _limit
    if size < 1 << 20:
        raise ValueError(f"a decode limit under 1 MiB cannot show images ({size} bytes)")
    _limit = size


def decode_limit() -> int:
    """The ceiling of one decoded frame in bytes (DECODE_LIMIT unless configured)."""
    return _limit


VALID_BITS = frozenset({1, 8, 16, 32, 64})
"""Bits Allocated values the decoders understand."""


@dataclass(frozen=True)
class PixelLayout:
    """What a header says about its pixel data (values as read; None when absent).

    ``length`` is the value length of uncompressed Pixel Data in bytes (None when unknown,
    e.g. not read); ``fragments`` the number of fragments of compressed Pixel Data after the
    Basic Offset Table (None when not counted). ``frames`` None means Number of Frames is
    absent (one frame).
    """

    rows: int | None
    columns: int | None
    bits_allocated: int | None
    samples: int | None = 1
    frames: int | None = 1
    photometric: str = ""
    compressed: bool = False
    length: int | None = None
    fragments: int | None = None


def human_bytes(size: float) -> str:
    """``1536`` -> ``'1.5 KiB'``; bytes below 1 KiB as ``'999 bytes'``."""
    if size < 1024:
        return f"{int(size)} bytes"
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB"):
        size /= 1024
        if size < 1024 or unit == "PiB":
            break
    return f"{size:.1f} {unit}"


def _limit_text(limit: int) -> str:
    """The limit as people write it: '1 GiB', '512 MiB', else human_bytes."""
    for shift, unit in ((30, "GiB"), (20, "MiB")):
        if limit >= 1 << shift and limit % (1 << shift) == 0:
            return f"{limit >> shift} {unit}"
    return human_bytes(limit)


def frame_bytes(rows: int, columns: int, samples: int, bits_allocated: int) -> int:
    """Bytes of one decoded frame in memory (1-bit data is unpacked to a byte a pixel)."""
    per_sample = max(1, bits_allocated // 8)
    return rows * columns * samples * per_sample


def native_length(
    rows: int, columns: int, frames: int, samples: int, bits_allocated: int, photometric: str
) -> int:
    """Bytes of uncompressed Pixel Data for the whole object, without padding.

    1-bit frames are packed one after another; YBR_FULL_422 stores two samples a pixel.
    """
    if bits_allocated == 1:
        return (rows * columns * samples * frames + 7) // 8
    length = rows * columns * samples * frames * (bits_allocated // 8)
    if photometric.strip().upper() == "YBR_FULL_422":
        length = length // 3 * 2
    return length


def _size_text(rows: int, columns: int, samples: int, bits: int) -> str:
    """'65535 x 65535 x 16-bit' or '4096 x 4096 x 3 x 8-bit'."""
    middle = f" x {samples}" if samples != 1 else ""
    return f"{rows} x {columns}{middle} x {bits}-bit"


def attribute_problem(layout: PixelLayout) -> str | None:
    """Why the image attributes themselves are unusable, or None."""
    rows, columns, bits = layout.rows, layout.columns, layout.bits_allocated
    if rows is None or columns is None or rows < 1 or columns < 1:
        return f"invalid image size (Rows {rows}, Columns {columns})"
    if bits not in VALID_BITS:
        return f"invalid Bits Allocated {bits} (must be 1, 8, 16, 32 or 64)"
    if layout.samples is None or layout.samples < 1:
        return f"invalid Samples per Pixel {layout.samples}"
    if layout.frames is not None and layout.frames < 1:
        return f"invalid Number of Frames {layout.frames}"
    return None


def frame_count(value: object) -> int:
    """Number of Frames as the decoders read it: absent, malformed or below 1 is 1."""
    if value is None or value == "" or isinstance(value, bool):
        return 1
    try:
        return max(1, int(str(value).strip()))
    except ValueError:
        return 1


def pixel_problem(layout: PixelLayout, limit: int | None = None) -> str | None:
    """Why ``layout`` cannot be decoded within ``limit`` bytes a frame, or None if it can.

    See the module docstring for the rules. The answer is one line without a file name.
    """
    limit = decode_limit() if limit is None else limit
    problem = attribute_problem(layout)
    if problem is not None:
        return problem
    assert layout.rows is not None and layout.columns is not None
    assert layout.bits_allocated is not None and layout.samples is not None
    rows, columns, bits = layout.rows, layout.columns, layout.bits_allocated
    samples, frames = layout.samples, layout.frames or 1
    size = frame_bytes(rows, columns, samples, bits)
    if size > limit:
        return (
            f"image is {_size_text(rows, columns, samples, bits)} = {human_bytes(size)} "
            f"per frame, over the {_limit_text(limit)} decode limit"
        )
    if layout.compressed:
        if layout.fragments is not None and layout.fragments < frames:
            have = "no" if layout.fragments == 0 else f"only {layout.fragments}"
            plural = "fragment" if layout.fragments == 1 else "fragments"
            return (
                f"Number of Frames is {frames} but the compressed pixel data holds {have} {plural}"
            )
        return None
    if layout.length is None:
        return None
    need = native_length(rows, columns, frames, samples, bits, layout.photometric)
    if layout.length >= need:
        return None
    counted = f"{frames} frames of " if frames != 1 else ""
    return (
        f"pixel data is {_bytes_text(layout.length)} but {counted}"
        f"{_size_text(rows, columns, samples, bits)} needs {_bytes_text(need)}"
    )


def _bytes_text(size: int) -> str:
    """'1000 bytes' or '512.0 KiB (524288 bytes)'."""
    return human_bytes(size) if size < 1024 else f"{human_bytes(size)} ({size} bytes)"


_ITEM = 0xE000FFFE
_SEQUENCE_END = 0xE0DDFFFE


def count_fragments(stream: BinaryIO, start: int, end: int, enough: int) -> int:
    """Fragments (after the Basic Offset Table) of encapsulated Pixel Data at ``start``.

    ``stream`` is the file, ``start`` the position of the pixel data's value (its first
    item, the Basic Offset Table) and ``end`` the file size. Counting stops at the sequence
    delimiter, at anything that is not an item, at a fragment that runs past ``end``, or
    once ``enough`` fragments are counted (so a hostile file costs at most ``enough``
    reads of 8 bytes).
    """
    pos, count, first = start, 0, True
    while pos + 8 <= end and count < enough:
        stream.seek(pos)
        head = stream.read(8)
        if len(head) < 8:
            break
        tag, length = struct.unpack("<LL", head)
        if tag != _ITEM or length == 0xFFFFFFFF or pos + 8 + length > end:
            break
        if not first:
            count += 1
        first = False
        pos += 8 + length
    return count
