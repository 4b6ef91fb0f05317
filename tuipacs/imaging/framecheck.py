"""Checks of one compressed frame before a decoder sees it (codestream headers, RLE).

The decoders trust what the compressed data says about itself: libjpeg, openjpeg and Pillow
allocate the image size written in the JPEG / JPEG 2000 header (65535 x 65535 in a 1 KB
frame took 7.8 GB), and pylibjpeg-rle writes past its buffer (a Rust panic, which is not
an ``Exception``) when an RLE segment of 16-bit or wider data decodes to more values than
Rows x Columns. :func:`codestream_problem` compares the codestream's own size with the
header's; :func:`rle_overruns` finds the RLE frames that would make pylibjpeg-rle panic,
and :func:`rle_conform` rewrites such a frame the way pydicom's own RLE decoder reads it
(each segment cut to Rows x Columns values), so it still decodes, fast and safely.
"""

from __future__ import annotations

import struct

from tuipacs.imaging.limits import frame_bytes, human_bytes

RLE_LOSSLESS = "1.2.840.10008.1.2.5"
_JPEG_PREFIX = "1.2.840.10008.1.2.4."
_J2K = frozenset(
    {
        "1.2.840.10008.1.2.4.90",
        "1.2.840.10008.1.2.4.91",
        "1.2.840.10008.1.2.4.201",
        "1.2.840.10008.1.2.4.202",
        "1.2.840.10008.1.2.4.203",
    }
)
_SOF = frozenset({*range(0xC0, 0xC4), *range(0xC5, 0xC8), *range(0xC9, 0xCC), 0xCD, 0xCE, 0xCF})
_SOF55 = 0xF7  # JPEG-LS
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
_SCAN_LIMIT = 1 << 20
"""Bytes of a frame searched for its size header (APPn segments come first; 1 MiB is
far more than any real file puts before the frame header)."""


def jpeg_header(data: bytes) -> tuple[int, int, int, int] | None:
    """(columns, rows, components, precision) from a JPEG / JPEG-LS frame header, or None."""
    if data[:2] != b"\xff\xd8":
        return None
    pos, end = 2, min(len(data), _SCAN_LIMIT)
    while pos + 4 <= end:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        if marker in (0xD9, 0xDA):
            return None
        if marker in _SOF or marker == _SOF55:
            if pos + 10 > len(data):
                return None
            precision = data[pos + 4]
            rows, columns = struct.unpack_from(">HH", data, pos + 5)
            return columns, rows, data[pos + 9], precision
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 2:
            return None
        pos += 2 + length
    return None


def j2k_header(data: bytes) -> tuple[int, int, int, int] | None:
    """(columns, rows, components, precision) from a JPEG 2000 SIZ segment, or None."""
    start = data.find(b"\xff\x4f\xff\x51", 0, _SCAN_LIMIT)
    if start < 0 or start + 4 + 38 + 3 > len(data):
        return None
    pos = start + 4
    xsiz, ysiz, xo, yo = struct.unpack_from(">LLLL", data, pos + 4)
    components = struct.unpack_from(">H", data, pos + 36)[0]
    precision = (data[pos + 38] & 0x7F) + 1
    return max(0, xsiz - xo), max(0, ysiz - yo), components, precision


def codestream_problem(data: bytes, syntax: str, rows: int, columns: int, limit: int) -> str | None:
    """Why the JPEG-family codestream of a frame disagrees with Rows x Columns, or None.

    The codestream's own size must equal the header's (a JPEG height of 0, defined later by
    a DNL marker, is not compared) and its components must fit in ``limit`` bytes once
    decoded. Frames whose header cannot be found are left to the decoder.
    """
    if syntax in _J2K:
        found, kind = j2k_header(data), "JPEG 2000"
    elif syntax.startswith(_JPEG_PREFIX):
        found, kind = jpeg_header(data), "JPEG"
    else:
        return None
    if found is None:
        return None
    width, height, components, precision = found
    if width != columns or (height and height != rows):
        return (
            f"the {kind} data is {height} x {width} pixels but Rows x Columns is {rows} x {columns}"
        )
    size = frame_bytes(rows, columns, max(1, components), 16 if precision > 8 else 8)
    if size > limit:
        plural = "component" if components == 1 else "components"
        return (
            f"the {kind} data has {components} {plural} of {precision} bits = "
            f"{human_bytes(size)} per frame, over the decode limit"
        )
    return None


