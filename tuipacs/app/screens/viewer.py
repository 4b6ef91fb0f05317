"""The viewer: one series at a time in a large viewport with corner overlays.

A composition: the :class:`~tuipacs.app.widgets.viewport.ImageViewport` (picture and text),
a :class:`~tuipacs.app.widgets.series_loader.SeriesLoader` (series and images from the
archive), a :class:`~tuipacs.app.screens.viewer_render.FrameRenderer` (the render thread) and
:class:`~tuipacs.app.screens.viewer_cine.Cine`.
The state and the rules that change it are :class:`tuipacs.view.state.ViewerState`; the keys
are :mod:`tuipacs.app.screens.viewer_keys`, the mouse :mod:`tuipacs.app.screens.viewer_mouse`.
"""

from __future__ import annotations

import threading

from textual.app import ComposeResult
from textual.containers import Container
from textual.screen import Screen
from textual.widgets import Footer, Static

from tuipacs.app.messages import FrameFailed, FrameRendered, LoadFailed, SeriesGrew, SeriesOpened
from tuipacs.app.screens import viewer_shown
from tuipacs.app.screens.documents import DocumentOpened, show_document
from tuipacs.app.screens.viewer_annotations import ViewerAnnotations
from tuipacs.app.screens.viewer_cine import Cine
from tuipacs.app.screens.viewer_crossref import ViewerCrossref
from tuipacs.app.screens.viewer_hanging import ViewerHanging
from tuipacs.app.screens.viewer_keyimages import ViewerKeyImages
from tuipacs.app.screens.viewer_keys import SECTIONS, ViewerKeys, viewer_bindings
from tuipacs.app.screens.viewer_layout import ViewerLayout, layout_keys
from tuipacs.app.screens.viewer_measure import ViewerMeasure
from tuipacs.app.screens.viewer_mouse import ViewerMouse
from tuipacs.app.screens.viewer_mpr import Reformats, ViewerMpr, mpr_bindings
from tuipacs.app.screens.viewer_pane import Pane, PaneForwarding
from tuipacs.app.screens.viewer_priors import ViewerPriors
from tuipacs.app.screens.viewer_probe import ViewerProbe
from tuipacs.app.screens.viewer_render import FrameRenderer
from tuipacs.app.settings import Settings
from tuipacs.app.widgets.image_view import ImageView
from tuipacs.app.widgets.measure_panel import MeasurePanel
from tuipacs.app.widgets.priors_finder import PriorsFinder
from tuipacs.app.widgets.series_loader import SeriesLoader
from tuipacs.app.widgets.viewport import ImageViewport
from tuipacs.remote import ClientFactory, config_clients
from tuipacs.store.archive import Archive
from tuipacs.store.query import SeriesRow, StudyRow
from tuipacs.view.actions import viewer_keymap
from tuipacs.view.info import FrameInfo
from tuipacs.view.layout import CellSize
from tuipacs.view.overlay_text import edge_labels, viewer_corners
from tuipacs.view.pdf import store_for
from tuipacs.view.render import RenderRequest
from tuipacs.view.state import ViewerState

STATUS_EVERY = 1.0
"""Seconds between updates of the status line (the link figures)."""
HALF_CELL = CellSize(1, 2)


