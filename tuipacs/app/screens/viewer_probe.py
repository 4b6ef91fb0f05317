"""The viewer's probe (mixed into the ViewerScreen): a source pixel with a crosshair drawn
into the picture in every backend, moved by the arrows (one pixel, Shift ten), put under the
mouse pointer, read out in modality units and mm (:mod:`tuipacs.view.probe`).

A probe move is a new picture like a window change: it goes through the render thread and
the frame gate (:meth:`request_render`), and the readout describes the picture on screen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, cast

import numpy as np

from tuipacs.view.crosshair import crosshair_picture
from tuipacs.view.layout import picture_box
from tuipacs.view.probe import (
    centre_probe,
    display_index,
    in_array,
    pointer_point,
    probe_at,
    probe_in_picture,
    source_shape,
)
from tuipacs.view.render import Rendered
from tuipacs.view.state import ViewerState

if TYPE_CHECKING:
    from tuipacs.app.screens.viewer import ViewerScreen
    from tuipacs.app.widgets.image_view import ImageView
    from tuipacs.view.frames import Frame
    from tuipacs.view.viewport import Orientation


class _Viewer(Protocol):
    """What the probe uses of the screen."""

    state: ViewerState
    frame: Frame | None
    rendered: Rendered | None
    picture_scale: float

    @property
    def image(self) -> ImageView: ...
    def request_render(self, motion: float | None = None) -> None: ...
    def _held(self, key: object = None) -> float | None: ...
    def _follow_probe(self) -> None: ...


def crosshair_for(
    image: ImageView,
    frame: Frame,
    rendered: Rendered,
    orientation: Orientation,
    probe: tuple[int, int],
    scale: float,
) -> tuple[np.ndarray, float] | None:
    """(array, aspect) of ``rendered`` with the crosshair on ``probe``, on the grid of the
    ImageView's backend; None when the probed pixel is not in view."""
    point = probe_in_picture(frame, orientation, probe)
    if point is None:
        return None
    shape = (rendered.array.shape[0], rendered.array.shape[1])
    box = picture_box(shape, rendered.aspect, image.area, image.cell_size, scale)
    if box.cols < 1 or box.rows < 1:
        return None
    box = image.graphics.fit(box)
    where = in_array(rendered, point)
    return crosshair_picture(
        rendered.array, rendered.aspect, where, image.backend, box, image.cell_size
    )


class ViewerProbe:
    """The probe's actions and readout (mixed into the ViewerScreen)."""

    def probe_text(self) -> str:
        """The probe's readout of the picture on screen ('' when its probe is off)."""
        from tuipacs.app.screens import viewer_shown

        return viewer_shown.probe_readout(cast("ViewerScreen", self))

    def action_probe(self: _Viewer) -> None:
        """Show or hide the probe (it starts on the pixel in the middle of the view)."""
        if self.state.probe is not None:
            self.state.probe = None
        elif self.frame is not None and self.rendered is not None:
            self.state.probe = centre_probe(self.frame, self.state.orientation, self.rendered)
        else:
            return
        self.request_render()

    def _probe_move(self: _Viewer, d_x: int, d_y: int, big: bool) -> None:
        """Arrows while probing: one source pixel on screen, ten with Shift."""
        if self.frame is None or self.state.probe is None:
            return
        motion = self._held(("probe", d_x, d_y, big))
        before = self.state.probe
        self.state.move_probe(d_x, d_y, big, source_shape(self.frame))
        if self.state.probe != before:
            self._follow_probe()
            self.request_render(motion)

    def _follow_probe(self: _Viewer) -> None:
        """Pan a zoomed view to the probe when it left what is on screen."""
        frame, rendered, probe = self.frame, self.rendered, self.state.probe
        if frame is None or rendered is None or probe is None:
            return
        point = probe_in_picture(frame, self.state.orientation, probe)
        if point is None:
            return
        region = rendered.region
        rows, cols = rendered.oriented_shape
        pan_r, pan_c = self.state.pan
        if not region.top <= point[0] < region.top + region.height:
            pan_r = point[0] - rows / 2
        if not region.left <= point[1] < region.left + region.width:
            pan_c = point[1] - cols / 2
        self.state.pan = (pan_r, pan_c)

    def _probe_to(self: _Viewer, screen_x: float, screen_y: float) -> None:
        """Put the probe on the pixel under the pointer (screen cells; a whole number is
        taken as the middle of its cell)."""
        box, rendered, frame = self.image.box, self.rendered, self.frame
        if box is None or rendered is None or frame is None:
            return
        region = self.image.region
        x = screen_x - region.x + (0.5 if float(screen_x).is_integer() else 0.0)
        y = screen_y - region.y + (0.5 if float(screen_y).is_integer() else 0.0)
        point = pointer_point((x, y), box, self.image.cell_size, rendered)
        if point is None:
            return
        probe = probe_at(frame, self.state.orientation, point)
        if probe is not None and probe != self.state.probe:
            self.state.probe = probe
            self.request_render(self._held("pointer"))

    def probe_pixel(self: _Viewer) -> tuple[int, int] | None:
        """(row, col) of the frame's array under the probe, None when off or outside."""
        if self.state.probe is None or self.frame is None:
            return None
        return display_index(self.frame, self.state.probe)
