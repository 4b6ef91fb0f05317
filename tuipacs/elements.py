"""The one raw element scanner: walk Little Endian DICOM element headers without pydicom.

Used where pydicom would cost too much or trust too much: the Storage SCP's fast path finds
a received dataset's Study/Series UIDs in its first bytes (tuipacs.dicom.transport.codec),
the server reads the header of a received file (tuipacs.server.records), and the archive
finds where a file's dataset starts (tuipacs.store.identity). Every read is bounds-checked:
short data raises :class:`ElementError` (a ValueError), never an IndexError or a struct
error, and a length never makes anything allocate.
"""

from __future__ import annotations

import struct

UNDEFINED = 0xFFFFFFFF
#: Explicit VRs with a 2-byte reserved field and a 4-byte length.
LONG_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT", b"SV", b"UV"}
)
#: The value representations of PS3.5; anything else in an explicit VR dataset is not DICOM.
KNOWN_VRS = frozenset(
    v.encode()
    for v in "AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV "
    "TM UC UI UL UN UR US UT UV".split()
)
PIXEL_DATA = 0x7FE00010
_ITEM = 0xFFFEE000
_ITEM_END = 0xFFFEE00D
_SEQUENCE_END = 0xFFFEE0DD
_LE = struct.Struct("<HH")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<L")


class ElementError(ValueError):
    """The bytes cannot be walked as elements (short, or an unknown VR when strict)."""


Data = memoryview | bytes | bytearray


def header(
    data: Data, pos: int, explicit: bool, strict: bool = False
) -> tuple[int, int, int, bytes]:
    """(tag, value length, value position, VR) of the element at ``pos``.

    Items and delimiters (group FFFE) have no VR in either encoding. With ``strict``, an
    explicit VR that PS3.5 does not define raises ElementError.
    """
    if pos < 0 or pos + 8 > len(data):
        raise ElementError("data ends inside an element header")
    group, elem = _LE.unpack_from(data, pos)
    tag = (group << 16) | elem
    if explicit and group != 0xFFFE:
        vr = bytes(data[pos + 4 : pos + 6])
        if strict and vr not in KNOWN_VRS:
            raise ElementError(f"unknown value representation {vr!r}")
        if vr in LONG_VRS:
            if pos + 12 > len(data):
                raise ElementError("data ends inside an element header")
            return tag, _U32.unpack_from(data, pos + 8)[0], pos + 12, vr
        return tag, _U16.unpack_from(data, pos + 6)[0], pos + 8, vr
    return tag, _U32.unpack_from(data, pos + 4)[0], pos + 8, b""


#: Deepest nesting of undefined-length sequences walked (a crafted file could nest thousands).
MAX_DEPTH = 64


def skip_sequence(
    data: Data, pos: int, explicit: bool, strict: bool = False, depth: int = 0
) -> int:
    """Position after an undefined-length sequence whose items start at ``pos``."""
    if depth > MAX_DEPTH:
        raise ElementError(f"sequences nested deeper than {MAX_DEPTH}")
    while True:
        tag, length, pos, _ = header(data, pos, False)
        if tag == _SEQUENCE_END:
            return pos
        if tag != _ITEM:
            raise ElementError("not a sequence item")
        if length != UNDEFINED:
            pos += length
            continue
        while True:  # an undefined-length item: elements until the item delimiter
            tag, length, pos, _ = header(data, pos, explicit, strict)
            if tag == _ITEM_END:
                break
            if length == UNDEFINED:
                pos = skip_sequence(data, pos, explicit, strict, depth + 1)
            else:
                pos += length


def scan_elements(
    data: Data,
    explicit: bool,
    wanted: frozenset[int],
    stop_after: int | None = None,
) -> tuple[dict[int, bytes], bool]:
    """Raw values of the wanted top-level tags of a Little Endian dataset.

    Returns (values, done): done is True when the scan reached the end of ``data`` exactly
    or passed ``stop_after``; False when ``data`` ends inside an element (more bytes may
    follow). Raises ElementError for data it cannot walk.
    """
    out: dict[int, bytes] = {}
    pos, end = 0, len(data)
    try:
        while pos < end:
            tag, length, start, _ = header(data, pos, explicit)
            if stop_after is not None and tag > stop_after:
                return out, True
            if length == UNDEFINED:
                if tag == PIXEL_DATA:  # encapsulated pixel data: nothing wanted follows
                    return out, True
                pos = skip_sequence(data, start, explicit)
                continue
            if start + length > end:
                return out, False
            if tag in wanted:
                out[tag] = bytes(data[start : start + length])
            pos = start + length
    except ElementError as exc:
        if "ends inside" in str(exc):
            return out, False
        raise
    return out, True


def dataset_offset(head: Data, size: int) -> int:
    """Where the dataset starts in a Part-10 file beginning with ``head`` (after the File
    Meta Information); 0 for a file without the ``DICM`` prefix."""
    if len(head) < 132 or bytes(head[128:132]) != b"DICM":
        return 0
    pos = 132
    limit = min(len(head), size)
    while pos + 8 <= limit:
        try:
            tag, length, start, _ = header(head, pos, True)
        except ElementError:
            break
        if tag >> 16 != 0x0002:
            return pos
        pos = start + length
    return min(pos, size)