class ViewerScreen(
    ViewerAnnotations,
    ViewerKeyImages,
    ViewerMeasure,
    ViewerProbe,
    ViewerMpr,
    ViewerKeys,
    ViewerMouse,
    ViewerPriors,
    ViewerLayout,
    ViewerCrossref,
    ViewerHanging,
    PaneForwarding,
    Screen[None],
):
    """One study: its series one at a time, with window/level, zoom, cine, probe,
    measurements, key images, reformats, annotations (GSPS, SEG, RTSTRUCT), priors and tags."""

    BINDINGS = viewer_bindings() + mpr_bindings() + layout_keys()

    def __init__(
        self,
        archive: Archive,
        study: StudyRow,
        series_uid: str = "",
        settings: Settings | None = None,
        clients: ClientFactory | None = None,
    ) -> None:
        super().__init__()
        self.archive = archive
        self.settings = settings or Settings()
        cfg = self.settings.config
        self.clients = clients if clients is not None else config_clients(cfg, archive)
        self.priors = PriorsFinder(archive, study, self.clients, list(cfg.nodes))
        loader = SeriesLoader(archive, study.study_uid, series_uid)
        loader.keys_of = lambda: self.settings.session.flags(study.study_uid)
        self.panes = [Pane(0, study, loader, FrameRenderer(self), Reformats())]
        self.active = 0
        self.grid = "1x1"
        """The layout: rows x columns of viewports."""
        self.state = ViewerState(masked=self.settings.session.masked)
        if cfg.hanging_protocols and not series_uid:
            self.start_hanging()
        self.cine = Cine(self, self._cine_tick, self.update_overlays)
        self._last_key = 0.0
        self._repeats = 0  # of the held key
        self._held_key: object = None
        self._direction = 1

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        """The viewports (picture and overlays), the measurement panel and the footer."""
        yield MeasurePanel()
        with Container(id="panes"):
            yield ImageViewport(self.settings.graphics)
        yield self.loader
        yield self.priors
        yield Static("", id="viewer-status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        """Keep the status line (link figures) up to date."""
        self.set_interval(STATUS_EVERY, self.update_status)
        self.update_status()
        self.load_annotations()
        self.start_key_images()

    def update_status(self) -> None:
        """The status line: backend, quality setting and the link as measured."""
        text = viewer_shown.status_text(self)
        status = self.query_one("#viewer-status", Static)
        if status.content != text:
            status.update(text)

    @property
    def series(self) -> list[SeriesRow]:
        """The series of the study, in order."""
        return self.loader.series

    @property
    def message(self) -> str:
        """The line across the middle of the viewport ('' when none)."""
        return self.viewport.message

    def on_unmount(self) -> None:
        """Stop the render threads and cine; remember where the series were left."""
        self.cine.stop(self.state)
        self.leave_key_images()
        for pane in self.panes:
            with self.in_pane(pane.index):
                self.mpr_close(free=True)
                viewer_shown.leave_series(self)
                self.renderer.stop()
                self._close_store()

    def _close_store(self) -> None:
        """Stop the old series' decode-ahead without waiting for it on the UI thread."""
        if self.store is not None:
            threading.Thread(target=self.store.close, name="tuipacs-close", daemon=True).start()
            self.store = None

    # -- loading -----------------------------------------------------------------------------

    def on_series_grew(self, message: SeriesGrew) -> None:
        """Extend the stack in place, staying on the image being read."""
        if self.store is None or message.seq != self.loader.seq:
            return
        state = self.image_state()  # a reformat shown keeps its planes
        current = self.store.images[state.index] if len(self.store) else None
        self.store.replace_images(list(message.images))
        state.count = self.loader.known = len(message.images)
        if current in message.images:
            state.index = message.images.index(current)
        if message.planes is not None:
            self.pane.planes = message.planes
        if state is self.state:
            self.request_render()

    def on_series_opened(self, message: SeriesOpened) -> None:
        """Start showing the series at its first image (or where it was left)."""
        if message.seq != self.loader.seq:
            return
        if not message.images:
            self.show_message("this series has no images")
            return
        self.cine.stop(self.state)
        self.mpr_close()
        viewer_shown.leave_series(self)
        self._close_store()
        self.store = store_for(list(message.images))  # PDF pages render with PDFium
        if message.planes is not None:
            self.pane.planes = message.planes
        self.loader.known = len(message.images)
        self._direction = 1
        overlays, count = self.state.overlays, len(message.images)
        self.state = self.settings.session.reopen(message.series_uid, self.loader.index, count)
        self.state.overlays = overlays
        self.forget_presentation()
        self.frame = None
        self.info = None
        self.viewport.clear_message()
        if self.pane.index != self.active:
            self.follow_active()
        self.request_render()

    def on_document_opened(self, message: DocumentOpened) -> None:
        """A report (or CDA) series: shown in its own screen (from the active viewport)."""
        if message.seq == self.loader.seq:
            show_document(self, message)

    def on_load_failed(self, message: LoadFailed) -> None:
        """One line in the viewport."""
        self.show_message(message.message)

    # -- rendering ---------------------------------------------------------------------------

    def _cell(self) -> CellSize:
        image = self.image
        return HALF_CELL if image.backend == "halfcell" else image.cell_size

    def view_px(self, cell: CellSize | None = None) -> tuple[float, float]:
        """The image area in screen pixels (height, width), in ``cell`` pixels per cell."""
        size = self.image.content_size
        cell = cell or self.image.cell_size
        return (max(1, size.height) * cell.height, max(1, size.width) * cell.width)

    def request_render(self, motion: float | None = None) -> None:
        """Queue the current state for rendering (only the newest request is kept);
        ``motion``: the interval the reader asks frames at while the picture moves."""
        if self.store is None:
            return
        self.apply_presentation()
        self.requested_seq = self.next_seq()
        state = self.state
        window = state.window if state.window_name != "file" else None
        request = RenderRequest(
            seq=self.requested_seq,
            index=state.index,
            window=window,
            invert=state.invert,
            orientation=state.orientation,
            zoom=state.zoom,
            pan=state.pan,
            view_px=self.view_px(),
            motion=motion,
            probe=state.probe,
        )
        self.renderer.submit(self.stack_source() or self.store, request)
        self.sync_others(motion)

    def on_frame_rendered(self, message: FrameRendered) -> None:
        """Show the newest frame and update the overlays."""
        request, frame, rendered = message.request, message.frame, message.rendered
        if request.seq <= self.shown_seq:
            return
        self.shown_seq = request.seq
        first = self.frame is None
        self.frame, self.rendered, self.info = frame, rendered, frame.info
        self.picture_scale = min(1.0, request.zoom)
        self.state.pan = rendered.pan
        if self.state.window_name == "file" or self.state.window is None:
            # a file VOI LUT has no window: the keys start from the min-max window
            self.state.window = None if frame.color else rendered.window or frame.default_window()
        if first:
            viewer_shown.first_frame(self, frame)
        self.viewport.clear_message()
        self.recent[request.seq] = (request, frame, rendered)
        while len(self.recent) > 8:
            del self.recent[min(self.recent)]
        self.display_frame(request)
        source = self.stack_source()
        if source is not None:
            source.prefetch(request.index, self._direction)

    def display_frame(self, request: RenderRequest | None = None) -> None:
        """Hand the rendered array to the ImageView (with the probe's crosshair and the
        measurements drawn in: text over the picture would hide the pixels); the overlays
        follow when the frame goes out (:meth:`on_image_view_shown`)."""
        rendered = self.rendered
        if rendered is None:
            return
        array, aspect = rendered.array, rendered.aspect
        tag = request if request is not None else self.displayed
        if tag is not None and self.frame is not None:
            drawn = self.measured_picture(tag, self.picture_layer(tag))
            if drawn is not None:
                array, aspect = drawn
        motion = request.motion if request is not None else None
        self.image.show(array, aspect, motion=motion, scale=self.picture_scale, tag=tag)

    def on_image_view_shown(self, message: ImageView.Shown) -> None:
        """A frame went out: the overlays now describe it (they travel with the picture);
        the other viewports' cross-reference lines follow the active one's."""
        request = message.tag
        if isinstance(request, RenderRequest):
            self.displayed = request
            self.displayed_preview = message.preview
        self.update_overlays()
        if self.pane.index == self.active:
            self.refresh_crossrefs()

    def on_frame_failed(self, message: FrameFailed) -> None:
        """One line in the viewport instead of a traceback; the overlays keep the header."""
        if message.seq <= self.shown_seq:
            return
        self.shown_seq = message.seq
        self.frame = None
        self.info = message.info or self.index_info()  # the header is unreadable too
        self.image.clear()
        self.show_message(f"image {message.index + 1}: {message.message}")
        self.update_overlays()

    def on_resize(self) -> None:
        """The viewports changed size: render again."""
        self.render_all()

    # -- overlays ----------------------------------------------------------------------------

    def zoom_percent(self) -> float:
        """Zoom as a percentage of one image pixel per screen pixel (the newest frame)."""
        return viewer_shown.zoom_of(self, self.rendered, self.state.zoom)

    def index_info(self) -> FrameInfo:
        """What the archive's index knows of the open study and series (no disk access)."""
        return viewer_shown.series_info(self)

    def update_overlays(self) -> None:
        """Refresh the corner texts, orientation labels and probe (of the picture on screen)."""
        state, frame, rendered, info = viewer_shown.on_screen(self)
        zoom = viewer_shown.zoom_of(self, rendered, state.zoom)
        texts = viewer_corners(
            info, state, frame, rendered, zoom, self.probe_text(), self.cine.noting,
            preview=self.displayed_preview,
        )  # fmt: skip
        texts = self.key_corners(self.annotation_corners(self.measure_corners(texts)))
        self.viewport.set_texts(texts, edge_labels(self.info, state.orientation))
        self.update_panel()

    def overlay_text(self) -> str:
        """All overlay text, corners first (for tests and screen readers)."""
        return self.viewport.overlay_text()

    def show_message(self, text: str) -> None:
        """One line across the middle of the viewport (errors, empty series)."""
        self.viewport.show_message(text)

    def action_help(self) -> None:
        """Show the keys, with this modality's presets."""
        viewer_shown.show_help(self, SECTIONS, viewer_keymap(self.settings.config.keys))
