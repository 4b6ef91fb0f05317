"""A study's presentation states (GSPS), segmentations (SEG), structure sets (RTSTRUCT) and
SR measurement reports (TID 1500) over its images (mixed into the ViewerScreen).

When the viewer opens, a worker reads the study's annotation objects
(:func:`tuipacs.view.annotations_load.load_study`, bounded) and posts them. Then:

- an image with a GSPS shows its window, rotation / flip and displayed area (once, when the
  image with that presentation comes on screen: the reader's changes afterwards stay), and
  its graphics and texts drawn in;
- an SR measurement report's image regions are drawn with their measurements next to them
  (:mod:`tuipacs.view.annotations_sr`), shown and hidden with the GSPS graphics;
- segments show as outlines, translucent fills or not at all, contours with them;
- the overlay says ``GSPS``, ``SR: 2 measurements`` and ``SEG: 3 segments`` /
  ``RTSTRUCT: 2 ROIs``.

Keys: ``A`` annotations (GSPS and SR) on / off; ``G`` the GSPS's window and view on / off
(annotations only: the reader's own window stays, as Weasis readers ask); ``S`` cycles
segments: outline, fill, off. Drawing: :mod:`tuipacs.view.annotation_draw`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, cast

import numpy as np
from textual import work
from textual.binding import BindingType
from textual.message import Message

from tuipacs.app.keymap import Key
from tuipacs.imaging.voi import Window
from tuipacs.safe_text import clean
from tuipacs.view.annotation_draw import (
    OFF,
    OUTLINE,
    SourceToGrid,
    draw_image_annotations,
    mask_on_grid,
    next_mode,
)
from tuipacs.view.annotations import ImageAnnotations, Presentation
from tuipacs.view.annotations_load import LoadedAnnotations, load_study
from tuipacs.view.frames import MAX_DISPLAY
from tuipacs.view.overlay_text import Corners
from tuipacs.view.probe import oriented_point
from tuipacs.view.render import RenderRequest
from tuipacs.view.viewport import MAX_ZOOM, Orientation, fit_scale

if TYPE_CHECKING:
    from tuipacs.app.screens.viewer import ViewerScreen
    from tuipacs.app.screens.viewer_measure import Layer

SECTION = "View"


def annotation_keys() -> list[BindingType]:
    """The annotation keys (help section :data:`SECTION`)."""
    return [
        Key("A", "annotations", "annotations", show=False, section=SECTION,
            tooltip="GSPS and SR measurement annotations on / off"),
        Key("G", "gsps_window", "GSPS window", show=False, section=SECTION,
            tooltip="GSPS window and view on / off (off: annotations only)"),
        Key("S", "segments", "segments", show=False, section=SECTION,
            tooltip="segments and contours: outline, fill, off"),
    ]  # fmt: skip


@dataclass
class AnnotationsLoaded(Message):
    """The study's annotation objects were read."""

    loaded: LoadedAnnotations


@dataclass(frozen=True)
class _ReaderView:
    """What the reader had before a GSPS changed it."""

    window: Window | None
    window_name: str
    orientation: Orientation
    zoom: float
    pan: tuple[float, float]


def _screen(mixin: ViewerAnnotations) -> ViewerScreen:
    return cast("ViewerScreen", mixin)


