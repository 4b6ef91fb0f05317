"""Sixel encoder, vectorised with numpy (no Textual).

Sixel colour registers are RGB percentages, so a grey picture can show at most 101 distinct
levels: grey is quantised to those 101 levels here (not to 16 or 32 as generic encoders do).
RGB pictures go through a Pillow palette of at most 256 colours. Runs of 4 or more equal
sixels are run-length encoded (``!n``); trailing empty sixels of a colour row are dropped.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

GREY_LEVELS = 101
MAX_COLOURS = 256
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


def _write_digits(out: np.ndarray, pos: np.ndarray, values: np.ndarray, count: np.ndarray) -> None:
    """Write ``values`` as decimal ASCII at ``pos`` (``count`` digits each) into ``out``."""
    if values.size == 0:
        return
    for digit in range(int(count.max())):
        mask = count > digit
        power = 10 ** (count[mask] - 1 - digit)
        out[pos[mask] + digit] = (values[mask] // power) % 10 + 48


def _sixel_rows(indices: np.ndarray, used: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per (band, colour) present: the band number, the colour number and W sixel values.

    ``used`` lists the register numbers that occur; ``indices`` holds register numbers.
    """
    height, width = indices.shape
    count = len(used)
    remap = np.zeros(int(used.max()) + 1, dtype=np.intp)
    remap[used] = np.arange(count)
    compact = remap[indices]
    bands = (height + 5) // 6
    if bands * 6 != height:  # pad the last band with a colour that is never drawn
        pad = np.full((bands * 6 - height, width), count, dtype=np.intp)
        compact = np.vstack([compact, pad])
    bits = np.zeros((bands, count + 1, width), dtype=np.uint8)
    band_ix = np.arange(bands)[:, None]
    x_ix = np.arange(width)[None, :]
    for row in range(6):
        bits[band_ix, compact[row::6], x_ix] |= np.uint8(1 << row)
    pairs = (np.arange(bands * 6) // 6)[:, None] * (count + 1) + compact
    present = np.bincount(pairs.ravel(), minlength=bands * (count + 1)).reshape(bands, -1) > 0
    present[:, count] = False
    band_ids, colour_ids = np.nonzero(present)
    return band_ids, used[colour_ids], bits[band_ids, colour_ids]


def _runs(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run-length split of each row: (row number, length, value) per run, in order,
    without the trailing run of empty (0) sixels of each row."""
    count, width = rows.shape
    flat = rows.ravel()
    change = np.empty(flat.size, dtype=bool)
    change[0] = True
    np.not_equal(flat[1:], flat[:-1], out=change[1:])
    change[::width] = True
    starts = np.flatnonzero(change)
    lengths = np.diff(np.append(starts, flat.size))
    values = flat[starts]
    run_row = starts // width
    last = np.ones(starts.size, dtype=bool)
    last[:-1] = run_row[1:] != run_row[:-1]
    keep = ~(last & (values == 0))
    return run_row[keep], lengths[keep], values[keep]


def _body(band_ids: np.ndarray, registers: np.ndarray, rows: np.ndarray) -> bytes:
    """Sixel data: ``#reg`` + run-length encoded sixels per colour row, ``$``/``-`` between."""
    count = len(band_ids)
    run_row, lengths, values = _runs(rows)
    length_digits = _digit_count(lengths)
    run_bytes = np.where(lengths <= 3, lengths, 2 + length_digits)
    prefix = 1 + _digit_count(registers)
    row_run_bytes = np.bincount(run_row, weights=run_bytes, minlength=count).astype(np.int64)
    row_total = prefix + row_run_bytes + 1
    row_end = np.cumsum(row_total)
    row_start = row_end - row_total
    out = np.empty(int(row_end[-1]), dtype=np.uint8)
    out[row_start] = _HASH
    _write_digits(out, row_start + 1, registers, prefix - 1)
    band_last = np.ones(count, dtype=bool)
    band_last[:-1] = band_ids[1:] != band_ids[:-1]
    out[row_end - 1] = np.where(band_last, _DASH, _DOLLAR)
    run_cum = np.cumsum(run_bytes) - run_bytes
    rows_before = np.cumsum(row_run_bytes) - row_run_bytes
    offset = row_start[run_row] + prefix[run_row] + run_cum - rows_before[run_row]
    chars = values.astype(np.uint8) + 63
    short = lengths <= 3
    for j in range(3):
        mask = short & (lengths > j)
        out[offset[mask] + j] = chars[mask]
    long_ = ~short
    long_off = offset[long_]
    out[long_off] = _BANG
    _write_digits(out, long_off + 1, lengths[long_], length_digits[long_])
    out[long_off + 1 + length_digits[long_]] = chars[long_]
    return out[:-1].tobytes()  # no graphics new line after the last band


def encode_indexed(indices: np.ndarray, palette: np.ndarray) -> str:
    """A complete Sixel DCS string for palette ``indices`` (H x W) and ``palette`` (n x 3, %).

    Only registers that occur are defined; the background is left transparent (P2=1).
    """
    height, width = indices.shape
    used = np.flatnonzero(np.bincount(indices.ravel(), minlength=len(palette)))
    defs = "".join(
        f"#{reg};2;{palette[reg][0]};{palette[reg][1]};{palette[reg][2]}" for reg in used.tolist()
    )
    body = _body(*_sixel_rows(indices, used))
    return f"{DCS_START}{width};{height}{defs}{body.decode('ascii')}{ST}"


def encode(array: np.ndarray, *, grey_levels: int = GREY_LEVELS, colours: int = MAX_COLOURS) -> str:
    """Sixel string for a uint8 grey (H x W) or RGB (H x W x 3) array, at its own pixel size:
    ``grey_levels`` evenly spaced greys, or a palette of at most ``colours`` colours."""
    if array.ndim == 2:
        return encode_indexed(quantise_grey(array, grey_levels), grey_palette(grey_levels))
    indices, palette = quantise_rgb(array, colours)
    return encode_indexed(indices, palette)
