"""Kitty graphics with Unicode placeholders: the picture is sent once per change under one
image id; placeholder cells (rebuilt only when the box size changes) show it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tuipacs.app.graphics.backend import EncodedFrame, FrameRequest
from tuipacs.app.graphics.canvas import KittyCanvas
from tuipacs.imaging.resample import fit_pixels, resize, square_pixel_size
from tuipacs.view.graphics import kitty
from tuipacs.view.layout import Box
from tuipacs.view.link import FULL, Level

LEVELS: tuple[Level, ...] = (FULL, Level("half", 2), Level("quarter", 4))
"""Full: the native pixels (never more than the box shows); previews at 1/2 and 1/4."""

PNG_LEVEL = 6
"""zlib level of the PNGs over a link that is not fast: about 9 % smaller than level 1 for
about 1 ms more on a 512 x 512 CT (level 9 saves 1-2 % more for twice the time). On a fast
link (a local terminal) :func:`~tuipacs.view.graphics.kitty.encode_png_fast` is used."""

if TYPE_CHECKING:
    from tuipacs.app.widgets.image_view import ImageView


class KittyBackend:
    """Transmits PNGs under the view's image id; the terminal scales them into the box."""

    name = "kitty"
    levels = LEVELS

    def __init__(self, view: ImageView) -> None:
        self.view = view
        self.canvas = KittyCanvas(view.image_id, True, view.fallback_strips)
        self.sent = ""
        """The last transmission (sent again after a suspend)."""

    def area(self, cols: int, rows: int) -> tuple[int, int]:
        """The whole widget."""
        return cols, rows

    def fit(self, box: Box) -> Box:
        """At most MAX_CELLS a side (the placeholder diacritics number rows and columns)."""
        return Box(box.x, box.y, min(box.cols, kitty.MAX_CELLS), min(box.rows, kitty.MAX_CELLS))

    def prepare(self, request: FrameRequest) -> np.ndarray:
        """Square pixels, no larger than the box, divided by the level's scale (previews)."""
        array, box, cell = request.array, request.box, request.cell
        size = square_pixel_size(array.shape[:2], request.aspect)
        limit = (box.rows * cell.height, box.cols * cell.width)
        if size[0] > limit[0] or size[1] > limit[1]:
            size = fit_pixels(size, 1.0, limit)
        scale = request.level.scale
        if scale > 1:
            size = (max(1, size[0] // scale), max(1, size[1] // scale))
        return resize(array, size)

    def encode(self, request: FrameRequest, pixels: np.ndarray) -> EncodedFrame:
        """A PNG transmission with a virtual placement of the box's size."""
        if request.fast_link:
            png = kitty.encode_png_fast(pixels)
        else:
            png = kitty.encode_png(pixels, PNG_LEVEL)
        box = request.box
        data = kitty.transmit(png, request.image_id, box.cols, box.rows, tmux=request.tmux)
        return EncodedFrame(request, data, [])

    def present(self, frame: EncodedFrame) -> bool:
        """Send the pixels; redraw placeholders only for a new box size."""
        self.sent = frame.data
        self.view.write_terminal(frame.data)
        box = frame.request.box
        self.canvas.set_grid(box.cols, box.rows)
        self.canvas.set_box(box)
        return True

    def clear(self) -> None:
        """Delete the image and its placeholders."""
        image_id = self.view.image_id
        if image_id:
            self.view.write_terminal(kitty.delete(image_id, tmux=self.view.in_tmux))
            self.canvas.grid = (0, 0)
        self.canvas.set_strips([])
        self.sent = ""

    def release(self) -> None:
        """Delete the image from the terminal's memory."""
        if self.view.image_id and self.sent:
            self.view.write_terminal(kitty.delete(self.view.image_id, tmux=self.view.in_tmux))
        self.sent = ""

    def resume(self) -> None:
        """Transmit the last picture again."""
        if self.sent:
            self.view.write_terminal(self.sent)

    def set_image_id(self, image_id: int, truecolor: bool) -> None:
        """The id the placeholders name (its colour depends on the colour system)."""
        self.canvas.image_id = image_id
        self.canvas.truecolor = truecolor
