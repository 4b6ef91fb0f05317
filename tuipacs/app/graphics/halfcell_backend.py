"""Half-cell blocks: two pixels per cell in true colour, drawn by Textual itself.

The universal fallback (and what snapshot tests see); the Kitty and Sixel canvases draw the
picture this way under a modal screen (:func:`halfcell_strips`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from textual.strip import Strip

from tuipacs.app.graphics.backend import EncodedFrame, FrameRequest
from tuipacs.app.graphics.canvas import StripCanvas
from tuipacs.app.graphics.halfcell import HalfcellRenderer
from tuipacs.imaging.resample import fit_into, resize
from tuipacs.view.layout import Box, CellSize
from tuipacs.view.link import FULL, Level

LEVELS: tuple[Level, ...] = (FULL, Level("coarse", 1, 32), Level("blocks", 2, 16))
"""Full: every grey in true colour; previews with fewer greys (neighbouring cells then share
their colours and go out as one run) and, coarsest, one colour per cell and per pair of
cells."""

if TYPE_CHECKING:
    from tuipacs.app.widgets.image_view import ImageView


def halfcell_pixels(array: np.ndarray, aspect: float, box: Box, cell: CellSize) -> np.ndarray:
    """The picture at two pixels per cell (one column, two rows), fitted into ``box``."""
    unit_aspect = aspect * 2.0 * cell.width / cell.height
    return fit_into(array, unit_aspect, (box.rows * 2, box.cols))


def halfcell_strips(
    renderer: HalfcellRenderer, array: np.ndarray, aspect: float, box: Box, cell: CellSize
) -> list[Strip]:
    """One strip per row of ``box`` showing ``array``."""
    return renderer.strips(halfcell_pixels(array, aspect, box, cell))


def coarsen(pixels: np.ndarray, level: Level) -> np.ndarray:
    """``pixels`` at ``level``: blocks of ``scale`` x ``scale`` pixels of one value (their
    mean), grey levels cut to ``greys`` (0: all)."""
    out = pixels
    scale = level.scale
    if scale > 1:
        rows, cols = pixels.shape[:2]
        small = resize(pixels, (max(1, -(-rows // scale)), max(1, -(-cols // scale))))
        out = np.repeat(np.repeat(small, scale, axis=0), scale, axis=1)[:rows, :cols]
    if level.greys > 1:
        step = 256 / level.greys
        lut = (np.floor(np.arange(256) / step) * step + step / 2).clip(0, 255).astype(np.uint8)
        out = lut[out]
    return np.ascontiguousarray(out)


class HalfcellBackend:
    """Strips of half blocks, painted by Textual on a StripCanvas."""

    name = "halfcell"
    levels = LEVELS

    def __init__(self, view: ImageView) -> None:
        self.view = view
        self.canvas = StripCanvas()

    def area(self, cols: int, rows: int) -> tuple[int, int]:
        """The whole widget."""
        return cols, rows

    def fit(self, box: Box) -> Box:
        """Any box."""
        return box

    def prepare(self, request: FrameRequest) -> np.ndarray:
        """Two pixels per cell; previews coarser (see LEVELS)."""
        pixels = halfcell_pixels(request.array, request.aspect, request.box, request.cell)
        return coarsen(pixels, request.level)

    def encode(self, request: FrameRequest, pixels: np.ndarray) -> EncodedFrame:
        """The strips, rendered on this (encoder) thread."""
        return EncodedFrame(request, "", self.view.renderer.strips(pixels))

    def present(self, frame: EncodedFrame) -> bool:
        """New strips at the request's box (Textual writes them with its next update)."""
        self.canvas.set_box(frame.request.box)
        self.canvas.set_strips(frame.strips)
        return True

    def clear(self) -> None:
        """No strips."""
        self.canvas.set_strips([])

    def release(self) -> None:
        """Nothing is held by the terminal."""

    def resume(self) -> None:
        """Textual repaints by itself."""
