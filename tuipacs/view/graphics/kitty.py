"""Kitty graphics protocol with Unicode placeholders: pure encoders (no Textual).

The picture is transmitted once per change under a FIXED image id with a virtual placement
(``a=T,U=1``); the screen shows it wherever placeholder cells (U+10EEEE plus row/column
diacritics, image id in the foreground colour) are drawn. Re-transmitting under the same id
replaces the pixels; the placeholder text never has to be re-sent for a pixel change.
Spec: https://sw.kovidgoyal.net/kitty/graphics-protocol/#unicode-placeholders
"""

from __future__ import annotations

import base64
import io
import itertools
import random
import struct
import zlib

import numpy as np
from PIL import Image

PLACEHOLDER = "\U0010eeee"
CHUNK_SIZE = 4096
APC_START = "\x1b_G"
ST = "\x1b\\"

# Row/column numbers as combining diacritics (kitty's rowcolumn-diacritics.txt), index = number.
# fmt: off
_DIACRITIC_CODES = (
    0x00305, 0x0030D, 0x0030E, 0x00310, 0x00312, 0x0033D, 0x0033E, 0x0033F, 0x00346,
    0x0034A, 0x0034B, 0x0034C, 0x00350, 0x00351, 0x00352, 0x00357, 0x0035B, 0x00363,
    0x00364, 0x00365, 0x00366, 0x00367, 0x00368, 0x00369, 0x0036A, 0x0036B, 0x0036C,
    0x0036D, 0x0036E, 0x0036F, 0x00483, 0x00484, 0x00485, 0x00486, 0x00487, 0x00592,
    0x00593, 0x00594, 0x00595, 0x00597, 0x00598, 0x00599, 0x0059C, 0x0059D, 0x0059E,
    0x0059F, 0x005A0, 0x005A1, 0x005A8, 0x005A9, 0x005AB, 0x005AC, 0x005AF, 0x005C4,
    0x00610, 0x00611, 0x00612, 0x00613, 0x00614, 0x00615, 0x00616, 0x00617, 0x00657,
    0x00658, 0x00659, 0x0065A, 0x0065B, 0x0065D, 0x0065E, 0x006D6, 0x006D7, 0x006D8,
    0x006D9, 0x006DA, 0x006DB, 0x006DC, 0x006DF, 0x006E0, 0x006E1, 0x006E2, 0x006E4,
    0x006E7, 0x006E8, 0x006EB, 0x006EC, 0x00730, 0x00732, 0x00733, 0x00735, 0x00736,
    0x0073A, 0x0073D, 0x0073F, 0x00740, 0x00741, 0x00743, 0x00745, 0x00747, 0x00749,
    0x0074A, 0x007EB, 0x007EC, 0x007ED, 0x007EE, 0x007EF, 0x007F0, 0x007F1, 0x007F3,
    0x00816, 0x00817, 0x00818, 0x00819, 0x0081B, 0x0081C, 0x0081D, 0x0081E, 0x0081F,
    0x00820, 0x00821, 0x00822, 0x00823, 0x00825, 0x00826, 0x00827, 0x00829, 0x0082A,
    0x0082B, 0x0082C, 0x0082D, 0x00951, 0x00953, 0x00954, 0x00F82, 0x00F83, 0x00F86,
    0x00F87, 0x0135D, 0x0135E, 0x0135F, 0x017DD, 0x0193A, 0x01A17, 0x01A75, 0x01A76,
    0x01A77, 0x01A78, 0x01A79, 0x01A7A, 0x01A7B, 0x01A7C, 0x01B6B, 0x01B6D, 0x01B6E,
    0x01B6F, 0x01B70, 0x01B71, 0x01B72, 0x01B73, 0x01CD0, 0x01CD1, 0x01CD2, 0x01CDA,
    0x01CDB, 0x01CE0, 0x01DC0, 0x01DC1, 0x01DC3, 0x01DC4, 0x01DC5, 0x01DC6, 0x01DC7,
    0x01DC8, 0x01DC9, 0x01DCB, 0x01DCC, 0x01DD1, 0x01DD2, 0x01DD3, 0x01DD4, 0x01DD5,
    0x01DD6, 0x01DD7, 0x01DD8, 0x01DD9, 0x01DDA, 0x01DDB, 0x01DDC, 0x01DDD, 0x01DDE,
    0x01DDF, 0x01DE0, 0x01DE1, 0x01DE2, 0x01DE3, 0x01DE4, 0x01DE5, 0x01DE6, 0x01DFE,
    0x020D0, 0x020D1, 0x020D4, 0x020D5, 0x020D6, 0x020D7, 0x020DB, 0x020DC, 0x020E1,
    0x020E7, 0x020E9, 0x020F0, 0x02CEF, 0x02CF0, 0x02CF1, 0x02DE0, 0x02DE1, 0x02DE2,
    0x02DE3, 0x02DE4, 0x02DE5, 0x02DE6, 0x02DE7, 0x02DE8, 0x02DE9, 0x02DEA, 0x02DEB,
    0x02DEC, 0x02DED, 0x02DEE, 0x02DEF, 0x02DF0, 0x02DF1, 0x02DF2, 0x02DF3, 0x02DF4,
    0x02DF5, 0x02DF6, 0x02DF7, 0x02DF8, 0x02DF9, 0x02DFA, 0x02DFB, 0x02DFC, 0x02DFD,
    0x02DFE, 0x02DFF, 0x0A66F, 0x0A67C, 0x0A67D, 0x0A6F0, 0x0A6F1, 0x0A8E0, 0x0A8E1,
    0x0A8E2, 0x0A8E3, 0x0A8E4, 0x0A8E5, 0x0A8E6, 0x0A8E7, 0x0A8E8, 0x0A8E9, 0x0A8EA,
    0x0A8EB, 0x0A8EC, 0x0A8ED, 0x0A8EE, 0x0A8EF, 0x0A8F0, 0x0A8F1, 0x0AAB0, 0x0AAB2,
    0x0AAB3, 0x0AAB7, 0x0AAB8, 0x0AABE, 0x0AABF, 0x0AAC1, 0x0FE20, 0x0FE21, 0x0FE22,
    0x0FE23, 0x0FE24, 0x0FE25, 0x0FE26, 0x10A0F, 0x10A38, 0x1D185, 0x1D186, 0x1D187,
    0x1D188, 0x1D189, 0x1D1AA, 0x1D1AB, 0x1D1AC, 0x1D1AD, 0x1D242, 0x1D243, 0x1D244,
)
# fmt: on
DIACRITICS = tuple(chr(code) for code in _DIACRITIC_CODES)
MAX_CELLS = len(DIACRITICS)

