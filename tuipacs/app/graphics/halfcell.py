"""Half-cell block rendering: two image pixels per terminal cell, in true colour.

Each cell is U+2580 UPPER HALF BLOCK with the upper pixel as foreground and the lower pixel
as background (a space with only a background when both are equal). Runs of equal cells are
merged into one segment and ``Style`` objects are cached, so a 100 x 50-cell frame costs a few
milliseconds. The universal fallback, and what snapshot tests see.
"""

from __future__ import annotations

import threading

import numpy as np
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

UPPER_HALF = "\u2580"
_MAX_CACHED = 200_000


class HalfcellRenderer:
    """Turns uint8 arrays (grey H x W or RGB H x W x 3) into Textual strips, 1 strip per 2 rows."""

    def __init__(self) -> None:
        self._styles: dict[int, Style] = {}
        self._colours: dict[int, Color] = {}
        self._lock = threading.Lock()

    def _colour(self, packed: int) -> Color:
        """The cached Rich colour for 0xRRGGBB."""
        colour = self._colours.get(packed)
        if colour is None:
            colour = Color.from_rgb(packed >> 16, (packed >> 8) & 0xFF, packed & 0xFF)
            self._colours[packed] = colour
        return colour

    def _style(self, key: int, rgb: bool) -> Style:
        """The cached style for a cell key (upper colour << bits | lower colour)."""
        style = self._styles.get(key)
        if style is not None:
            return style
        if rgb:
            upper, lower = key >> 24, key & 0xFFFFFF
        else:
            upper, lower = (key >> 8) * 0x010101, (key & 0xFF) * 0x010101
        bg = self._colour(lower)
        fg = None if upper == lower else self._colour(upper)
        style = Style.from_color(fg, bg)
        with self._lock:
            if len(self._styles) > _MAX_CACHED:
                self._styles.clear()
                self._colours.clear()
            self._styles[key] = style
        return style

    @staticmethod
    def cell_keys(array: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
        """Per cell: the style key and whether both halves are equal; plus the RGB flag."""
        if array.shape[0] % 2:
            array = np.concatenate([array, np.zeros_like(array[:1])], axis=0)
        if array.ndim == 3:
            packed = (
                (array[..., 0].astype(np.int64) << 16)
                | (array[..., 1].astype(np.int64) << 8)
                | array[..., 2].astype(np.int64)
            )
            upper, lower = packed[0::2], packed[1::2]
            return (upper << 24) | lower, upper == lower, True
        upper16, lower16 = array[0::2].astype(np.int64), array[1::2].astype(np.int64)
        return (upper16 << 8) | lower16, upper16 == lower16, False

    def strips(self, array: np.ndarray) -> list[Strip]:
        """One strip per pair of pixel rows; the strip width is the array width."""
        keys, flat, rgb = self.cell_keys(array)
        width = keys.shape[1]
        style = self._style
        result: list[Strip] = []
        for row_keys, row_flat in zip(keys, flat, strict=True):
            starts = np.flatnonzero(row_keys[1:] != row_keys[:-1]) + 1
            bounds = np.concatenate(([0], starts, [width]))
            lengths = np.diff(bounds).tolist()
            run_keys = row_keys[bounds[:-1]].tolist()
            run_flat = row_flat[bounds[:-1]].tolist()
            segments = [
                Segment((" " if same else UPPER_HALF) * length, style(key, rgb))
                for key, length, same in zip(run_keys, lengths, run_flat, strict=True)
            ]
            result.append(Strip(segments, width))
        return result
