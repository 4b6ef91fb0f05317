"""Cross-reference lines and the jump to the probe's point across the viewer's viewports
(mixed into the ViewerScreen; the layouts are :mod:`tuipacs.app.screens.viewer_layout`).

- ``X`` (on by default): where the active slice cuts the other viewports' images, drawn into
  their pictures in yellow, redrawn only when the line moves; none between parallel planes
  or across frames of reference (:func:`tuipacs.view.sync.crossref_segment`).
- ``T``: every other viewport of the frame of reference goes to its slice nearest to the
  probe's point, with its probe on that point.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, cast

import numpy as np

from tuipacs.app.screens.viewer_pane import Pane
from tuipacs.view.measure_draw import draw_segments
from tuipacs.view.sync import crossref_segment, frame_plane, probe_target, same_frame

if TYPE_CHECKING:
    from tuipacs.app.screens.viewer import ViewerScreen
    from tuipacs.view.annotation_draw import SourceToGrid
    from tuipacs.view.render import RenderRequest

Layer = Callable[[np.ndarray, "SourceToGrid"], None]
CROSSREF_COLOUR = (255, 255, 0)
"""Yellow: the active slice's line on the other viewports."""


def _screen(mixin: ViewerCrossref) -> ViewerScreen:
    return cast("ViewerScreen", mixin)


class ViewerCrossref:
    """Cross-reference lines and the jump to the probe."""

    show_crossref = True

    def action_crossref(self) -> None:
        """Cross-reference lines on or off."""
        self.show_crossref = not self.show_crossref
        _screen(self).notify(
            f"cross-reference lines: {'on' if self.show_crossref else 'off'}", timeout=2
        )
        self.refresh_crossrefs()

    def crossref_of(self, pane: Pane) -> tuple[tuple[float, float], tuple[float, float]] | None:
        """The active slice's line on ``pane``'s image (source pixels), None when none."""
        screen = _screen(self)
        active = screen.panes[screen.active]
        if not self.show_crossref or pane is active or pane.frame is None or active.frame is None:
            return None
        if not same_frame(active.planes, pane.planes):
            return None
        frame = pane.frame
        scale = frame.scale if frame.scale > 0 else 1.0
        shape = (round(frame.values.shape[0] / scale), round(frame.values.shape[1] / scale))
        return crossref_segment(frame_plane(active.frame.info), frame_plane(frame.info), shape)

    def crossref_layer(self) -> Layer | None:
        """What draws the cross-reference line into the current viewport's picture (None:
        nothing)."""
        screen = _screen(self)
        pane = screen.pane
        segment = self.crossref_of(pane)
        pane.crossref = segment
        if segment is None:
            return None
        (x0, y0), (x1, y1) = segment

        def layer(rgb: np.ndarray, to_grid: SourceToGrid) -> None:
            draw_segments(rgb, [(to_grid((x0, y0)), to_grid((x1, y1)))], CROSSREF_COLOUR)

        return layer

    def picture_layer(self, request: RenderRequest) -> Layer | None:
        """What draws into the current viewport's picture under the measurements: the
        study's annotations, then the cross-reference line."""
        screen = _screen(self)
        layers = [
            layer for layer in (screen.annotation_layer(request), self.crossref_layer()) if layer
        ]
        if not layers:
            return None
        if len(layers) == 1:
            return layers[0]

        def both(rgb: np.ndarray, to_grid: SourceToGrid) -> None:
            for layer in layers:
                layer(rgb, to_grid)

        return both

    def refresh_crossrefs(self) -> None:
        """Draw again the other viewports whose cross-reference line moved."""
        screen = _screen(self)
        if len(screen.panes) < 2:
            return
        for pane in screen.panes:
            if pane.index == screen.active or pane.rendered is None:
                continue
            if self.crossref_of(pane) != pane.crossref:
                with screen.in_pane(pane.index):
                    screen.display_frame()

    # -- jump to the probe -----------------------------------------------------------------

    def action_probe_jump(self) -> None:
        """The other viewports show the slice at the probe's point, with their probe on it."""
        screen = _screen(self)
        active = screen.panes[screen.active]
        probe = active.state.probe
        plane = frame_plane(active.frame.info) if active.frame is not None else None
        point = plane.point(*probe) if plane is not None and probe is not None else None
        if point is None:
            screen.notify("put the probe (c) on an image with a position first", timeout=3)
            return
        for pane in screen.panes:
            if pane is active or pane.store is None or not same_frame(active.planes, pane.planes):
                continue
            spacing = pane.info.pixel_spacing if pane.info is not None else None
            found = probe_target(np.asarray(point), pane.planes, spacing)
            if found is None:
                continue
            index, pixel = found
            rows, cols = pane.frame.values.shape[:2] if pane.frame is not None else (0, 0)
            scale = pane.frame.scale if pane.frame is not None and pane.frame.scale > 0 else 1.0
            with screen.in_pane(pane.index):
                pane.state.go_to(index)
                if (
                    pixel is not None
                    and 0 <= pixel[0] < cols / scale
                    and 0 <= pixel[1] < rows / scale
                ):
                    pane.state.probe = pixel
                screen.request_render()