# 256-colour ids: cube colours that Rich maps back to the same palette index (no greys).
_CUBE_LEVELS = (0, 95, 135, 175, 215, 255)
_EIGHT_BIT_IDS = tuple(
    16 + 36 * r + 6 * g + b
    for r in range(6)
    for g in range(6)
    for b in range(6)
    if len({r, g, b}) > 1
)
_TRUECOLOR_IDS = itertools.count(random.randrange(0x100000, 0xE00000, 0x100))
_EIGHT_BIT_COUNTER = itertools.count(random.randrange(len(_EIGHT_BIT_IDS)))


def allocate_image_id(truecolor: bool = True) -> int:
    """A new image id for this process, encodable in the placeholder foreground colour.

    With ``truecolor`` the id is 24-bit (colour ``rgb(id)``); otherwise it is a 256-colour
    palette index that survives Rich's colour downgrade unchanged.
    """
    if truecolor:
        return next(_TRUECOLOR_IDS) & 0xFFFFFF or 0x123456
    return _EIGHT_BIT_IDS[next(_EIGHT_BIT_COUNTER) % len(_EIGHT_BIT_IDS)]


def id_colour(image_id: int, truecolor: bool = True) -> tuple[int, int, int]:
    """The RGB foreground colour that encodes ``image_id`` in placeholder cells."""
    if truecolor:
        return (image_id >> 16) & 0xFF, (image_id >> 8) & 0xFF, image_id & 0xFF
    index = image_id - 16
    return _CUBE_LEVELS[index // 36], _CUBE_LEVELS[(index // 6) % 6], _CUBE_LEVELS[index % 6]


def tmux_wrap(sequence: str) -> str:
    """Wrap an escape sequence for tmux passthrough (``ESC Ptmux; ... ESC \\``, ESC doubled)."""
    return "\x1bPtmux;" + sequence.replace("\x1b", "\x1b\x1b") + ST


def encode_png(array: np.ndarray, compress_level: int = 1) -> bytes:
    """PNG bytes of a uint8 grey (H x W) or RGB (H x W x 3) array; zlib level 1 by default."""
    image = Image.fromarray(np.ascontiguousarray(array))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def encode_png_fast(array: np.ndarray) -> bytes:
    """PNG bytes of a uint8 grey (H x W) or RGB (H x W x 3) array, made for speed: every row
    with the Sub filter (computed with numpy) and zlib level 1.

    Pillow picks a filter per row and takes about 3x as long at its fastest level (a
    windowed 800 x 800 CT: 4-5 ms here against 11 ms for Pillow at level 1 and 19 ms at
    level 6), for frames about 20 % larger than Pillow's level 6: the right trade where the
    link carries bytes faster than the encoder squeezes them (a local terminal)."""
    pixels = np.ascontiguousarray(array)
    if pixels.ndim == 2:
        colour, step = 0, 1
    elif pixels.ndim == 3 and pixels.shape[2] == 3:
        colour, step = 2, 3
    else:
        raise ValueError(f"cannot make a PNG of an array of shape {pixels.shape}")
    height, width = pixels.shape[:2]
    flat = pixels.reshape(height, width * step)
    rows = np.empty((height, width * step + 1), np.uint8)
    rows[:, 0] = 1  # Sub: each byte minus the byte one pixel to its left
    rows[:, 1 : step + 1] = flat[:, :step]
    np.subtract(flat[:, step:], flat[:, :-step], out=rows[:, step + 1 :], dtype=np.uint8)
    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(rows.tobytes(), 1)),
            _chunk(b"IEND", b""),
        )
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def transmit(
    png: bytes,
    image_id: int,
    cols: int,
    rows: int,
    *,
    tmux: bool = False,
    chunk_size: int = CHUNK_SIZE,
) -> str:
    """Escape sequences that (re)transmit ``png`` as ``image_id`` with a cols x rows
    virtual placement, in base64 chunks of ``chunk_size`` (``m=1`` ... ``m=0``)."""
    payload = base64.standard_b64encode(png).decode("ascii")
    chunks = [payload[i : i + chunk_size] for i in range(0, len(payload), chunk_size)] or [""]
    head = f"a=T,U=1,i={image_id},f=100,c={cols},r={rows},q=2"
    parts = []
    last = len(chunks) - 1
    for index, chunk in enumerate(chunks):
        keys = f"{head},m={int(index < last)}" if index == 0 else f"m={int(index < last)}"
        sequence = f"{APC_START}{keys};{chunk}{ST}"
        parts.append(tmux_wrap(sequence) if tmux else sequence)
    return "".join(parts)


def delete(image_id: int, *, tmux: bool = False) -> str:
    """Escape sequence deleting ``image_id`` with its placements and freeing its data."""
    sequence = f"{APC_START}a=d,d=I,i={image_id},q=2{ST}"
    return tmux_wrap(sequence) if tmux else sequence


def placeholder_row(image_id: int, row: int, cols: int) -> str:
    """Text of one placeholder row: each cell carries its row and column diacritics
    (and the id's high byte when the id needs more than 24 bits)."""
    if cols > MAX_CELLS or row >= MAX_CELLS:
        raise ValueError(f"placeholder box too large: at most {MAX_CELLS} cells a side")
    high = DIACRITICS[(image_id >> 24) & 0xFF] if image_id > 0xFFFFFF else ""
    row_mark = DIACRITICS[row]
    return "".join(f"{PLACEHOLDER}{row_mark}{DIACRITICS[col]}{high}" for col in range(cols))


def placeholder_rows(image_id: int, cols: int, rows: int) -> list[str]:
    """Placeholder text for a cols x rows box, one string per row."""
    return [placeholder_row(image_id, row, cols) for row in range(rows)]
