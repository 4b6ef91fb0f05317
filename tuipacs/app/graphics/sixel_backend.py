"""Sixel: the picture at screen size over the whole widget, the overlay text written with it.

A Sixel picture covers the text under it, and text written after it replaces its pixels: so
on Sixel the ImageView's whole area is a canvas Textual never paints
(:mod:`~tuipacs.app.graphics.sixel_canvas`), the picture takes the same box as on Kitty (the
full viewport), and the overlay text comes as labels (:meth:`set_labels`) that this backend
writes as text right after the picture (:mod:`tuipacs.view.graphics.labels`).

Each write is one synchronized update, through the frame gate like any frame. It holds only
what changed: a new frame (with the labels on the picture), changed labels, or after Textual
repainted the canvas (coalesced over ``REDRAW_DELAY``) everything: black margins, picture,
labels. A view whose labels follow its frames (the viewer: the overlays describe the frame
shown) holds each frame until its labels come, at most ``LABEL_WAIT``, so one state change
is one write. Two rows above the screen's end stay free: a Sixel reaching the last row
scrolls the terminal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from textual.timer import Timer

from tuipacs.app.graphics.backend import EncodedFrame, FrameRequest
from tuipacs.app.graphics.sixel_canvas import SixelCanvas
from tuipacs.imaging.resample import fit_into, letterbox
from tuipacs.view.graphics import sixel
from tuipacs.view.graphics.labels import Label, covers, label_text, solid_sixel
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
BLACK = (0, 0, 0)
"""The ImageView's background (its margins), on Sixel as on the other backends."""
LABEL_WAIT = 0.15
"""How long a frame waits for its labels (s) before it goes out with the ones it has."""
LEVELS: tuple[Level, ...] = (
    FULL,
    Level("half", 2, 51),
    Level("quarter", 4, 26),
    Level("eighth", 8, 16),
)
"""Full: the box's pixels in all 101 greys Sixel can show (a palette of 256 colours for
colour pictures); previews at 1/2, 1/4 and 1/8 resolution (each pixel repeated) with fewer
greys or colours: a Sixel's size grows with the greys present in each band of six rows."""


def _overlaps(a: Box, b: Box) -> bool:
    """True when two cell boxes share a cell."""
    return a.x < b.x + b.cols and b.x < a.x + a.cols and a.y < b.y + b.rows and b.y < a.y + a.rows


def margins(box: Box, cols: int, rows: int) -> list[Box]:
    """The cells of a ``cols`` x ``rows`` area around ``box`` (up to four boxes)."""
    if box.cols < 1 or box.rows < 1:
        return [Box(0, 0, cols, rows)] if cols > 0 and rows > 0 else []
    top, bottom = max(0, box.y), min(rows, box.y + box.rows)
    left, right = max(0, box.x), min(cols, box.x + box.cols)
    parts = [
        Box(0, 0, cols, top),
        Box(0, bottom, cols, rows - bottom),
        Box(0, top, left, bottom - top),
        Box(right, top, cols - right, bottom - top),
    ]
    return [part for part in parts if part.cols > 0 and part.rows > 0]


