"""The index record of a received file, read without pydicom when that is safe.

``tuipacs.store.records.read_record`` parses the whole header with pydicom (~0.5 ms for a
CT slice). A C-STORE waits for that parse, so :func:`fast_record` walks the top-level
elements itself (Little Endian syntaxes, plain-ASCII values only) and falls back on
``read_record`` for anything else: other syntaxes, non-ASCII text (character sets),
structures it does not understand, or files it would call truncated (so that errors are
the archive's own). For the files it accepts, the record equals ``read_record``'s.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from pydicom.charset import python_encoding

from tuipacs import elements
from tuipacs.imaging.limits import PixelLayout, frame_count, pixel_problem
from tuipacs.store.instance import uid_problem
from tuipacs.store.records import MEDIA_STORAGE_DIRECTORY, InstanceRecord, read_record

_HEAD = 1 << 17
_UNDEFINED = elements.UNDEFINED
_PIXEL_DATA = 0x7FE00010
_IMPLICIT_LE = "1.2.840.10008.1.2"
_EXPLICIT_LE = "1.2.840.10008.1.2.1"

#: InstanceRecord field -> tag of the text attributes read_record takes.
_TEXT = {
    "patient_id": 0x00100020,
    "patient_name": 0x00100010,
    "birth_date": 0x00100030,
    "sex": 0x00100040,
    "study_uid": 0x0020000D,
    "study_date": 0x00080020,
    "study_time": 0x00080030,
    "accession": 0x00080050,
    "study_description": 0x00081030,
    "referring": 0x00080090,
    "study_id": 0x00200010,
    "series_uid": 0x0020000E,
    "series_number": 0x00200011,
    "series_description": 0x0008103E,
    "modality": 0x00080060,
    "body_part": 0x00180015,
    "series_date": 0x00080021,
    "sop_uid": 0x00080018,
    "sop_class_uid": 0x00080016,
    "image_position": 0x00200032,
    "image_orientation": 0x00200037,
    "issuer_of_patient_id": 0x00100021,
}
_INSTANCE_NUMBER = 0x00200013
_FRAMES = 0x00280008
_ROWS = 0x00280010
_COLUMNS = 0x00280011
_SAMPLES = 0x00280002
_PHOTOMETRIC = 0x00280004
_BITS_ALLOCATED = 0x00280100
_CHARSET = 0x00080005
#: Person names may be non-ASCII here (single-byte character sets or UTF-8); other
#: non-ASCII text goes to read_record.
_PERSON_NAMES = frozenset({0x00100010, 0x00080090})
_PIXELS = (_SAMPLES, _PHOTOMETRIC, _BITS_ALLOCATED)
_WANTED = frozenset(
    [*_TEXT.values(), _INSTANCE_NUMBER, _FRAMES, _ROWS, _COLUMNS, _CHARSET, *_PIXELS]
)
#: Key of _scan's result holding the Pixel Data's value length, or its fragment count
#: (after the Basic Offset Table) when it is encapsulated.
_PIXEL_SIZE = -1


class _Unsure(Exception):
    """Leave this file to read_record."""


def _element(data: bytes, pos: int, explicit: bool) -> tuple[int, int, int, bytes]:
    """(tag, value length, value position, VR) at pos; _Unsure where the shared scanner
    fails (short data, or a VR pydicom could not read back: read_record decides)."""
    try:
        return elements.header(data, pos, explicit, strict=True)
    except elements.ElementError:
        raise _Unsure from None


def _skip_sequence(data: bytes, pos: int, explicit: bool) -> int:
    """Position after an undefined-length sequence whose items start at pos."""
    try:
        return elements.skip_sequence(data, pos, explicit, strict=True)
    except elements.ElementError:
        raise _Unsure from None


def _check_fragments(path: Path, pos: int, size: int) -> int:
    """Walk encapsulated pixel data items to their delimiter; the number of fragments after
    the Basic Offset Table. _Unsure if the delimiter is not there."""
    items = 0
    with open(path, "rb") as handle:
        while pos + 8 <= size:
            handle.seek(pos)
            group, elem, length = struct.unpack("<HHL", handle.read(8))
            if group != 0xFFFE:
                raise _Unsure
            if elem == 0xE0DD:
                return max(0, items - 1)
            if elem != 0xE000 or length == _UNDEFINED:
                raise _Unsure
            items += 1
            pos += 8 + length
    raise _Unsure


def _meta(data: bytes) -> tuple[int, dict[int, bytes]]:
    """End of the File Meta group and its values (raises _Unsure if unusual)."""
    if len(data) < 144 or data[128:132] != b"DICM":
        raise _Unsure
    tag, length, start, _ = _element(data, 132, True)
    if tag != 0x00020000 or length != 4:
        raise _Unsure
    end = start + 4 + struct.unpack_from("<L", data, start)[0]
    values: dict[int, bytes] = {}
    pos = start + 4
    while pos < end:
        tag, length, start, _ = _element(data, pos, True)
        if length == _UNDEFINED or start + length > end:
            raise _Unsure
        values[tag] = data[start : start + length]
        pos = start + length
    return end, values


def _text(raw: bytes, codec: str | None = None) -> str:
    """A text value as read_record returns it: plain ASCII, or decoded with `codec`."""
    if raw.isascii():
        return raw.decode("ascii").strip(" \x00")
    if codec is None:
        raise _Unsure
    try:
        return raw.decode(codec).strip(" \x00")
    except UnicodeDecodeError:
        raise _Unsure from None


def _codec(raw: bytes | None) -> str | None:
    """Python codec of a single-valued, non-ISO-2022 Specific Character Set (else None)."""
    if not raw:
        return None
    name = _text(raw)
    if "\\" in name or not name.startswith("ISO_IR"):
        return None
    return python_encoding.get(name)


def _scan(path: Path, data: bytes, size: int, pos: int, explicit: bool) -> dict[int, bytes]:
    """Wanted top-level values; checks that the last element ends inside the file.

    The Pixel Data's length (or fragment count) is under the key _PIXEL_SIZE, 4 bytes.
    """
    out: dict[int, bytes] = {}
    while pos < size:
        tag, length, start, vr = _element(data, pos, explicit)
        if length == _UNDEFINED:
            if tag == _PIXEL_DATA:
                out[_PIXEL_SIZE] = struct.pack("<L", _check_fragments(path, start, size))
                return out
            pos = _skip_sequence(data, start, explicit)
            continue
        if not explicit and tag in _WANTED and length > 1024:
            raise _Unsure
        if start + length > size:
            raise _Unsure  # truncated: read_record words the error
        if tag == _PIXEL_DATA:
            out[_PIXEL_SIZE] = struct.pack("<L", length)
        if tag in _WANTED:
            if start + length > len(data):
                raise _Unsure
            out[tag] = data[start : start + length]
        if start + length > len(data) and tag != _PIXEL_DATA:
            raise _Unsure
        pos = start + length
        if pos > len(data) and pos != size:
            raise _Unsure
    return out


def _record(path: Path) -> InstanceRecord:
    """The record, or _Unsure."""
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        data = handle.read(_HEAD)
    end, meta = _meta(data)
    syntax = _text(meta.get(0x00020010, b""))
    if syntax not in (_IMPLICIT_LE, _EXPLICIT_LE) and not syntax.startswith(
        ("1.2.840.10008.1.2.4.", "1.2.840.10008.1.2.5")
    ):
        raise _Unsure
    if _text(meta.get(0x00020002, b"")) == MEDIA_STORAGE_DIRECTORY:
        raise _Unsure
    values = _scan(path, data, size, end, syntax != _IMPLICIT_LE)
    codec = _codec(values.get(_CHARSET))
    fields = {
        name: _text(values.get(tag, b""), codec if tag in _PERSON_NAMES else None)
        for name, tag in _TEXT.items()
    }
    if not fields["sop_uid"]:
        fields["sop_uid"] = _text(meta.get(0x00020003, b""))
    if not fields["sop_class_uid"]:
        fields["sop_class_uid"] = _text(meta.get(0x00020002, b""))
    if uid_problem(fields["sop_uid"], fields["study_uid"], fields["series_uid"]) is not None:
        raise _Unsure  # read_record refuses it, in the same words as import
    if _PIXEL_SIZE in values and _pixel_problem(values, syntax) is not None:
        raise _Unsure  # read_record refuses it, in the same words as import
    return InstanceRecord(
        **fields,
        instance_number=_int_text(values.get(_INSTANCE_NUMBER)),
        transfer_syntax=syntax,
        rows=_us(values.get(_ROWS)),
        columns=_us(values.get(_COLUMNS)),
        frames=_int_text(values.get(_FRAMES)) or 1,
        file_size=size,
    )


def _pixel_problem(values: dict[int, bytes], syntax: str) -> str | None:
    """:func:`~tuipacs.imaging.limits.pixel_problem` of the scanned values."""
    compressed = syntax not in (_IMPLICIT_LE, _EXPLICIT_LE)
    size = struct.unpack("<L", values[_PIXEL_SIZE])[0]
    frames = values.get(_FRAMES)
    layout = PixelLayout(
        rows=_us(values.get(_ROWS)),
        columns=_us(values.get(_COLUMNS)),
        bits_allocated=_us(values.get(_BITS_ALLOCATED)),
        samples=_us(values.get(_SAMPLES)) if values.get(_SAMPLES) else 1,
        frames=frame_count(_text(frames) if frames is not None else None),
        photometric=_text(values.get(_PHOTOMETRIC, b"")),
        compressed=compressed,
        length=None if compressed else size,
        fragments=size if compressed else None,
    )
    return pixel_problem(layout)


def _int_text(raw: bytes | None) -> int | None:
    if not raw:
        return None
    text = _text(raw)
    try:
        return int(text) if text else None
    except ValueError:
        return None


def _us(raw: bytes | None) -> int | None:
    if raw is None or len(raw) == 0:
        return None
    if len(raw) != 2:
        raise _Unsure
    return int(struct.unpack("<H", raw)[0])


def fast_record(path: Path) -> InstanceRecord:
    """read_record's result, faster for ordinary files (same exceptions otherwise)."""
    try:
        return _record(path)
    except (_Unsure, OSError, struct.error, ValueError):
        return read_record(path)