def rle_segments(frame: bytes) -> list[tuple[int, int]] | None:
    """(start, end) of each segment as pylibjpeg-rle reads the header: the non-zero
    offsets, the last segment ending with the frame. None when the header is invalid
    (the decoder then refuses the frame with an error of its own)."""
    if len(frame) < 64:
        return None
    offsets = [value for value in struct.unpack_from("<15L", frame, 4) if value]
    if not offsets or offsets[0] != 64:
        return None
    bounds = [*offsets, len(frame)]
    if any(b <= a for a, b in zip(bounds, bounds[1:], strict=False)):
        return None
    return list(zip(bounds, bounds[1:], strict=False))


def _one_segment(segment: bytes, values: int) -> bytearray:
    """``segment`` decoded to exactly ``values`` bytes (excess cut off); ValueError if short
    or broken. pylibjpeg-rle with 8 bits writes one byte a value: it cannot overrun."""
    from rle.rle import decode_frame

    header = struct.pack("<LL", 1, 64) + bytes(56)
    try:
        decoded: bytearray = decode_frame(header + segment, values, 8, "<")
        return decoded
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # a panic is a BaseException; treat it as a broken segment
        raise ValueError(str(exc) or type(exc).__name__) from None


def rle_overruns(frame: bytes, pixels: int, bits_allocated: int) -> bool:
    """True when pylibjpeg-rle would write past its buffer on ``frame`` (and panic).

    That happens only with 2 or more bytes a sample, for a segment that decodes to more
    than ``pixels`` values (non-conformant padding, or hostile data); broken segments count
    too. Costs one decode of each segment into a buffer of ``pixels + 1`` bytes.
    """
    per_sample = bits_allocated // 8
    if per_sample < 2:
        return False
    segments = rle_segments(frame)
    if segments is None or len(segments) // per_sample not in (1, 3):
        return False
    used = segments[: len(segments) // per_sample * per_sample]
    for start, end in used:
        try:
            _one_segment(frame[start:end], pixels + 1)
        except ValueError as exc:
            if "does not match the expected length" in str(exc):
                continue  # at most `pixels` values: safe
            return True
        return True  # more than `pixels` values
    return False


def _literal_runs(data: bytes | bytearray) -> bytes:
    """``data`` RLE-encoded as literal runs of up to 128 bytes."""
    out = bytearray()
    for pos in range(0, len(data), 128):
        chunk = data[pos : pos + 128]
        out.append(len(chunk) - 1)
        out += chunk
    if len(out) % 2:
        out.append(0x80)  # no-op padding to an even length
    return bytes(out)


def rle_conform(frame: bytes, pixels: int) -> bytes:
    """``frame`` with every segment decoded, cut to ``pixels`` values and encoded again.

    pydicom's own RLE decoder reads over-long segments this way (with a warning). Raises
    ValueError when a segment is broken or too short.
    """
    segments = rle_segments(frame)
    if segments is None:
        raise ValueError("invalid RLE header")
    encoded = [_literal_runs(_one_segment(frame[a:b], pixels)) for a, b in segments]
    offsets, pos = [], 64
    for segment in encoded:
        offsets.append(pos)
        pos += len(segment)
    header = struct.pack(f"<L{len(offsets)}L", len(offsets), *offsets)
    return header.ljust(64, b"\0") + b"".join(encoded)
