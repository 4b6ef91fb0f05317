"""Sixel: the picture at screen size, written over a canvas Textual never paints.

A Sixel picture is erased by any text Textual writes over its cells, so it is written again
(coalesced over ``REDRAW_DELAY``) whenever Textual repaints the canvas, in one synchronized
update. Two rows above the screen's end stay free: a Sixel reaching the last row scrolls the
terminal.
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

if TYPE_CHECKING:
    from tuipacs.app.widgets.image_view import ImageView

SYNC_START = "\x1b[?2026h"
SYNC_END = "\x1b[?2026l"
SAVE_CURSOR = "\x1b7"
RESTORE_CURSOR = "\x1b8"
SPARE_ROWS = 2
REDRAW_DELAY = 0.03
PREVIEW_LEVELS = 26


class SixelBackend:
    """101 grey levels (or a 256-colour palette), one synchronized write per picture."""

    name = "sixel"

    def __init__(self, view: ImageView) -> None:
        self.view = view
        self.canvas = SixelCanvas(self.repainted, view.fallback_strips)
        self.data = ""
        """The picture's escape sequence (written again after each repaint)."""
        self._timer: Timer | None = None

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
        """The box's pixels; previews at half resolution, each pixel doubled."""
        if not request.preview:
            return box_picture(request.array, request.aspect, request.box, request.cell)
        size = box_pixels(request.box, request.cell)
        half = fit_into(request.array, request.aspect, (size[0] // 2, size[1] // 2))
        doubled = np.repeat(np.repeat(half, 2, axis=0), 2, axis=1)
        return letterbox(doubled, size)

    def encode(self, request: FrameRequest, pixels: np.ndarray) -> EncodedFrame:
        """All 101 grey levels for full frames, fewer (smaller, faster) for previews."""
        levels = PREVIEW_LEVELS if request.preview else sixel.GREY_LEVELS
        return EncodedFrame(request, sixel.encode(pixels, grey_levels=levels), [])

    def present(self, frame: EncodedFrame) -> None:
        """Move the canvas to the box (then write after the layout change), or write now."""
        self.data = frame.data
        if self.canvas.set_box(frame.request.box):
            self.repainted()
        else:
            self.emit()

    def clear(self) -> None:
        """An empty canvas: the ImageView's background repaints the area."""
        self.canvas.set_box(Box(0, 0, 0, 0))
        self.data = ""

    def release(self) -> None:
        """Nothing to free: the next repaint covers the picture."""
        self.data = ""

    def resume(self) -> None:
        """Write the picture again."""
        self.repainted()

    def repainted(self) -> None:
        """Textual wrote over the canvas: write the picture again shortly after (coalesced,
        so the few frames of a layout change cost one picture, not one each)."""
        if self._timer is None and self.data:
            self._timer = self.view.set_timer(REDRAW_DELAY, self.emit)

    def emit(self) -> None:
        """Write the picture at the canvas position in one synchronized update."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        view = self.view
        if not self.data or not view.is_attached or not view.screen.is_active:
            return
        region = self.canvas.region
        if region.width < 1 or region.height < 1:
            return
        move = f"\x1b[{region.y + 1};{region.x + 1}H"
        view.write_terminal(f"{SYNC_START}{SAVE_CURSOR}{move}{self.data}{RESTORE_CURSOR}{SYNC_END}")