class SixelBackend:
    """101 grey levels (or a 256-colour palette), one synchronized write per change."""

    name = "sixel"
    levels = LEVELS

    def __init__(self, view: ImageView) -> None:
        self.view = view
        self.canvas = SixelCanvas(self.repainted, view.fallback_strips)
        self.data = ""
        """The picture's escape sequence (written again after each repaint)."""
        self.box = Box(0, 0, 0, 0)
        """The picture's cells."""
        self.labels: tuple[Label, ...] = ()
        """The overlay text drawn over the picture."""
        self.writes = 0
        """Synchronized updates written (tests count them)."""
        self._full = True  # margins, picture and labels to write (the terminal lost them)
        self._picture = False  # a new picture to write
        self._on_screen: set[Label] = set()  # labels the terminal shows
        self._timer: Timer | None = None
        self._wait: Timer | None = None  # a frame waiting for its labels
        self._holding = False  # a gate slot is held for a write to come
        self._repaint_due = False  # the canvas changed: Textual's repaint brings the write

    def area(self, cols: int, rows: int) -> tuple[int, int]:
        """The widget, less the rows that would reach the screen's last two."""
        view = self.view
        if view.is_attached:
            rows = min(rows, view.screen.size.height - SPARE_ROWS - view.content_region.y)
        return cols, max(0, rows)

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
        """Take the new picture; write it now, or when its labels come (the view's gate slot
        is used by that write)."""
        if self._holding:
            self.emit()  # a frame still waiting for its labels (two or more in flight)
        self.data = frame.data
        box = frame.request.box
        if self.canvas.set_box(box) and not covers([box], self.box):
            self._full = True  # the old picture reaches outside the new one
        self.box = box
        self._picture = True
        self._holding = True
        cols, rows = self.area(*self.view.content_size)
        if self.canvas.set_rows(rows):
            self._full = self._repaint_due = True
        if self.view.labels_follow or self._repaint_due:
            self._stop_wait()
            self._wait = self.view.set_timer(LABEL_WAIT, self.emit)
            return False
        self.emit()
        return False

    def set_labels(self, labels: tuple[Label, ...]) -> None:
        """The overlay text now; a frame waiting for it goes out with it."""
        self.labels = labels
        if not self._repaint_due and (self._wait is not None or self._pending()):
            self.emit()

    def clear(self) -> None:
        """No picture: black over the whole area (with the labels)."""
        self.data = ""
        self.box = Box(0, 0, 0, 0)
        self.canvas.set_box(self.box)
        self._picture = False
        self._drop_slot()
        self.repainted()

    def release(self) -> None:
        """Nothing to free: the next repaint covers the picture."""
        self.data = ""
        self._stop_wait()
        self._drop_slot()

    def resume(self) -> None:
        """Write everything again."""
        self.repainted()

    def repainted(self) -> None:
        """Textual rendered over the canvas: write everything again shortly after (coalesced,
        so the few frames of a layout change cost one write, not one each)."""
        self._full = True
        self._repaint_due = False
        if self._timer is None:
            self._timer = self.view.set_timer(REDRAW_DELAY, self.emit)

    @property
    def idle(self) -> bool:
        """Nothing left to write: no frame waiting for its labels, no redraw to come."""
        return self._wait is None and self._timer is None and not self._pending()

    def _pending(self) -> bool:
        """Something to write: everything, a new picture, labels that came or went."""
        return (
            self._full
            or self._picture
            or any(label not in self._on_screen for label in self.labels)
            or any(label not in self.labels for label in self._on_screen)
        )

    def emit(self) -> None:
        """Write what changed at the canvas position in one synchronized update (a write
        without a new frame waits for a free slot of the frame gate)."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self._stop_wait()
        view = self.view
        region = self.canvas.region
        if (
            not self._pending()
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
        view.write_terminal(self._update(region.x, region.y))
        self._repaint_due = False
        self.writes += 1
        self._holding = False
        view.frame_written()

    def _update(self, left: int, top: int) -> str:
        """The synchronized update for what is pending; marks it written."""
        cols, rows = self.area(*self.view.content_size)
        cell = self.view.cell_size
        parts: list[str] = []

        def put(box: Box, data: str) -> None:
            if data:
                parts.append(f"\x1b[{top + box.y + 1};{left + box.x + 1}H{data}")

        kept = [label.box for label in self.labels]
        gone = [lb.box for lb in self._on_screen if lb not in self.labels]
        erase = [box for box in gone if not covers(kept, box)]  # cells a label left
        picture = bool(self.data) and (
            self._full or self._picture or any(_overlaps(box, self.box) for box in erase)
        )
        if self._full:
            self._on_screen.clear()
            for part in margins(self.box if self.data else Box(0, 0, 0, 0), cols, rows):
                put(part, solid_sixel(part.cols, part.rows, cell))
        else:  # black there; the picture, written next, covers its part of them
            for cells in filter(None, (clip(box, cols, rows) for box in erase)):
                parts.append(label_text(Label(*cells, "", BLACK, BLACK), left, top))
        if picture:
            put(self.box, self.data)
            self._on_screen = {lb for lb in self._on_screen if not _overlaps(lb.box, self.box)}
        for label in self.labels:
            shown = clip(label.box, cols, rows)
            if label not in self._on_screen and shown is not None:
                parts.append(label_text(clipped(label, shown), left, top))
        self._on_screen = set(self.labels)
        self._full = self._picture = False
        return f"{SYNC_START}{SAVE_CURSOR}{''.join(parts)}{RESTORE_CURSOR}{SYNC_END}"

    def _stop_wait(self) -> None:
        """Stop waiting for labels."""
        if self._wait is not None:
            self._wait.stop()
            self._wait = None

    def _drop_slot(self) -> None:
        """Give back a slot held for a write that will not happen."""
        if self._holding:
            self._holding = False
            self.view.gate.release()
        self.view.gate.cancel(self)


def clip(box: Box, cols: int, rows: int) -> Box | None:
    """``box`` cut to a ``cols`` x ``rows`` area (None when nothing is left)."""
    x, y = max(0, box.x), max(0, box.y)
    right, bottom = min(cols, box.x + box.cols), min(rows, box.y + box.rows)
    if right <= x or bottom <= y:
        return None
    return Box(x, y, right - x, bottom - y)


def clipped(label: Label, box: Box) -> Label:
    """``label`` cut to ``box`` (its own cells or fewer, from the top left)."""
    if box == label.box:
        return label
    lines = label.text.split("\n")[: box.rows]
    return Label(
        box.x, box.y, box.cols, box.rows, "\n".join(lines),
        label.colour, label.background, label.bold, label.pad,
    )  # fmt: skip
