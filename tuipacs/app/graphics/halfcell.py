"""Half-cell block rendering: two image pixels per terminal cell, in true colour.

Each cell is U+2580 UPPER HALF BLOCK with the upper pixel as foreground and the lower pixel
as background (a space with only a background when both are equal). Runs of equal cells are
merged into one segment and ``Style`` objects are cached, so a 100 x 50-cell frame costs a few
milliseconds. The universal fallback, and what snapshot tests see.

The strips carry their own true-colour rendering, made with the segments on the encoder
thread (``RenderedStrip``): Textual's UI thread then paints a frame without rendering a
segment, and ``pad`` puts margins around such a strip without losing it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

import numpy as np
from rich.color import Color, ColorSystem
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

UPPER_HALF = "\u2580"
_MAX_CACHED = 200_000
_MAX_CACHED_RUNS = 50_000  # about 300 bytes each
_LENGTH_BITS = 32  # a run's cache key: cell key << _LENGTH_BITS | run length
_RESET = "\x1b[0m"
_TRUECOLOR_SYSTEMS = (None, "truecolor")  # Textual renders true colour for both


class RenderedStrip(Strip):
    """A strip that also holds what Textual's ``Strip.render`` makes of it in true colour.

    ``render`` returns that text on a true-colour console (and renders the segments, as any
    strip does, on others), so the UI thread does not render the segments again. Every other
    operation (crop, divide, join, styles) is Strip's own and gives plain strips.
    """

    __slots__ = ["_truecolor"]

    def __init__(self, segments: Iterable[Segment], cell_length: int, truecolor: str) -> None:
        super().__init__(segments, cell_length)
        self._truecolor = truecolor

    @property
    def truecolor(self) -> str:
        """The rendering for a true-colour console."""
        return self._truecolor

    def render(self, console: Console) -> str:
        """The prepared rendering on a true-colour console; else Strip's."""
        if console.color_system in _TRUECOLOR_SYSTEMS:
            return self._truecolor
        return super().render(console)


def render_truecolor(text: str, style: Style) -> str:
    """``text`` in ``style`` as Textual's ``Strip.render`` writes it on a true-colour console."""
    return Strip.render_style(style, text, ColorSystem.TRUECOLOR)


def pad(strip: Strip, left: int, right: int, style: Style) -> Strip:
    """``strip`` with ``left`` and ``right`` blank cells in ``style`` around it.

    The same segments as ``Strip.join`` of blanks and ``strip``; a ``RenderedStrip`` stays
    one (its rendering is extended, not redone).
    """
    if not isinstance(strip, RenderedStrip):
        return Strip.join([Strip.blank(left, style), strip, Strip.blank(right, style)])
    segments = list(strip)
    texts = [strip.truecolor]
    if left > 0:
        margin = " " * left
        segments.insert(0, Segment(margin, style))
        texts.insert(0, render_truecolor(margin, style))
    if right > 0:
        margin = " " * right
        segments.append(Segment(margin, style))
        texts.append(render_truecolor(margin, style))
    length = max(0, left) + strip.cell_length + max(0, right)
    return RenderedStrip(segments, length, "".join(texts))


class HalfcellRenderer:
    """Turns uint8 arrays (grey H x W or RGB H x W x 3) into Textual strips, 1 strip per 2 rows.

    Cells, their styles and SGR sequences, and runs of equal cells with their renderings are
    cached: a new window/level mostly meets cells and runs seen before. The caches are plain
    dicts (atomic under the GIL), shared by the encoder thread and the UI thread's fallback.
    """

    def __init__(self) -> None:
        self._colours: dict[int, tuple[Color, str]] = {}
        self._cells: dict[int, tuple[Style, str, str]] = {}
        self._runs: dict[int, tuple[Segment, str]] = {}
        self._lock = threading.Lock()

    def _colour(self, packed: int) -> tuple[Color, str]:
        """The cached Rich colour for 0xRRGGBB and its true-colour SGR parameters."""
        colour = self._colours.get(packed)
        if colour is None:
            red, green, blue = packed >> 16, (packed >> 8) & 0xFF, packed & 0xFF
            colour = (Color.from_rgb(red, green, blue), f"2;{red};{green};{blue}")
            self._colours[packed] = colour
        return colour

    def _cell(self, key: int, rgb: bool) -> tuple[Style, str, str]:
        """(style, character, true-colour SGR sequence) of a cell key, cached.

        The key is the upper colour << bits | the lower colour; the SGR sequence is what
        Textual writes for the style (``render_truecolor``), made without going through it.
        """
        cell = self._cells.get(key)
        if cell is not None:
            return cell
        if rgb:
            upper, lower = key >> 24, key & 0xFFFFFF
        else:
            upper, lower = (key >> 8) * 0x010101, (key & 0xFF) * 0x010101
        bg, bg_sgr = self._colour(lower)
        if upper == lower:
            cell = (Style.from_color(None, bg), " ", f"\x1b[48;{bg_sgr}m")
        else:
            fg, fg_sgr = self._colour(upper)
            cell = (Style.from_color(fg, bg), UPPER_HALF, f"\x1b[38;{fg_sgr};48;{bg_sgr}m")
        self._cells[key] = cell
        return cell

    def _run(self, key: int, length: int, rgb: bool) -> tuple[Segment, str]:
        """The segment of ``length`` cells of ``key`` and its true-colour rendering, cached."""
        style, char, sgr = self._cell(key, rgb)
        text = char * length
        run = (Segment(text, style), f"{sgr}{text}{_RESET}")
        self._runs[key << _LENGTH_BITS | length] = run
        return run

    def _trim_caches(self) -> None:
        """Forget cached runs, or everything, once there are too many (a frame adds a few)."""
        if len(self._cells) > _MAX_CACHED:
            with self._lock:
                self._colours.clear()
                self._cells.clear()
                self._runs.clear()
        elif len(self._runs) > _MAX_CACHED_RUNS:
            with self._lock:
                self._runs.clear()

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
        """One strip per pair of pixel rows; the strip width is the array width.

        The strips are ``RenderedStrip``s, rendered here on the calling (encoder) thread.
        """
        self._trim_caches()
        keys, _, rgb = self.cell_keys(array)
        height, width = keys.shape
        if not width:
            return [RenderedStrip([], 0, "") for _ in range(height)]
        run_starts = np.empty(keys.shape, dtype=bool)
        run_starts[:, 0] = True
        np.not_equal(keys[:, 1:], keys[:, :-1], out=run_starts[:, 1:])
        starts = np.flatnonzero(run_starts)  # runs of equal cells, row after row
        run_keys = keys.ravel()[starts].tolist()
        lengths = np.diff(starts, append=keys.size).tolist()
        bounds = np.concatenate(([0], np.cumsum(run_starts.sum(axis=1)))).tolist()
        known, run = self._runs.get, self._run
        runs = [
            known(key << _LENGTH_BITS | length) or run(key, length, rgb)
            for key, length in zip(run_keys, lengths, strict=True)
        ]
        segments, texts = [segment for segment, _ in runs], [text for _, text in runs]
        join = "".join
        return [
            RenderedStrip(segments[first:end], width, join(texts[first:end]))
            for first, end in zip(bounds[:-1], bounds[1:], strict=True)
        ]
