"""From a decoded frame and the view settings to the uint8 array on screen (pure).

One path for the viewer and ``tuipacs render`` (:mod:`tuipacs.view.export`): grey levels
(:func:`grey_levels`), then orientation and the visible region (:func:`render`); the picture
then goes into a cell box (:mod:`tuipacs.view.layout`).

Grey levels of integer modality values use DCMTK's exact arithmetic (``to_uint8_exact``,
what ``dcmj2pnm`` writes), through a table of the frame's value range made once per window,
so they cost one lookup per pixel. Fractional values (float32: a non-integer rescale, a frame
reduced for display) take the fast float32 path, within one grey level of the exact one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tuipacs.imaging.voi import Window, lut_to_uint8_exact, to_uint8, to_uint8_exact
from tuipacs.view.frames import Frame
from tuipacs.view.viewport import Orientation, Region, crop, visible_region

MAX_TABLE = 1 << 20
"""Integer values spanning more than this are windowed directly (no table)."""
LOOKUP_CHUNK = 1 << 16
"""Pixels looked up at a time (see :func:`_lookup`)."""


@dataclass(frozen=True)
class RenderRequest:
    """One frame to render, with every setting captured (immutable, thread-safe)."""

    seq: int
    index: int
    window: Window | None
    invert: bool
    orientation: Orientation
    zoom: float
    pan: tuple[float, float]
    view_px: tuple[float, float]
    """The ImageView's area in screen pixels (height, width)."""
    motion: float | None = None
    """Seconds between the frames the reader asks for while the picture moves (a held key,
    cine, a drag); None for a picture at rest (always sent in full)."""
    probe: tuple[int, int] | None = None
    """The probed source pixel (x, y) whose crosshair this picture shows, None when off."""


@dataclass(frozen=True)
class Rendered:
    """The result: the array to show, its pixel aspect, where it came from."""

    array: np.ndarray
    aspect: float
    window: Window | None
    region: Region
    pan: tuple[float, float]
    oriented_shape: tuple[int, int]


def uses_voi_lut(frame: Frame, window: Window | None) -> bool:
    """True when the file's VOI LUT applies (no window chosen and none in the file)."""
    return window is None and not frame.color and frame.voi_lut is not None


def grey_levels(frame: Frame, window: Window | None, invert: bool) -> np.ndarray:
    """uint8 grey levels (or RGB) of the frame through ``window`` (None: the file's VOI).

    A new array (the frame's RGB values themselves for colour without inversion); the
    frame's overlay planes are drawn into grey levels when it has them.
    """
    if frame.color:
        rgb = frame.values
        return (255 - rgb) if invert else rgb
    flip = frame.invert != invert
    if uses_voi_lut(frame, window) and frame.voi_lut is not None:
        levels = lut_to_uint8_exact(frame.values, frame.voi_lut, flip)
    else:
        levels = window_levels(frame, window or frame.default_window(), flip)
    if frame.draw_overlays is not None:
        frame.draw_overlays(levels)
    return levels


def window_levels(frame: Frame, window: Window, flip: bool) -> np.ndarray:
    """Grey levels of the frame's modality values through ``window`` (inverted if ``flip``)
    with the file's VOI LUT Function; see the module docstring for the arithmetic."""
    values = frame.values
    if values.dtype.kind == "f":
        if values.dtype == np.float32:
            return to_uint8(values, window, frame.function, invert=flip)
        return to_uint8_exact(values, window, frame.function, invert=flip)
    table = _level_table(frame, window, flip)
    if table is None:
        return to_uint8_exact(values, window, frame.function, invert=flip)
    low, levels = table
    if values.dtype.itemsize <= 2:
        return _lookup(levels, values.view(np.dtype(f"u{values.dtype.itemsize}")))
    return np.take(levels, values.astype(np.int64) - low)


def _lookup(table: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """``table[keys]`` in chunks: numpy widens the keys to 8 bytes each before a lookup,
    so chunks that stay in the cache make it about twice as fast on a large frame."""
    flat = np.ascontiguousarray(keys).reshape(-1)
    out = np.empty(flat.shape, np.uint8)
    for start in range(0, flat.size, LOOKUP_CHUNK):
        stop = start + LOOKUP_CHUNK
        np.take(table, flat[start:stop], out=out[start:stop])
    return out.reshape(keys.shape)


def _level_table(frame: Frame, window: Window, flip: bool) -> tuple[int, np.ndarray] | None:
    """(lowest value, grey level per value) for integer values, cached for the last window.

    For 8- and 16-bit values the table is indexed by the values' unsigned bit pattern (256
    or 65536 entries); None when the values span too much for a table.
    """
    key = (window, frame.function, flip)
    cached = frame.cached.get("levels")
    if cached is not None and cached[0] == key:
        return cached[1]
    values = frame.values
    span = frame.cached.get("range")
    if span is None:
        span = frame.cached["range"] = (
            (int(values.min()), int(values.max())) if values.size else (0, 0)
        )
    low, high = span
    if high - low >= MAX_TABLE:
        return None
    keys = np.arange(low, high + 1, dtype=np.int64)
    levels = to_uint8_exact(keys.astype(np.float64), window, frame.function, invert=flip)
    if values.dtype.itemsize <= 2:
        full = np.zeros(1 << (8 * values.dtype.itemsize), dtype=np.uint8)
        full[keys & (full.size - 1)] = levels
        levels = full
    table = (low, levels)
    frame.cached["levels"] = (key, table)
    return table


def render(frame: Frame, request: RenderRequest) -> Rendered:
    """Window, orient, and cut out the visible region of ``frame``."""
    levels = grey_levels(frame, request.window, request.invert)
    oriented = request.orientation.apply(levels)
    aspect = request.orientation.oriented_aspect(frame.aspect)
    shape = (oriented.shape[0], oriented.shape[1])
    region, pan = visible_region(shape, aspect, request.view_px, request.zoom, request.pan)
    window = None
    if not frame.color and not uses_voi_lut(frame, request.window):
        window = request.window or frame.default_window()
    array = crop(oriented, region)
    array.flags.writeable = False  # never changed again: the ImageView need not copy it
    return Rendered(array, aspect, window, region, pan, shape)
