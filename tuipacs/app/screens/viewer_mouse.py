"""The viewer's mouse (:class:`ViewerMouse`, mixed into the ViewerScreen).

- The wheel steps through the images; Ctrl+wheel zooms (up: in) about the pointer.
- A left-drag on the picture moves the window (:mod:`tuipacs.view.pointer`): horizontally
  the width, vertically the level. It needs a terminal that reports motion with a button
  held; one that does not sends only the press and the release, a click.
- A click (press and release without moving) puts the probe there; while the probe is on
  it follows the pointer.
- With a measurement tool on, a press places a point and a release elsewhere the next
  (:mod:`tuipacs.app.screens.viewer_measure`): no window drag then.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from textual import events

from tuipacs.view.pointer import WindowDrag, zoom_about
from tuipacs.view.probe import pointer_point
from tuipacs.view.state import ZOOM_STEP, ViewerState
from tuipacs.view.window_steps import value_range, window_limits

if TYPE_CHECKING:
    from tuipacs.app.widgets.image_view import ImageView
    from tuipacs.view.frames import Frame
    from tuipacs.view.render import Rendered

LEFT = 1
"""Textual's number of the left button."""


class _Viewer(Protocol):
    """What the mouse uses of the screen."""

    state: ViewerState
    frame: Frame | None
    rendered: Rendered | None
    _drag: WindowDrag | None
    _dragged: bool

    @property
    def image(self) -> ImageView: ...
    def request_render(self, motion: float | None = None) -> None: ...
    def _held(self, key: object = None) -> float | None: ...
    def _probe_to(self, screen_x: float, screen_y: float) -> None: ...
    def action_step(self, delta: int) -> None: ...
    def _wheel_zoom(self, event: events.MouseEvent, direction: int) -> None: ...
    def _picture_cell(self, event: events.MouseEvent) -> tuple[int, int] | None: ...
    def _end_drag(self) -> None: ...
    def measure_press(self, event: events.MouseDown) -> bool: ...
    def measure_release(self, event: events.MouseUp) -> bool: ...


class ViewerMouse:
    """What the mouse does in the viewer (mixed into the ViewerScreen)."""

    ALLOW_SELECT = False
    """No text selection on the viewer's screen: a drag is the window's, and Textual's
    selection would tint the picture and the overlays while it lasts (the terminal's own
    selection, with Shift in most terminals, still copies the overlays' text)."""

    _drag: WindowDrag | None = None
    """The left-drag under way (None when the button is up)."""
    _dragged = False
    """The last press became a drag: its release is no click (no probe)."""

    def on_mouse_scroll_down(self: _Viewer, event: events.MouseScrollDown) -> None:
        """Wheel down: next image; with Ctrl, zoom out."""
        event.stop()
        if event.ctrl:
            self._wheel_zoom(event, -1)
        else:
            self.action_step(1)

    def on_mouse_scroll_up(self: _Viewer, event: events.MouseScrollUp) -> None:
        """Wheel up: previous image; with Ctrl, zoom in."""
        event.stop()
        if event.ctrl:
            self._wheel_zoom(event, 1)
        else:
            self.action_step(-1)

    def _wheel_zoom(self: _Viewer, event: events.MouseEvent, direction: int) -> None:
        """Zoom in (1) or out (-1) a step, about the point of the picture under the pointer
        (about the centre when the pointer is beside the picture)."""
        before = self.state.zoom
        self.state.zoom_by(ZOOM_STEP if direction > 0 else 1 / ZOOM_STEP)
        rendered, box, cell = self.rendered, self.image.box, self._picture_cell(event)
        if rendered is not None and box is not None and cell is not None and before > 0:
            middle = (cell[0] + 0.5, cell[1] + 0.5)
            point = pointer_point(middle, box, self.image.cell_size, rendered)
            factor = self.state.zoom / before
            self.state.pan = zoom_about(self.state.pan, rendered.region, point, factor)
        self.request_render(self._held(("zoom", direction)))

    def _picture_cell(self: _Viewer, event: events.MouseEvent) -> tuple[int, int] | None:
        """The cell (x, y) of the image widget under the pointer, None when outside it."""
        region = self.image.region
        x, y = int(event.screen_x) - region.x, int(event.screen_y) - region.y
        return (x, y) if 0 <= x < region.width and 0 <= y < region.height else None

    def on_mouse_down(self: _Viewer, event: events.MouseDown) -> None:
        """The left button on a greyscale picture may start a drag (window/level)."""
        self._drag, self._dragged = None, False
        if self.measure_press(event):
            return
        window, frame, box = self.state.window, self.frame, self.image.box
        if event.button != LEFT or window is None or frame is None or frame.color or box is None:
            return
        if self._picture_cell(event) is None:
            return
        lo, hi = frame.cached.get("value_range") or value_range(frame.values)
        frame.cached["value_range"] = (lo, hi)
        limits = window_limits(frame.info.modality, lo, hi)
        start = (int(event.screen_x), int(event.screen_y))
        self._drag = WindowDrag(start, window, (box.cols, box.rows), limits)

    def on_mouse_move(self: _Viewer, event: events.MouseMove) -> None:
        """With the left button held: the window follows the drag. Without: a drag whose
        release went unseen ends, and the probe (when on) follows the pointer."""
        drag = self._drag
        if drag is not None and event.button == LEFT:
            x, y = int(event.screen_x), int(event.screen_y)
            if (x, y) == drag.start and not drag.moved:
                return
            self._drag = drag if drag.moved else replace(drag, moved=True)
            self._dragged = True
            window = drag.window_at(x, y)
            if window != self.state.window:
                self.state.window = window
                self.state.window_name = "custom"
                self.request_render(self._held("drag"))
            return
        if drag is not None:
            self._end_drag()
        if self.state.probe is not None:
            self._probe_to(event.screen_x, event.screen_y)

    def on_mouse_up(self: _Viewer, event: events.MouseUp) -> None:
        """The end of a drag: the picture in full (a link may have carried previews); with
        a measurement tool on, the next point where the button went up."""
        self.measure_release(event)
        self._end_drag()

    def _end_drag(self: _Viewer) -> None:
        drag, self._drag = self._drag, None
        if drag is not None and drag.moved:
            self.request_render()

    def on_click(self: _Viewer, event: events.Click) -> None:
        """A click on the picture puts the probe there (not the release of a drag)."""
        if self._dragged:
            self._dragged = False
            return
        self._probe_to(event.screen_x, event.screen_y)
