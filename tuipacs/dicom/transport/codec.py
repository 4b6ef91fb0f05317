"""Encoding and decoding of DIMSE command sets and Part-10 headers, without pydicom.

Used by the fast path of our DUL (:mod:`tuipacs.dicom.transport.fast_dul`): command sets are parsed
into {element: raw value}, C-STORE responses and failure responses are encoded directly,
received datasets get a Part-10 preamble and File Meta, and the Study/Series UIDs of a
dataset are found in its first bytes. Every value comes from a peer: parsers raise
ValueError (or struct.error) on bad input and never trust a length they cannot check.
"""

from __future__ import annotations

import re
import struct

from pynetdicom import PYNETDICOM_IMPLEMENTATION_UID, PYNETDICOM_IMPLEMENTATION_VERSION

from tuipacs.dicom.transport.wire import MAX_COMMAND, MAX_MESSAGE_DATASET
from tuipacs.elements import scan_elements

NO_DATASET = 0x0101
#: What a valid UID is made of (PS3.5 9.1), padding removed.
_UID_RE = re.compile(r"[0-9.]{1,64}")


def parse_command(data: memoryview | bytes | bytearray) -> dict[int, bytes]:
    """Parse an Implicit VR Little Endian command set into {element number: raw value}."""
    out, end = parse_command_prefix(data)
    if end != len(data):
        raise ValueError("not a command set, or a truncated one")
    return out


def parse_command_prefix(data: memoryview | bytes | bytearray) -> tuple[dict[int, bytes], int]:
    """The group-0000 elements at the start of `data` that are complete, and where they end.

    Lenient: stops at the first element that is not in group 0000 or runs past the end,
    so the message ID and command field of a command set too long to keep can still be
    read from its first bytes (they come before the UIDs that made it long, or not).
    """
    out: dict[int, bytes] = {}
    pos, end = 0, len(data)
    while pos + 8 <= end:
        group, elem, length = struct.unpack_from("<HHL", data, pos)
        if group != 0x0000 or pos + 8 + length > end:
            break
        out[elem] = bytes(data[pos + 8 : pos + 8 + length])
        pos += 8 + length
    return out, pos


def us(cmd: dict[int, bytes], elem: int) -> int | None:
    """An US value of a parsed command set, or None."""
    raw = cmd.get(elem)
    return struct.unpack("<H", raw[:2])[0] if raw is not None and len(raw) >= 2 else None


def ul(cmd: dict[int, bytes], elem: int) -> int | None:
    """An UL value of a parsed command set, or None."""
    raw = cmd.get(elem)
    return struct.unpack("<L", raw[:4])[0] if raw is not None and len(raw) >= 4 else None


def text_value(cmd: dict[int, bytes], elem: int) -> str:
    """A UI/AE value of a parsed command set, without padding."""
    return cmd.get(elem, b"").decode("ascii", "replace").rstrip("\x00 ")


def valid_uid(raw: bytes | None) -> str | None:
    """The UID in a raw UI value if it is one (digits and dots, 1-64 characters), else None."""
    if raw is None or len(raw) > 66:
        return None
    text = raw.rstrip(b"\x00 ").decode("ascii", "replace")
    return text if _UID_RE.fullmatch(text) else None


def shown(raw: bytes, limit: int = 40) -> str:
    """A raw value from a peer for a log line: unpadded, ASCII-escaped, quoted, cut to `limit`."""
    raw = raw.rstrip(b"\x00 ")
    text = ascii(raw[:limit].decode("latin-1"))
    return text + (f" (+{len(raw) - limit} bytes)" if len(raw) > limit else "")


_STUDY_UID = 0x0020000D
_SERIES_UID = 0x0020000E
EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"


def header_uids(data: memoryview | bytes | bytearray, syntax: str) -> tuple[str, str] | None:
    """Study and Series Instance UIDs from the first bytes of a dataset, or None."""
    if syntax not in (EXPLICIT_LE, IMPLICIT_LE) and not _encapsulated_le(syntax):
        return None
    try:
        values, _ = scan_elements(
            data, syntax != IMPLICIT_LE, frozenset({_STUDY_UID, _SERIES_UID}), _SERIES_UID
        )
    except ValueError:
        return None
    study, series = values.get(_STUDY_UID), values.get(_SERIES_UID)
    if not study or not series:
        return None
    return _uid_text(study), _uid_text(series)


def _encapsulated_le(syntax: str) -> bool:
    """True for the compressed syntaxes (Explicit VR Little Endian dataset headers)."""
    return syntax.startswith(("1.2.840.10008.1.2.4.", "1.2.840.10008.1.2.5"))


def _uid_text(raw: bytes) -> str:
    """A UI value without padding."""
    return raw.decode("ascii", "replace").rstrip("\x00 ")


def _uid_bytes(uid: str | bytes) -> bytes:
    """A UID value padded with NUL to even length (bytes from a peer are echoed as they are)."""
    raw = uid.encode("ascii") if isinstance(uid, str) else uid
    return raw + b"\x00" if len(raw) % 2 else raw


def _implicit(elem: int, value: bytes) -> bytes:
    """One group-0000 element, Implicit VR Little Endian."""
    return struct.pack("<HHL", 0x0000, elem, len(value)) + value


