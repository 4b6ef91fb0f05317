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
from tuipacs.imaging.resample import fit_into
from tuipacs.view.layout import Box, CellSize

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


class HalfcellBackend:
    """Strips of half blocks, painted by Textual on a StripCanvas."""

    name = "halfcell"

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
        """Two pixels per cell (previews are not made: half-cells are cheap)."""
        return halfcell_pixels(request.array, request.aspect, request.box, request.cell)

    def encode(self, request: FrameRequest, pixels: np.ndarray) -> EncodedFrame:
        """The strips, rendered on this (encoder) thread."""
        return EncodedFrame(request, "", self.view.renderer.strips(pixels))

    def present(self, frame: EncodedFrame) -> None:
        """New strips at the request's box."""
        self.canvas.set_box(frame.request.box)
        self.canvas.set_strips(frame.strips)

    def clear(self) -> None:
        """No strips."""
        self.canvas.set_strips([])

    def release(self) -> None:
        """Nothing is held by the terminal."""

    def resume(self) -> None:
        """Textual repaints by itself."""
