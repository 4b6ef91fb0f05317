"""The viewer's measurements (mixed into the ViewerScreen): length, angle, rectangle and
ellipse ROIs placed with the probe as cursor or with the mouse, drawn into the picture,
listed in a side panel, kept per image for the session, copied as text (OSC 52); and the
scale bar of the overlay.

Keys: ``M`` cycles the tool (length, angle, rectangle, ellipse, off) and turns the probe on
as the cursor; arrows move it (Shift: 10 pixels); Enter places a point at it; Esc cancels
the measurement being placed, then turns the tool off; Delete removes the last point placed
or else the image's last measurement; ``y`` copies the image's measurements; ``l`` shows or
hides the panel (it shows by itself when a measurement is made).

Mouse, while a tool is on: a press on the picture places a point under the pointer, and a
release on another pixel places the next one, so a drag draws a length or an ROI from
press to release (an angle: drag the first arm, click the end of the second); clicks place
points one by one. Without a tool a left-drag stays window/level.

The model is :mod:`tuipacs.view.measure`, the drawing :mod:`tuipacs.view.measure_draw`,
the scale bar :mod:`tuipacs.view.scalebar`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, cast

import numpy as np
from textual import events
from textual.binding import BindingType

from tuipacs.app.keymap import Key
from tuipacs.app.screens import viewer_shown
from tuipacs.app.screens.viewer_probe import crosshair_for
from tuipacs.app.session import ImageKey
from tuipacs.app.widgets.measure_panel import MeasurePanel
from tuipacs.imaging.resample import fit_pixels
from tuipacs.view.crosshair import grid_of
from tuipacs.view.layout import box_pixels, picture_box
from tuipacs.view.measure import (
    TITLES,
    Measurement,
    Point,
    calibration,
    clipboard_text,
    listing,
    need,
    next_tool,
)
from tuipacs.view.measure_draw import Drawing, annotated, plan, source_mapper
from tuipacs.view.overlay_text import Corners
from tuipacs.view.probe import centre_probe, in_array, probe_in_picture
from tuipacs.view.render import RenderRequest
from tuipacs.view.scalebar import mm_per_cell, scale_bar
from tuipacs.view.viewport import Orientation

if TYPE_CHECKING:
    from tuipacs.app.screens.viewer import ViewerScreen

SECTION = "Measure"
Layer = Callable[[np.ndarray, Callable[[Point], tuple[float, float]]], None]
"""Draws into the grid picture given the source-to-grid mapping (a study's annotations)."""
_TOOL = "measure: length, angle, rectangle, ellipse, off"


def measure_keys() -> list[BindingType]:
    """The measurement keys (help section :data:`SECTION`)."""
    return [
        Key("M", "measure_tool", "Measure", show=False, section=SECTION, tooltip=_TOOL),
        Key(
            "enter",
            "measure_point",
            "point",
            show=False,
            section=SECTION,
            tooltip="place a point at the probe (mouse: click, or drag)",
        ),
        Key(
            "delete",
            "measure_delete",
            "delete",
            show=False,
            section=SECTION,
            tooltip="remove the last point, else the last measurement",
        ),
        Key(
            "y",
            "measure_copy",
            "copy",
            show=False,
            section=SECTION,
            tooltip="copy the image's measurements as text (OSC 52)",
        ),
        Key(
            "l",
            "measure_panel",
            "list",
            show=False,
            section=SECTION,
            tooltip="show / hide the measurement panel",
        ),
    ]


def _under(
    layer: Layer | None,
    values_shape: tuple[int, int],
    scale: float,
    orientation: Orientation,
    crop: tuple[float, float],
) -> Callable[[np.ndarray, tuple[float, float]], None] | None:
    """What draws ``layer`` into a grid picture with its grid scale (None without one)."""
    if layer is None:
        return None
    drawn = layer

    def under(rgb: np.ndarray, grid_scale: tuple[float, float]) -> None:
        origin = (int(crop[0]), int(crop[1]))
        drawn(rgb, source_mapper(values_shape, scale, orientation, origin, grid_scale))

    return under


def _screen(mixin: ViewerMeasure) -> ViewerScreen:
    return cast("ViewerScreen", mixin)


class ViewerMeasure:
    """Measurements and the scale bar (mixed into the ViewerScreen)."""

    measure_tool: str | None = None
    """The tool on (:data:`tuipacs.view.measure.TOOLS`), None when off."""
    _pending: tuple[Point, ...] = ()
    """The points placed of the measurement under way."""
    _pending_image: ImageKey | None = None
    _pressed: Point | None = None
    """The point a mouse press placed (a release elsewhere places the next)."""
    _listed: tuple[object, str] | None = None
    """The panel's text and what it was made of (an ROI's statistics are made once)."""
    _panel_auto = True
    """The panel shows by itself when a measurement is made (until ``l`` hides it)."""

    # -- the image and its measurements -------------------------------------------------------

    def image_key(self, index: int | None = None) -> ImageKey | None:
        """The image ``index`` (default: the current one) as the session knows it."""
        screen = _screen(self)
        store = screen.store
        index = screen.state.index if index is None else index
        if store is None or not 0 <= index < len(store.images):
            return None
        ref = store.images[index]
        return str(ref.path), ref.frame

    def measurements(self, index: int | None = None) -> tuple[Measurement, ...]:
        """The measurements of image ``index`` (default: the current one)."""
        key = self.image_key(index)
        return _screen(self).settings.session.measured(key) if key is not None else ()

    def pending(self, index: int | None = None) -> tuple[Point, ...]:
        """The points placed so far on image ``index`` (default: the current one)."""
        key = self.image_key(index)
        return self._pending if key is not None and key == self._pending_image else ()

    # -- actions ---------------------------------------------------------------------------

    def action_measure_tool(self) -> None:
        """Next tool (length, angle, rectangle, ellipse, off); the probe is the cursor."""
        screen = _screen(self)
        self.measure_tool = next_tool(self.measure_tool)
        self._pending, self._pending_image = (), None
        if self.measure_tool is not None and screen.state.probe is None:
            if screen.frame is not None and screen.rendered is not None:
                screen.state.probe = centre_probe(
                    screen.frame, screen.state.orientation, screen.rendered
                )
        screen.request_render()
        screen.update_overlays()

    def action_measure_point(self) -> None:
        """Place a point at the probe (a measurement is made when it has all its points)."""
        probe = _screen(self).state.probe
        if self.measure_tool is None or probe is None:
            return
        self._place((float(probe[0]), float(probe[1])))

    def _place(self, point: Point) -> None:
        screen = _screen(self)
        key, tool = self.image_key(), self.measure_tool
        if key is None or tool is None:
            return
        points = (*self.pending(), point)
        if len(points) < need(tool):
            self._pending, self._pending_image = points, key
        else:
            self._pending, self._pending_image = (), None
            session = screen.settings.session
            session.set_measured(key, (*session.measured(key), Measurement(tool, points)))
            if self._panel_auto:
                self._show_panel(True)
        screen.request_render()
        screen.update_overlays()

    def action_measure_delete(self) -> None:
        """Remove the last point placed, else the image's last measurement."""
        screen = _screen(self)
        key = self.image_key()
        if key is None:
            return
        if self.pending():
            self._pending = self._pending[:-1]
        else:
            items = screen.settings.session.measured(key)
            if not items:
                return
            screen.settings.session.set_measured(key, items[:-1])
        screen.request_render()
        screen.update_overlays()

    def action_measure_copy(self) -> None:
        """Copy the image's measurements as text to the clipboard (OSC 52)."""
        screen = _screen(self)
        items, frame = self.measurements(), screen.frame
        if not items or frame is None:
            screen.app.notify("no measurements on this image to copy", severity="warning")
            return
        values = None if frame.color else frame.values
        text = clipboard_text(self._heading(), items, frame.info, values, frame.scale)
        screen.app.copy_to_clipboard(text)
        count = len(items)
        screen.app.notify(f"copied {count} measurement{'s' if count > 1 else ''}")

    def action_measure_panel(self) -> None:
        """Show or hide the measurement panel."""
        shown = not _screen(self).query_one(MeasurePanel).display
        self._panel_auto = shown
        self._show_panel(shown)

    def _show_panel(self, shown: bool) -> None:
        panel = _screen(self).query_one(MeasurePanel)
        if panel.display != shown:
            panel.display = shown  # the picture's area changes: a resize renders again

    def measure_escape(self) -> bool:
        """Esc: cancel the measurement under way, else turn the tool (and probe) off;
        False when no tool is on (Esc then does what it did)."""
        screen = _screen(self)
        if self.measure_tool is None:
            return False
        if self.pending():
            self._pending, self._pending_image = (), None
        else:
            self.measure_tool = None
            screen.state.probe = None
        screen.request_render()
        screen.update_overlays()
        return True

    # -- mouse -----------------------------------------------------------------------------

    def measure_press(self, event: events.MouseDown) -> bool:
        """A left press on the picture with a tool on places a point there; False when no
        tool is on (the press is then the window's)."""
        screen = _screen(self)
        if self.measure_tool is None or event.button != 1:
            return False
        if screen._picture_cell(event) is None:
            return True
        screen._probe_to(event.screen_x, event.screen_y)
        probe = screen.state.probe
        if probe is not None:
            self._pressed = (float(probe[0]), float(probe[1]))
            self._place(self._pressed)
        return True

    def measure_release(self, event: events.MouseUp) -> bool:
        """The release of a press that placed a point: on another pixel it places the next
        (a drag draws from press to release). False when no press placed a point."""
        screen = _screen(self)
        pressed, self._pressed = self._pressed, None
        if pressed is None or self.measure_tool is None:
            return False
        if screen._picture_cell(event) is not None:
            screen._probe_to(event.screen_x, event.screen_y)
        probe = screen.state.probe
        if probe is not None and (float(probe[0]), float(probe[1])) != pressed:
            if self.pending():  # the press began a measurement that is still open
                self._place((float(probe[0]), float(probe[1])))
        return True

    # -- picture, overlays, panel ------------------------------------------------------------

    def measured_picture(
        self, request: RenderRequest, layer: Layer | None = None
    ) -> tuple[np.ndarray, float] | None:
        """(array, aspect) of the rendered picture with the probe's crosshair and the
        image's measurements drawn in, on the backend's grid, over what ``layer(rgb,
        source-to-grid mapping)`` draws (a study's annotations); None when there is
        nothing to draw (or nothing of it is in view)."""
        screen = _screen(self)
        frame, rendered, image = screen.frame, screen.rendered, screen.image
        if frame is None or rendered is None:
            return None
        items, points = self.measurements(request.index), self.pending(request.index)
        probe = request.probe
        if not items and not points and layer is None:
            if probe is None:
                return None
            return crosshair_for(
                image, frame, rendered, request.orientation, probe, screen.picture_scale
            )
        shape = (rendered.array.shape[0], rendered.array.shape[1])
        box = picture_box(shape, rendered.aspect, image.area, image.cell_size, screen.picture_scale)
        if box.cols < 1 or box.rows < 1:
            return None
        box = image.graphics.fit(box)
        origin = in_array(rendered, (0.0, 0.0))
        crop = (-origin[0], -origin[1])
        values_shape = (frame.values.shape[0], frame.values.shape[1])
        cursor = (float(probe[0]), float(probe[1])) if probe is not None else None
        tool = self.measure_tool or ""
        pending = (tool, points) if points and tool else None

        def drawing_of(grid_scale: tuple[float, float]) -> Drawing:
            crop_origin = (int(crop[0]), int(crop[1]))
            to_grid = source_mapper(
                values_shape, frame.scale, request.orientation, crop_origin, grid_scale
            )
            return plan(items, pending, cursor, to_grid)

        where = None
        if probe is not None:
            point = probe_in_picture(frame, request.orientation, probe)
            where = in_array(rendered, point) if point is not None else None
        under = _under(layer, values_shape, frame.scale, request.orientation, crop)
        picture = (rendered.array, rendered.aspect, image.backend, box, image.cell_size)
        return annotated(*picture, drawing_of, where, under)

    def measure_corners(self, corners: Corners) -> Corners:
        """The corner texts with the tool's state (bottom right) and the scale bar (bottom
        left) added."""
        status = self.tool_status()
        bar = self.scale_bar_text()
        right = "\n".join(part for part in (status, corners.bottom_right) if part)
        left = "\n".join(part for part in (corners.bottom_left, bar) if part)
        return replace(corners, bottom_right=right, bottom_left=left)

    def tool_status(self) -> str:
        """``Length: point 1 of 2 (Enter)`` while a tool is on, else ''."""
        tool = self.measure_tool
        if tool is None:
            return ""
        placed = len(self.pending())
        return f"{TITLES[tool]}: point {placed + 1} of {need(tool)} (Enter, Esc)"

    def scale_bar_text(self) -> str:
        """The scale bar of the picture on screen ('' without calibration or room)."""
        screen = _screen(self)
        state, frame, rendered, _info = viewer_shown.on_screen(screen)
        image = screen.image
        box = image.box if screen.is_attached else None
        if frame is None or rendered is None or box is None or box.cols < 1:
            return ""
        shape = (rendered.array.shape[0], rendered.array.shape[1])
        cell = image.cell_size
        if image.backend == "kitty":
            cells = float(box.cols)
        elif image.backend == "halfcell":
            cells = float(grid_of("halfcell", shape, rendered.aspect, box, cell).size[1])
        else:
            cells = fit_pixels(shape, rendered.aspect, box_pixels(box, cell))[1] / cell.width
        cal = calibration(frame.info)
        per_cell = mm_per_cell(cal, state.orientation, shape[1], frame.scale, cells)
        bar = scale_bar(per_cell, cells)
        if bar and cal.source == "ImagerPixelSpacing":
            bar += " (detector)"
        return bar

    def _heading(self) -> str:
        """Which image the measurements are of (no patient identity)."""
        screen = _screen(self)
        info = screen.frame.info if screen.frame is not None else None
        text = f"Image {screen.state.index + 1}/{screen.state.count}"
        if info is not None:
            if info.instance_number:
                text += f" (#{info.instance_number})"
            series = " ".join(p for p in (info.series_number, info.series_description) if p)
            if series:
                text += f", series {series}"
        return text

    def update_panel(self) -> None:
        """The panel lists the measurements of the image on screen."""
        screen = _screen(self)
        if not screen.is_attached:
            return
        panel = screen.query_one(MeasurePanel)
        state, frame, _rendered, _info = viewer_shown.on_screen(screen)
        if frame is None:
            panel.show_text("Measurements", "")
            return
        items = self.measurements(state.index)
        key = (self.image_key(state.index), items, id(frame))
        if self._listed is not None and self._listed[0] == key:
            text = self._listed[1]  # the probe moved: the statistics did not change
        else:
            values = None if frame.color else frame.values
            text = listing(items, frame.info, values, frame.scale)
            self._listed = (key, text)
        panel.show_text(f"Measurements · image {state.index + 1}", text)
        if items and self._panel_auto:
            self._show_panel(True)
