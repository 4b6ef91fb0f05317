"""Sixel encoder, vectorised with numpy (no Textual).

Sixel colour registers are RGB percentages, so a grey picture can show at most 101 distinct
levels: grey is quantised to those 101 levels here (not to 16 or 32 as generic encoders do).
RGB pictures go through a Pillow palette of at most 256 colours. Runs of 4 or more equal
sixels are run-length encoded (``!n``); trailing empty sixels of a colour row are dropped.

The encoder is sparse: it handles only the (band, column, register) triples present (at most
one per pixel), orders them with a radix sort, finds the runs with array comparisons and lays
the bytes down with one ``np.repeat`` and a few scatters: no Python loop per pixel or run.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image

GREY_LEVELS = 101
MAX_COLOURS = 256
MAX_REGISTERS = 4096
DCS_START = '\x1bP0;1;0q"1;1;'
ST = "\x1b\\"

_HASH, _BANG, _DOLLAR, _DASH = (ord(c) for c in "#!$-")


def grey_palette(levels: int = GREY_LEVELS) -> np.ndarray:
    """(levels, 3) register colours in percent for evenly spaced greys (0 % ... 100 %)."""
    percent = np.round(np.arange(levels) * 100.0 / (levels - 1)).astype(np.int64)
    return np.repeat(percent[:, None], 3, axis=1)


def quantise_grey(grey: np.ndarray, levels: int = GREY_LEVELS) -> np.ndarray:
    """Map uint8 grey values to register indices 0 ... levels-1 (nearest level)."""
    lut = np.round(np.arange(256) * (levels - 1) / 255.0).astype(np.uint8)
    result: np.ndarray = lut[grey]
    return result


def quantise_rgb(rgb: np.ndarray, colours: int = MAX_COLOURS) -> tuple[np.ndarray, np.ndarray]:
    """Palette indices (H x W) and (n, 3) register colours in percent for an RGB array.

    Exact when the picture has at most ``colours`` distinct colours at register precision
    (1 %); otherwise Pillow's fast octree palette.
    """
    percent = np.round(rgb.astype(np.float32) / 2.55).astype(np.int64)
    keys = (percent[..., 0] * 101 + percent[..., 1]) * 101 + percent[..., 2]
    counts = np.bincount(keys.ravel(), minlength=101**3)
    used = np.flatnonzero(counts)
    if len(used) <= colours:
        lookup = np.zeros(101**3, dtype=np.intp)
        lookup[used] = np.arange(len(used))
        palette = np.stack([used // 10201, (used // 101) % 101, used % 101], axis=1)
        return lookup[keys], palette
    image = Image.fromarray(np.ascontiguousarray(rgb), "RGB")
    quantised = image.quantize(colors=colours, method=Image.Quantize.FASTOCTREE)
    indices = np.asarray(quantised)
    raw = quantised.getpalette() or [0, 0, 0]
    count = int(indices.max()) + 1
    palette = np.asarray(raw[: 3 * count], dtype=np.int64).reshape(-1, 3)
    return indices, np.round(palette * 100.0 / 255.0).astype(np.int64)


def _digit_count(values: np.ndarray) -> np.ndarray:
    """Number of decimal digits of non-negative integers (1 for 0)."""
    count = np.ones(values.shape, dtype=np.int64)
    for threshold in (10, 100, 1000, 10000, 100000):
        count += values >= threshold
    return count


@lru_cache(maxsize=8)
def _decimal_table(limit: int) -> tuple[np.ndarray, np.ndarray]:
    """ASCII digits (left-aligned, 6 columns) and digit counts of 0 ... ``limit``."""
    values = np.arange(limit + 1, dtype=np.int64)
    counts = _digit_count(values)
    table = np.zeros((limit + 1, 6), dtype=np.uint8)
    for place in range(6):
        power = 10 ** np.maximum(counts - 1 - place, 0)
        table[:, place] = np.where(place < counts, (values // power) % 10 + 48, 0)
    return table, counts


def _write_numbers(out: np.ndarray, pos: np.ndarray, values: np.ndarray, lead: int) -> None:
    """Write the byte ``lead`` then ``values`` in decimal at ``pos`` into ``out`` (each group
    of equal digit count one 2-D scatter from a table of digits)."""
    if values.size == 0:
        return
    table, counts = _decimal_table((1 << max(10, int(values.max()).bit_length())) - 1)
    out[pos] = lead
    digits = counts[values]
    for count in range(1, int(digits.max()) + 1):
        sel = digits == count
        if sel.any():
            places = pos[sel][:, None] + np.arange(1, count + 1)
            out[places] = table[values[sel], :count]


def _token_lengths(limit: int) -> np.ndarray:
    """Bytes of a run of n equal sixels, n = 0 ... limit: n for n <= 3, else ``!n`` + 1."""
    n = np.arange(limit + 1, dtype=np.int64)
    return np.where(n <= 3, n, 2 + _digit_count(n))


def _column_sixels(indices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each register once per band and column, in band, column order: the flat positions
    (band * width + x), the registers and the sixel value of the register in that column
    (its bit set for each of the band's six rows that has it)."""
    height, width = indices.shape
    bands = (height + 5) // 6
    small = int(indices.max()) < 255  # one byte per cell, 255 for the padding
    pad = 255 if small else -1
    cells = np.full((bands * 6, width), pad, dtype=np.uint8 if small else np.int16)
    cells[:height] = indices  # the padding rows of the last band are never drawn
    rows = [cells[r::6] for r in range(6)]
    values = [np.full(rows[0].shape, 1 << r, dtype=np.uint8) for r in range(6)]
    seen = [row == pad for row in rows]  # padding, or the register is in a row above
    shifted = np.empty(rows[0].shape, dtype=np.uint8)
    for r in range(6):
        for other in range(r + 1, 6):
            same = rows[other] == rows[r]
            bit = same.view(np.uint8)
            values[r] |= np.left_shift(bit, other, out=shifted)
            values[other] |= np.left_shift(bit, r, out=shifted)
            seen[other] |= same
    first = [np.logical_not(s, out=s) for s in seen]
    keep = np.flatnonzero(np.stack(first, axis=2))
    registers = np.stack(rows, axis=2).ravel()[keep]
    return keep // 6, registers, np.stack(values, axis=2).ravel()[keep]