class ViewerAnnotations:
    """GSPS, SEG, RTSTRUCT and SR measurements over the images (mixed into the ViewerScreen)."""

    annotations: LoadedAnnotations | None = None
    show_graphics = True
    """GSPS and SR graphics and texts drawn (``A``)."""
    gsps_view = True
    """The GSPS's window, orientation and displayed area applied (``G``)."""
    segment_mode = OUTLINE
    """How segments and contours show (``S``)."""
    _applied: Presentation | None = None
    _reader: _ReaderView | None = None

    @work(thread=True, exclusive=True, group="annotations", exit_on_error=False)
    def load_annotations(self) -> None:
        """Read the study's GSPS, SEG, RTSTRUCT and SR objects (a worker thread)."""
        screen = _screen(self)
        loaded = load_study(screen.archive, screen.study.study_uid)
        screen.post_message(AnnotationsLoaded(loaded))

    def on_annotations_loaded(self, message: AnnotationsLoaded) -> None:
        """Keep them; show them on the image on screen; say what went wrong, in one line."""
        screen = _screen(self)
        self.annotations = message.loaded
        problems = message.loaded.study.problems
        if problems:  # one line, cleaned: a reason may quote the file
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            screen.notify(
                clean(problems[0])[:200] + more, severity="warning", timeout=8, markup=False
            )
        screen.request_render()

    # -- the image on screen -------------------------------------------------------------------

    def annotations_of(self, index: int) -> ImageAnnotations | None:
        """The annotations of image ``index`` of the series, None when it has none."""
        loaded, store = self.annotations, _screen(self).store
        if loaded is None or store is None or not 0 <= index < len(store):
            return None
        ref = store.images[index]
        uid = loaded.sop_by_path.get(str(ref.path))
        return loaded.study.of((uid, ref.frame)) if uid else None

    def apply_presentation(self) -> None:
        """Before a render: apply the GSPS of the image to be shown, once per presentation
        (a later change by the reader stays until another presentation comes)."""
        found = self.annotations_of(_screen(self).state.index)
        presentation = found.presentation if found is not None else None
        if presentation is None or not self.gsps_view or presentation == self._applied:
            return
        state = _screen(self).state
        if self._reader is None:
            self._reader = _ReaderView(
                state.window, state.window_name, state.orientation, state.zoom, state.pan
            )
        self._applied = presentation
        if presentation.magnify is not None and _screen(self).rendered is None:
            self._applied = None  # the image's aspect is not known yet: again with its frame
        if presentation.window is not None:
            state.window, state.window_name = presentation.window, "gsps"
        state.orientation = presentation.orientation
        state.zoom, state.pan = self._area_view(presentation)

    def presentation_guessed(self) -> bool:
        """A GSPS of the image on screen was applied without the image's aspect (a
        magnification before the first frame): render again to apply it with the aspect."""
        found = self.annotations_of(_screen(self).state.index)
        presentation = found.presentation if found is not None else None
        return presentation is not None and self.gsps_view and self._applied is None

    def forget_presentation(self) -> None:
        """Another series opened with its own view: its GSPS applies afresh."""
        self._applied = None
        self._reader = None

    def _area_view(self, presentation: Presentation) -> tuple[float, tuple[float, float]]:
        """Zoom and pan that show the presentation's displayed area (fit: the whole image)."""
        screen = _screen(self)
        size = self._source_size()
        if presentation.area is None or size is None:
            return 1.0, (0.0, 0.0)
        top, left, bottom, right = presentation.area
        scale = min(1.0, MAX_DISPLAY / max(size))
        shape = (size[0] * scale, size[1] * scale)
        orientation = presentation.orientation
        corners = [
            oriented_point(orientation, (r * scale, c * scale), (round(shape[0]), round(shape[1])))
            for r, c in ((top, left), (bottom, right))
        ]
        (r0, c0), (r1, c1) = corners
        rows, cols = orientation.oriented_shape(round(shape[0]), round(shape[1]))
        aspect = 1.0
        view = screen.view_px()
        whole = fit_scale((rows, cols), aspect, view)
        area = fit_scale((max(1, round(abs(r1 - r0))), max(1, round(abs(c1 - c0)))), aspect, view)
        if presentation.magnify is not None:  # MAGNIFY: screen pixels per image pixel
            rendered = screen.rendered  # the zoom as the overlay gives it: with the aspect
            real = rendered.aspect if rendered is not None else aspect
            whole = fit_scale((rows, cols), real, screen.view_px(screen._cell()))
            area = presentation.magnify / scale
        zoom = float(min(MAX_ZOOM, max(1.0 / MAX_ZOOM, area / whole)))
        return zoom, ((r0 + r1) / 2 - rows / 2, (c0 + c1) / 2 - cols / 2)

    def _source_size(self) -> tuple[int, int] | None:
        """(rows, columns) of the image to be shown (from the archive's index)."""
        loaded, store = self.annotations, _screen(self).store
        index = _screen(self).state.index
        if loaded is None or store is None or not 0 <= index < len(store):
            return None
        uid = loaded.sop_by_path.get(str(store.images[index].path), "")
        return loaded.sizes.get(uid)

    def annotation_layer(self, request: RenderRequest) -> Layer | None:
        """What draws the image's annotations into its grid picture (None: nothing to)."""
        screen = _screen(self)
        found = self.annotations_of(request.index)
        frame, rendered = screen.frame, screen.rendered
        if found is None or frame is None or rendered is None:
            return None
        if not (self.show_graphics and (found.graphics or found.labels)) and (
            self.segment_mode == OFF or not (found.masks or found.contours)
        ):
            return None
        values_shape = (frame.values.shape[0], frame.values.shape[1])
        region, orientation = rendered.region, request.orientation
        graphics, mode = self.show_graphics, self.segment_mode

        def layer(rgb: np.ndarray, to_grid: SourceToGrid) -> None:
            def grid_mask(labels: np.ndarray) -> np.ndarray:
                size = (rgb.shape[0], rgb.shape[1])
                return mask_on_grid(labels, values_shape, orientation, region, size)

            draw_image_annotations(rgb, found, to_grid, grid_mask, graphics=graphics, segments=mode)

        return layer

    def annotation_corners(self, corners: Corners) -> Corners:
        """The corner texts with ``GSPS``, the SR measurements and the segments / ROIs of the
        image on screen."""
        found = self.annotations_of(_screen(self).state.index)
        if found is None or self.annotations is None:
            return corners
        study = self.annotations.study
        parts: list[str] = []
        if found.presentation is not None:
            parts.append("GSPS" + ("" if self.gsps_view else " (annotations only)"))
        if found.measurements:
            count, hidden = found.measurements, "" if self.show_graphics else " (hidden)"
            parts.append(f"SR: {count} measurement{'s' if count != 1 else ''}{hidden}")
        if found.masks:
            count = len({mask.segment for mask in found.masks})
            parts.append(f"SEG: {count} segment{'s' if count != 1 else ''} ({self.segment_mode})")
        if found.contours:
            parts.append(f"RTSTRUCT: {study.rois} ROI{'s' if study.rois != 1 else ''}")
        if not parts:
            return corners
        right = "\n".join(part for part in (corners.top_right, *parts) if part)
        return replace(corners, top_right=right)

    # -- keys ----------------------------------------------------------------------------------

    def action_annotations(self) -> None:
        """GSPS and SR graphics and texts on / off."""
        self.show_graphics = not self.show_graphics
        _screen(self).notify(f"annotations {'on' if self.show_graphics else 'off'}", timeout=2)
        _screen(self).display_frame()
        _screen(self).update_overlays()

    def action_gsps_window(self) -> None:
        """The GSPS's window and view on / off: off keeps (or gives back) the reader's own."""
        screen = _screen(self)
        self.gsps_view = not self.gsps_view
        state = screen.state
        if not self.gsps_view and self._reader is not None:
            reader = self._reader
            state.window, state.window_name = reader.window, reader.window_name
            state.orientation = reader.orientation
            state.zoom, state.pan = reader.zoom, reader.pan
        self._applied = None
        self._reader = None
        note = "GSPS window and view" if self.gsps_view else "GSPS annotations only"
        screen.notify(note, timeout=2)
        screen.request_render()
        screen.update_overlays()

    def action_segments(self) -> None:
        """Segments and contours: outline, fill, off."""
        self.segment_mode = next_mode(self.segment_mode)
        _screen(self).notify(f"segments: {self.segment_mode}", timeout=2)
        _screen(self).display_frame()
        _screen(self).update_overlays()
