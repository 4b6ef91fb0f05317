"""Repair of a common JPEG encoder mistake, so such frames decode as in DCMTK.

Some encoders write sequential-DCT JPEG (SOF0/SOF1) frames whose start-of-scan
header carries a spectral selection end (Se) of 0 instead of 63. Strict decoders
(libjpeg) reject them; DCMTK's IJG decoder ignores those fields for sequential
scans. :func:`repair_sequential_sos` rewrites the fields to their only legal values.
"""

from __future__ import annotations

_SEQUENTIAL_SOF = frozenset({0xC0, 0xC1})
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD9)})


def _segments(data: bytes) -> list[tuple[int, int, int]]:
    """(marker, offset of the marker, segment length) up to and including the first SOS."""
    found: list[tuple[int, int, int]] = []
    pos = 2 if data[:2] == b"\xff\xd8" else -1
    while 0 <= pos < len(data) - 3:
        if data[pos] != 0xFF:
            return []
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        found.append((marker, pos, length))
        if marker == 0xDA:
            break
        pos += 2 + length
    return found


def repair_sequential_sos(data: bytes) -> bytes | None:
    """The frame with Ss=0, Se=63, Ah=Al=0 in its scan header, or ``None`` if not needed.

    Only sequential (baseline or extended) single-scan frames are touched.
    """
    segments = _segments(bytes(data))
    markers = {marker for marker, _, _ in segments}
    if not segments or segments[-1][0] != 0xDA or not markers & _SEQUENTIAL_SOF:
        return None
    _, pos, length = segments[-1]
    tail = pos + 2 + length
    if tail > len(data) or length < 6:
        return None
    fixed = bytearray(data)
    if fixed[tail - 3 : tail] == b"\x00\x3f\x00":
        return None
    fixed[tail - 3 : tail] = b"\x00\x3f\x00"
    return bytes(fixed)