def _row_order(where: np.ndarray, registers: np.ndarray, width: int) -> np.ndarray:
    """The permutation that sorts sixels by band, then register, keeping the column order
    (stable radix sorts on 16-bit keys)."""
    band = where // width
    span = int(registers.max()) + 1
    if int(band[-1] + 1) * span <= 1 << 16:
        key = (band * span + registers).astype(np.uint16)
        return np.argsort(key, kind="stable")
    return np.lexsort((registers, band))  # stable too, slower: very tall pictures


def _body(indices: np.ndarray) -> bytes:
    """Sixel data: per band, ``#reg`` and the run-length encoded sixels of each register,
    ``$`` between registers, ``-`` between bands (none after the last).

    Sparse: only the (band, column, register) triples present are handled; the bytes are
    laid down by one ``np.repeat`` of (gap, run) characters, then the few ``!n`` counts and
    ``#reg`` headers are written over their places.
    """
    width = indices.shape[1]
    where, registers, values = _column_sixels(indices)
    order = _row_order(where, registers, width)
    where, registers, values = where[order], registers[order], values[order]
    band = where // width
    x = where - band * width
    count = x.size
    new_row = np.empty(count, dtype=bool)
    new_row[0] = True
    np.not_equal(registers[1:], registers[:-1], out=new_row[1:])
    new_row[1:] |= band[1:] != band[:-1]
    new_run = new_row.copy()
    new_run[1:] |= (x[1:] != x[:-1] + 1) | (values[1:] != values[:-1])
    starts = np.flatnonzero(new_run)
    lengths = np.diff(np.append(starts, count))
    previous_end = np.zeros(starts.size, dtype=np.int64)
    previous_end[1:] = x[starts[1:] - 1] + 1
    row_start = new_row[starts]
    gaps = x[starts] - np.where(row_start, 0, previous_end)
    header = np.flatnonzero(row_start)
    header_registers = registers[starts[header]].astype(np.int64)
    header_bytes = 2 + _digit_count(header_registers)  # '$' or '-', '#', digits
    sizes = _token_lengths(width)
    slots = np.empty((starts.size, 2), dtype=np.int64)
    slots[:, 0] = sizes[gaps]
    slots[header, 0] += header_bytes
    slots[:, 1] = sizes[lengths]
    chars = np.empty((starts.size, 2), dtype=np.uint8)
    chars[:, 0] = 63
    chars[:, 1] = values[starts] + 63
    out = np.repeat(chars.ravel(), slots.ravel())
    ends = np.cumsum(slots.ravel())
    gap_pos = ends[0::2] - slots[:, 0]
    run_pos = ends[1::2] - slots[:, 1]
    head_pos = gap_pos[header]
    new_band = np.ones(header.size, dtype=bool)
    new_band[1:] = band[starts[header[1:]]] != band[starts[header[:-1]]]
    out[head_pos] = np.where(new_band, _DASH, _DOLLAR)
    _write_numbers(out, head_pos + 1, header_registers, _HASH)
    gap_pos[header] += header_bytes
    long_gap = gaps > 3
    _write_numbers(out, gap_pos[long_gap], gaps[long_gap], _BANG)
    long_run = lengths > 3
    _write_numbers(out, run_pos[long_run], lengths[long_run], _BANG)
    return out[1:].tobytes()  # the first band has no '-' before it


def encode_indexed(indices: np.ndarray, palette: np.ndarray) -> str:
    """A complete Sixel DCS string for palette ``indices`` (H x W) and ``palette`` (n x 3, %).

    Only registers that occur are defined; the background is left transparent (P2=1).
    """
    if len(palette) > MAX_REGISTERS:
        raise ValueError(f"a Sixel palette has at most {MAX_REGISTERS} registers here")
    height, width = indices.shape
    used = np.flatnonzero(np.bincount(indices.ravel(), minlength=len(palette)))
    defs = "".join(
        f"#{reg};2;{palette[reg][0]};{palette[reg][1]};{palette[reg][2]}" for reg in used.tolist()
    )
    body = _body(indices)
    return f"{DCS_START}{width};{height}{defs}{body.decode('ascii')}{ST}"


def encode(array: np.ndarray, *, grey_levels: int = GREY_LEVELS, colours: int = MAX_COLOURS) -> str:
    """Sixel string for a uint8 grey (H x W) or RGB (H x W x 3) array, at its own pixel size:
    ``grey_levels`` evenly spaced greys, or a palette of at most ``colours`` colours."""
    if array.ndim == 2:
        return encode_indexed(quantise_grey(array, grey_levels), grey_palette(grey_levels))
    indices, palette = quantise_rgb(array, colours)
    return encode_indexed(indices, palette)
