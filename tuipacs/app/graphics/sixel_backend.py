"""Sixel: the picture at screen size, written over a canvas Textual never paints.

A Sixel picture is erased by any text Textual writes over its cells, so it is written again
(coalesced over ``REDRAW_DELAY``) whenever Textual repaints the canvas, in one synchronized
update, through the frame gate like any frame. Two rows above the screen's end stay free: a
Sixel reaching the last row scrolls the terminal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from textual.timer import Timer

from tuipacs.app.graphics.backend import EncodedFrame, FrameRequest
from tuipacs.app.graphics.canvas import SixelCanvas
from tuipacs.imaging.resample import fit_into, letterbox
from tuipacs.view.graphics import sixel
from tuipacs.view.layout import Box, box_picture, box_pixels
from tuipacs.view.link import FULL, Level

if TYPE_CHECKING:
    from tuipacs.app.widgets.image_view import ImageView

SYNC_START = "\x1b[?2026h"
SYNC_END = "\x1b[?2026l"
SAVE_CURSOR = "\x1b7"
RESTORE_CURSOR = "\x1b8"
SPARE_ROWS = 2
REDRAW_DELAY = 0.03
LEVELS: tuple[Level, ...] = (
    FULL,
    Level("half", 2, 51),
    Level("quarter", 4, 26),
    Level("eighth", 8, 16),
)
"""Full: the box's pixels in all 101 greys Sixel can show (a palette of 256 colours for
colour pictures); previews at 1/2, 1/4 and 1/8 resolution (each pixel repeated) with fewer
greys or colours: a Sixel's size grows with the greys present in each band of six rows."""


class SixelBackend:
    """101 grey levels (or a 256-colour palette), one synchronized write per picture."""

    name = "sixel"
    levels = LEVELS

    def __init__(self, view: ImageView) -> None:
        self.view = view
        self.canvas = SixelCanvas(self.repainted, view.fallback_strips)
        self.data = ""
        """The picture's escape sequence (written again after each repaint)."""
        self._timer: Timer | None = None
        self._holding = False  # a gate slot is held for a write to come

    def area(self, cols: int, rows: int) -> tuple[int, int]:
        """The widget, less the rows that would reach the screen's last two."""
        view = self.view
        if view.is_attached:
            rows = min(rows, view.screen.size.height - SPARE_ROWS - view.content_region.y)
        return cols, rows

    def fit(self, box: Box) -> Box:
        """Any box."""
        return box

    def prepare(self, request: FrameRequest) -> np.ndarray:
        """The box's pixels; previews at a fraction of the resolution, each pixel repeated."""
        scale = request.level.scale
        if scale <= 1:
            return box_picture(request.array, request.aspect, request.box, request.cell)
        size = box_pixels(request.box, request.cell)
        small = fit_into(request.array, request.aspect, (size[0] // scale, size[1] // scale))
        repeated = np.repeat(np.repeat(small, scale, axis=0), scale, axis=1)
        return letterbox(repeated, size)

    def encode(self, request: FrameRequest, pixels: np.ndarray) -> EncodedFrame:
        """All 101 grey levels for full frames, fewer (smaller) for previews."""
        greys = request.level.greys or sixel.GREY_LEVELS
        colours = min(sixel.MAX_COLOURS, greys * 2) if request.level.greys else sixel.MAX_COLOURS
        return EncodedFrame(request, sixel.encode(pixels, grey_levels=greys, colours=colours), [])

    def present(self, frame: EncodedFrame) -> bool:
        """Move the canvas to the box (then write after the layout change), or write now;
        the view's gate slot is used by that write."""
        self.data = frame.data
        self._holding = True
        if self.canvas.set_box(frame.request.box):
            self.repainted()
            return False
        self.emit()
        return False

    def clear(self) -> None:
        """An empty canvas: the ImageView's background repaints the area."""
        self.canvas.set_box(Box(0, 0, 0, 0))
        self.data = ""
        self._drop_slot()

    def release(self) -> None:
        """Nothing to free: the next repaint covers the picture."""
        self.data = ""
        self._drop_slot()

    def resume(self) -> None:
        """Write the picture again."""
        self.repainted()

    def repainted(self) -> None:
        """Textual wrote over the canvas: write the picture again shortly after (coalesced,
        so the few frames of a layout change cost one picture, not one each)."""
        if self._timer is None and self.data:
            self._timer = self.view.set_timer(REDRAW_DELAY, self.emit)

    def emit(self) -> None:
        """Write the picture at the canvas position in one synchronized update (a repaint
        without a new frame waits for a free slot of the frame gate)."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        view = self.view
        region = self.canvas.region
        if (
            not self.data
            or not view.is_attached
            or not view.screen.is_active
            or region.width < 1
            or region.height < 1
        ):
            self._drop_slot()
            return
        if not self._holding:
            if view.pacer.ready is not None:
                return  # the next frame will be written anyway
            if not view.gate.acquire(self, self.emit):
                return
            self._holding = True
        move = f"\x1b[{region.y + 1};{region.x + 1}H"
        view.write_terminal(f"{SYNC_START}{SAVE_CURSOR}{move}{self.data}{RESTORE_CURSOR}{SYNC_END}")
        self._holding = False
        view.frame_written()

    def _drop_slot(self) -> None:
        """Give back a slot held for a write that will not happen."""
        if self._holding:
            self._holding = False
            self.view.gate.release()
        self.view.gate.cancel(self)
