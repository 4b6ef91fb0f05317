"""The Sixel canvas: the whole ImageView, never painted by Textual on the active screen.

Everything in the widget's area is written as Sixel pictures (black margins, the picture,
the overlay labels): Textual only moves the cursor over it (``SkipStrip``), and each such
render tells the backend that the area may have been written over, so the pictures go out
again. The picture can move or change size without a layout change (no repaint to wait for).
Under a modal screen Textual re-renders this screen as a tinted background, where a cursor
move would shift the dialog: the picture is drawn in half-cells there.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.geometry import Region
from textual.strip import Strip

from tuipacs.app.graphics import halfcell
from tuipacs.app.graphics.canvas import BLACK, Canvas, SkipStrip, on_active_screen
from tuipacs.view.layout import Box


class SixelCanvas(Canvas):
    """The ImageView's whole area, left to the Sixel pictures written over it."""

    def __init__(self, on_repaint: Callable[[], None], fallback: Callable[[], list[Strip]]) -> None:
        super().__init__()
        self.on_repaint = on_repaint
        self.fallback = fallback
        self.box = Box(0, 0, 0, 0)
        """Where the picture is (cells inside the widget)."""
        self.rows = 0
        """Rows from the top the Sixel pictures may use (below: black, painted by Textual)."""

    def set_box(self, box: Box) -> bool:
        """Place the picture at ``box``; True if it moved (the margins are to be written).

        Under a modal screen the half-cell picture is repainted at the new place."""
        if box == self.box:
            return False
        self.box = box
        if not on_active_screen(self):
            self.refresh()
        return True

    def set_rows(self, rows: int) -> bool:
        """The rows the Sixel pictures may use (the rest is painted black by Textual); True
        if that changed (the canvas is then repainted)."""
        if rows == self.rows:
            return False
        self.rows = rows
        self.refresh()
        return True

    def render_lines(self, crop: Region) -> list[Strip]:
        """Cursor moves over the Sixel area (writing a character would erase a picture);
        half-cells under a modal screen."""
        width = self.size.width
        if not on_active_screen(self):
            strips, box = self.fallback(), self.box
            lines = []
            for y in range(crop.y, crop.bottom):
                row = y - box.y
                if 0 <= row < min(len(strips), box.rows):
                    left = max(0, min(box.x, width))
                    right = max(0, width - left - strips[row].cell_length)
                    line = halfcell.pad(strips[row], left, right, BLACK).crop(0, width)
                else:
                    line = Strip.blank(width, BLACK)
                lines.append(line.crop(crop.x, crop.right))
            return lines
        return [
            SkipStrip(crop.width, self.on_repaint)
            if y < self.rows
            else Strip.blank(crop.width, BLACK)
            for y in range(crop.y, crop.bottom)
        ]