def store_response(
    sop_class: str | bytes, sop_instance: str | bytes | None, message_id: int, status: int
) -> bytes:
    """Encode a C-STORE-RSP command set (UIDs given as bytes are echoed unchanged)."""
    return _response(0x8001, sop_class, sop_instance, message_id, status)


def _response(
    field: int,
    sop_class: str | bytes | None,
    sop_instance: str | bytes | None,
    message_id: int,
    status: int,
) -> bytes:
    """Encode a response command set without dataset (UIDs left out when None)."""
    parts = []
    if sop_class is not None:
        parts.append(_implicit(0x0002, _uid_bytes(sop_class)))
    parts += [
        _implicit(0x0100, struct.pack("<H", field)),
        _implicit(0x0120, struct.pack("<H", message_id)),
        _implicit(0x0800, struct.pack("<H", NO_DATASET)),
        _implicit(0x0900, struct.pack("<H", status)),
    ]
    if sop_instance is not None:
        parts.append(_implicit(0x1000, _uid_bytes(sop_instance)))
    body = b"".join(parts)
    return _implicit(0x0000, struct.pack("<L", len(body))) + body


#: Requests we can answer with a failure status: C-STORE, C-GET, C-FIND, C-MOVE.
_ANSWERABLE = frozenset({0x0001, 0x0010, 0x0020, 0x0021})
#: Longest UID value echoed in a failure response (anything longer is left out).
_ECHO_MAX = 64


def failure_response(cmd: dict[int, bytes], status: int) -> bytes | None:
    """The response to a request we refuse (e.g. 0xC000), or None if it cannot be answered.

    Only C-STORE, C-FIND, C-GET and C-MOVE requests whose command field and message ID
    are known get an answer; their SOP UIDs are echoed if short enough.
    """
    field, message_id = us(cmd, 0x0100), us(cmd, 0x0110)
    if field not in _ANSWERABLE or message_id is None:
        return None
    sop_class, sop_instance = cmd.get(0x0002), cmd.get(0x1000)
    if sop_class is not None and len(sop_class) > _ECHO_MAX:
        sop_class = None
    if sop_instance is not None and (len(sop_instance) > _ECHO_MAX or field != 0x0001):
        sop_instance = None
    return _response(field | 0x8000, sop_class, sop_instance, message_id, status)


class CommandCollector:
    """The fragments of one command set, kept up to `keep` bytes (then only counted)."""

    def __init__(self, context_id: int, keep: int = MAX_MESSAGE_DATASET) -> None:
        """Start collecting a command on this presentation context."""
        self.context_id = context_id
        self.keep = keep
        self.size = 0
        self.data = bytearray()

    def too_long(self, cmd: dict[int, bytes]) -> int | None:
        """The limit this command set (parsed: `cmd`) exceeds, or None.

        MAX_COMMAND for a request (and for what cannot be read), else the `keep` bound:
        DCMTK-based archives put the Failed SOP Instance UID List of a C-GET response in
        its command set, a few KiB per hundred failures.
        """
        field = us(cmd, 0x0100)
        limit = self.keep if field is not None and field & 0x8000 else MAX_COMMAND
        return limit if self.size > min(limit, self.keep) else None

    def add(self, fragment: memoryview | bytes) -> None:
        """Add a fragment (bytes beyond `keep` are dropped)."""
        room = self.keep - len(self.data)
        if room > 0:
            self.data += fragment[:room]
        self.size += len(fragment)


def _explicit(elem: int, vr: bytes, value: bytes) -> bytes:
    """One group-0002 element, Explicit VR Little Endian."""
    if vr == b"OB":
        return (
            struct.pack("<HH", 0x0002, elem)
            + vr
            + b"\x00\x00"
            + struct.pack("<L", len(value))
            + value
        )
    return struct.pack("<HH", 0x0002, elem) + vr + struct.pack("<H", len(value)) + value


def _padded(text: str) -> bytes:
    """A text value padded with a space to even length."""
    raw = text.encode("ascii", "replace")
    return raw + b" " if len(raw) % 2 else raw


def file_preamble(sop_class: str, sop_instance: str, syntax: str, source_ae: str) -> bytes:
    """Preamble, 'DICM' and File Meta Information for a received dataset."""
    body = b"".join(
        [
            _explicit(0x0001, b"OB", b"\x00\x01"),
            _explicit(0x0002, b"UI", _uid_bytes(sop_class)),
            _explicit(0x0003, b"UI", _uid_bytes(sop_instance)),
            _explicit(0x0010, b"UI", _uid_bytes(syntax)),
            _explicit(0x0012, b"UI", _uid_bytes(PYNETDICOM_IMPLEMENTATION_UID)),
            _explicit(0x0013, b"SH", _padded(PYNETDICOM_IMPLEMENTATION_VERSION)),
            _explicit(0x0016, b"AE", _padded(source_ae or "ANONYMOUS")),
        ]
    )
    group = _explicit(0x0000, b"UL", struct.pack("<L", len(body)))
    return b"\x00" * 128 + b"DICM" + group + body


def pdata_pdu(context_id: int, control: int, payload: bytes) -> bytes:
    """A P-DATA-TF PDU with one PDV."""
    item = struct.pack(">LBB", len(payload) + 2, context_id, control) + payload
    return struct.pack(">BBL", 0x04, 0x00, len(item)) + item
