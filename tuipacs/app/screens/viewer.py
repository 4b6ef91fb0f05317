"""The viewer: one series at a time in a large viewport with corner overlays.

Rendering: every change builds an immutable :class:`RenderRequest` and hands it to a
latest-only render thread, which decodes (when not cached), windows with the imaging fast
path, orients and crops, then posts :class:`FrameRendered`. Requests that pile up while one
renders are dropped except the newest, so held keys and cine never queue work. Decode-ahead
runs in a Textual thread worker.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Static

from tuipacs.app.messages import (
    FrameFailed,
    FrameRendered,
    LoadFailed,
    OpenSeries,
    SeriesFound,
    SeriesGrew,
    SeriesOpened,
)
from tuipacs.app.widgets.image_view import ImageView
from tuipacs.imaging import presets
from tuipacs.imaging.decode import read_dataset
from tuipacs.imaging.voi import Window
from tuipacs.safe_text import clean
from tuipacs.store.archive import Archive
from tuipacs.store.query import SeriesRow, StudyRow, list_instances, list_series
from tuipacs.view import format as fmt
from tuipacs.view.frames import Frame, FrameStore, ImageRef
from tuipacs.view.graphics.probe import GraphicsConfig
from tuipacs.view.graphics.worker import LatestOnlyWorker
from tuipacs.view.info import FrameInfo, frame_info
from tuipacs.view.labels import image_edge_labels
from tuipacs.view.layout import Box, CellSize
from tuipacs.view.overlay_text import block_width, clip_block, corner_width, corners
from tuipacs.view.render import Rendered, RenderRequest, render
from tuipacs.view.state import (
    PAN_STEP,
    ZOOM_STEP,
    PresetChoice,
    ViewerState,
    adjust_window,
    preset_choices,
)
from tuipacs.view.viewport import fit_scale, mark_point, screen_to_region

REPEAT_GAP = 0.15
"""Key presses closer than this (seconds) count as a held key: render previews."""
HALF_CELL = CellSize(1, 2)
CINE_NOTE_SECONDS = 2.0
"""How long a changed cine rate stays in the overlay while cine is paused."""
WINDOW = Binding.Group("W/L", compact=True)
IMAGE = Binding.Group("Image", compact=True)
ZOOM = Binding.Group("Zoom", compact=True)
SERIES = Binding.Group("Series", compact=True)


def _bindings() -> list[BindingType]:
    """The viewer's keys (see keys.VIEWER_KEYS for the help text)."""
    keys: list[BindingType] = [
        Binding("j", "step(1)", "next", group=IMAGE),
        Binding("k", "step(-1)", "prev", group=IMAGE),
        Binding("pagedown", "step(10)", "+10", show=False),
        Binding("pageup", "step(-10)", "-10", show=False),
        Binding("home", "first", "first", show=False),
        Binding("end", "last", "last", show=False),
        Binding("left", "arrow(-1, 0)", "narrower", group=WINDOW, key_display="←"),
        Binding("right", "arrow(1, 0)", "wider", group=WINDOW, key_display="→"),
        Binding("up", "arrow(0, -1)", "level up", group=WINDOW, key_display="↑"),
        Binding("down", "arrow(0, 1)", "level down", group=WINDOW, key_display="↓"),
        Binding("shift+left", "arrow(-1, 0, True)", "fine", show=False),
        Binding("shift+right", "arrow(1, 0, True)", "fine", show=False),
        Binding("shift+up", "arrow(0, -1, True)", "fine", show=False),
        Binding("shift+down", "arrow(0, 1, True)", "fine", show=False),
        Binding("a", "auto_window", "Auto"),
        Binding("i", "invert", "Invert"),
        Binding("plus", "zoom(1)", "in", group=ZOOM),
        Binding("minus", "zoom(-1)", "out", group=ZOOM),
        Binding("f", "fit", "Fit"),
        Binding("0,equals_sign", "one_to_one", "1:1", show=False),
        Binding("H,ctrl+left", "pan(0, -1)", "pan left", show=False),
        Binding("L,ctrl+right", "pan(0, 1)", "pan right", show=False),
        Binding("K,ctrl+up", "pan(-1, 0)", "pan up", show=False),
        Binding("J,ctrl+down", "pan(1, 0)", "pan down", show=False),
        Binding("space", "cine", "Cine"),
        Binding("left_square_bracket", "cine_rate(-1)", "slower", show=False),
        Binding("right_square_bracket", "cine_rate(1)", "faster", show=False),
        Binding("n", "series(1)", "next", group=SERIES),
        Binding("p", "series(-1)", "prev", group=SERIES),
        Binding("r", "rotate(1)", "Rotate"),
        Binding("R", "rotate(-1)", "rotate back", show=False),
        Binding("h", "flip_h", "flip H", show=False),
        Binding("v", "flip_v", "flip V", show=False),
        Binding("x", "reset", "Reset"),
        Binding("c", "probe", "Probe"),
        Binding("o", "overlays", "Overlays", show=False),
        Binding("m", "mask", "Mask"),
        Binding("t", "tags", "Tags"),
        Binding("question_mark", "help", "Help"),
        Binding("escape,backspace", "back", "Back"),
    ]
    keys += [Binding(str(n), f"preset({n})", f"preset {n}", show=False) for n in range(1, 10)]
    return keys


@dataclass(frozen=True)
class RenderJob:
    """A render request and the series it belongs to (the store may change meanwhile)."""

    store: FrameStore
    request: RenderRequest


def read_header_info(store: FrameStore, index: int) -> FrameInfo | None:
    """The overlay facts of image ``index`` from a header-only read, None if unreadable.

    Blocking (disk): call it from a thread.
    """
    try:
        ref = store.images[index]
        return frame_info(read_dataset(ref.path, header_only=True), ref.frame)
    except Exception:  # noqa: BLE001 - the index still knows the study and series
        return None


class ViewerScreen(Screen[None]):
    """One study: its series one at a time, with window/level, zoom, cine, probe and tags."""

    BINDINGS = _bindings()

    def __init__(
        self,
        archive: Archive,
        study: StudyRow,
        series_uid: str = "",
        graphics: GraphicsConfig | None = None,
    ) -> None:
        super().__init__()
        self.archive = archive
        self.study = study
        self.start_series = series_uid
        self.graphics = graphics
        self.state = ViewerState()
        self.series: list[SeriesRow] = []
        self.store: FrameStore | None = None
        self.frame: Frame | None = None
        self.rendered: Rendered | None = None
        self.info: FrameInfo | None = None
        """What the overlays show: the header of the image on screen (or that failed)."""
        self.picture_scale = 1.0
        """Fraction of the fitted size the picture on screen takes (< 1 zoomed out)."""
        self.choices: list[PresetChoice] = []
        self.requested_seq = 0
        self.shown_seq = 0
        self.message = ""
        self._last_key = 0.0
        self._cine_timer: Timer | None = None
        self._series_seq = 0
        self._grow_timer: Timer | None = None
        self._direction = 1
        self._cine_note: Timer | None = None
        self._overlay_texts: dict[str, str] = {}
        self._renderer: LatestOnlyWorker[RenderJob, tuple[Frame, Rendered]] = LatestOnlyWorker(
            self._render_job, self._render_done, self._render_failed, name="tuipacs-render"
        )

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        """The viewport (image plus overlays) and the footer."""
        config = self.graphics
        with Container(id="viewport"):
            yield ImageView(config=config, id="image")
            for name in ("tl", "tr", "bl", "br"):
                yield Static("", id=f"ov-{name}", classes="overlay corner", markup=False)
            for name in ("top", "right", "bottom", "left"):
                yield Static("", id=f"ori-{name}", classes="overlay orient", markup=False)
            yield Static("+", id="probe-mark", classes="overlay")
            yield Static("", id="viewer-message", classes="overlay", markup=False)
        yield Footer()

    @property
    def image(self) -> ImageView:
        """The image widget."""
        return self.query_one("#image", ImageView)

    def on_mount(self) -> None:
        """List the study's series."""
        self.query_one("#probe-mark").display = False
        # a Sixel picture is painted over any text in its box: keep it clear of the overlays
        self.query_one("#viewport").set_class(self.image.backend == "sixel", "-sixel")
        self.load_series()

    def on_unmount(self) -> None:
        """Stop the render thread and cine."""
        self._stop_cine()
        self._renderer.stop(timeout=1.0)
        self._close_store()

    def _close_store(self) -> None:
        """Stop the old series' decode-ahead without waiting for it on the UI thread."""
        if self.store is not None:
            threading.Thread(target=self.store.close, name="tuipacs-close", daemon=True).start()
            self.store = None

    # -- loading -----------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="viewer-series", exit_on_error=False)
    def load_series(self) -> None:
        """List the series of the study and note that it was opened."""
        try:
            rows = list_series(self.archive, self.study.study_uid)
            self.archive.touch_study(self.study.study_uid)
        except Exception as exc:
            self.post_message(LoadFailed("series", f"cannot list the series: {exc}"))
            return
        self.post_message(SeriesFound(self.study.study_uid, rows))

    def on_series_found(self, message: SeriesFound) -> None:
        """Open the requested series, or the first."""
        self.series = message.rows
        if not self.series:
            self.show_message("this study has no series in the archive")
            return
        uids = [s.series_uid for s in self.series]
        start = uids.index(self.start_series) if self.start_series in uids else 0
        self.post_message(OpenSeries(start))

    def on_open_series(self, message: OpenSeries) -> None:
        """List the images of a series in a worker."""
        if not 0 <= message.index < len(self.series):
            return
        self.state.series_index = message.index
        self._series_seq += 1
        self.list_images(self.series[message.index].series_uid, self._series_seq)

    @work(thread=True, exclusive=True, group="viewer-images", exit_on_error=False)
    def list_images(self, series_uid: str, seq: int) -> None:
        """Every frame of every instance of the series, in instance order."""
        try:
            rows = list_instances(self.archive, series_uid)
        except Exception as exc:
            self.post_message(LoadFailed("images", f"cannot list the images: {exc}"))
            return
        images = [ImageRef(row.path, f) for row in rows for f in range(max(1, row.frames))]
        if seq == self._series_seq:
            self.post_message(SeriesOpened(series_uid, images))

    def _check_growth(self) -> None:
        """Look for images of the open series that landed since it was listed."""
        if self.store is None or not self.series or self._series_seq == 0:
            return
        series_uid = self.series[self.state.series_index].series_uid
        self.grow_images(series_uid, self._series_seq, len(self.store))

    @work(thread=True, exclusive=True, group="viewer-grow", exit_on_error=False)
    def grow_images(self, series_uid: str, seq: int, known: int) -> None:
        """Post SeriesGrew when the archive holds more images than the viewer shows."""
        try:
            rows = list_instances(self.archive, series_uid)
        except Exception:  # noqa: BLE001 - a failed poll is retried on the next tick
            return
        images = [ImageRef(row.path, f) for row in rows for f in range(max(1, row.frames))]
        if len(images) > known:
            self.post_message(SeriesGrew(series_uid, images, seq))

    def on_series_grew(self, message: SeriesGrew) -> None:
        """Extend the stack in place, staying on the image being read."""
        if self.store is None or message.seq != self._series_seq:
            return
        current = self.store.images[self.state.index] if len(self.store) else None
        self.store.replace_images(list(message.images))
        self.state.count = len(message.images)
        if current in message.images:
            self.state.index = message.images.index(current)
        self.request_render()

    def on_series_opened(self, message: SeriesOpened) -> None:
        """Start showing the series at its first image."""
        if self._grow_timer is None:
            self._grow_timer = self.set_interval(1.0, self._check_growth)
        if not message.images:
            self.show_message("this series has no images")
            return
        self._stop_cine()
        self._close_store()
        self.store = FrameStore(list(message.images))
        self._direction = 1
        masked, overlays = self.state.masked, self.state.overlays
        self.state = ViewerState(
            series_index=self.state.series_index,
            count=len(message.images),
            masked=masked,
            overlays=overlays,
        )
        self.frame = None
        self.info = None
        self.request_render()

    def on_load_failed(self, message: LoadFailed) -> None:
        """One line in the viewport."""
        self.show_message(message.message)

    # -- rendering ---------------------------------------------------------------------------

    def _cell(self) -> CellSize:
        image = self.image
        return HALF_CELL if image.backend == "halfcell" else image.cell_size

    def view_px(self) -> tuple[float, float]:
        """The image area in screen pixels (height, width)."""
        size = self.image.content_size
        cell = self.image.cell_size
        return (max(1, size.height) * cell.height, max(1, size.width) * cell.width)

    def request_render(self, preview: bool = False) -> None:
        """Queue the current state for rendering (only the newest request is kept)."""
        if self.store is None:
            return
        self.requested_seq += 1
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
            preview=preview,
        )
        self._renderer.submit(RenderJob(self.store, request))

    @staticmethod
    def _render_job(job: RenderJob) -> tuple[Frame, Rendered]:
        """Render thread: decode if needed, window, orient, crop."""
        frame = job.store.get(job.request.index)
        return frame, render(frame, job.request)

    def _render_done(self, job: RenderJob, result: tuple[Frame, Rendered]) -> None:
        frame, rendered = result
        request = job.request
        self.post_message(
            FrameRendered(
                request.seq,
                request.index,
                rendered.array,
                rendered.aspect,
                request.preview,
                {"frame": frame, "rendered": rendered, "request": request},
            )
        )

    def _render_failed(self, job: RenderJob, exc: BaseException) -> None:
        """Render thread: the reason in one line, and the header if it can still be read."""
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        index = job.request.index
        info = read_header_info(job.store, index)
        self.post_message(FrameFailed(job.request.seq, index, text, info))

    def on_frame_rendered(self, message: FrameRendered) -> None:
        """Show the newest frame and update the overlays."""
        if message.request <= self.shown_seq:
            return
        self.shown_seq = message.request
        frame: Frame = message.info["frame"]
        rendered: Rendered = message.info["rendered"]
        request: RenderRequest = message.info["request"]
        first = self.frame is None
        self.frame, self.rendered, self.info = frame, rendered, frame.info
        self.picture_scale = min(1.0, request.zoom)
        self.state.pan = rendered.pan
        if self.state.window_name == "file" or self.state.window is None:
            # a file VOI LUT has no window: the keys start from the min-max window
            self.state.window = None if frame.color else rendered.window or frame.default_window()
        if first:
            self._first_frame(frame)
        self.clear_message()
        self.display_frame(preview=message.preview)
        self.update_overlays()
        if self.store is not None:
            self.store.prefetch(message.index, self._direction)

    def display_frame(self, preview: bool = False) -> None:
        """Hand the rendered array to the ImageView (Sixel: with the probe cross drawn in,
        since a Sixel picture hides any text drawn over it)."""
        rendered = self.rendered
        if rendered is None:
            return
        array = rendered.array
        if self.image.backend == "sixel" and self.state.probe is not None:
            hit = self._probe_hit()
            if hit is not None:
                arm = max(2, min(array.shape[:2]) // 40)
                top, left = rendered.region.slices(10**9, 10**9)
                row, col = int(hit[0]) - top.start, int(hit[1]) - left.start
                array = mark_point(array, row, col, arm)
        self.image.show(array, rendered.aspect, preview=preview, scale=self.picture_scale)

    def on_frame_failed(self, message: FrameFailed) -> None:
        """One line in the viewport instead of a traceback; the overlays keep the header."""
        if message.request <= self.shown_seq:
            return
        self.shown_seq = message.request
        self.frame = None
        self.info = message.info or self.index_info()
        self.image.clear()
        self.show_message(f"image {message.index + 1}: {message.message}")
        self.update_overlays()

    def _first_frame(self, frame: Frame) -> None:
        """Per-series settings that come from the first image: presets and cine rate."""
        self.choices = preset_choices(frame.info.modality, frame.windows)
        info = frame.info
        rate = info.cine_rate or (1000.0 / info.frame_time_ms if info.frame_time_ms else None)
        if rate and rate > 0:
            self.state.cine_rate = float(min(60.0, max(1.0, rate)))

    def on_resize(self) -> None:
        """The viewport changed size: render again and move the overlays."""
        self.request_render()
        self.call_after_refresh(self.place_overlays)

    # -- overlays ----------------------------------------------------------------------------

    def zoom_percent(self) -> float:
        """Zoom as a percentage of one image pixel per screen pixel."""
        if self.rendered is None:
            return 100.0 * self.state.zoom
        cell = self._cell()
        size = self.image.content_size
        view = (max(1, size.height) * cell.height, max(1, size.width) * cell.width)
        scale = fit_scale(self.rendered.oriented_shape, self.rendered.aspect, view)
        return 100.0 * scale * self.state.zoom

    def index_info(self) -> FrameInfo:
        """What the archive's index knows of the open study and series (no disk access)."""
        study = self.study
        series = self.series[self.state.series_index] if self.series else None
        return FrameInfo(
            modality=series.modality if series else "",
            patient_name=study.patient_name,
            patient_id=study.patient_id,
            birth_date=study.birth_date,
            sex=study.sex,
            study_date=study.study_date,
            study_time=study.study_time,
            study_description=study.description,
            series_number=series.series_number if series else "",
            series_description=series.description if series else "",
        )

    def edge_labels(self) -> tuple[str, str, str, str]:
        """(top, right, bottom, left) orientation labels as the picture is shown now."""
        info = self.info
        if info is None:
            return "", "", "", ""
        source = image_edge_labels(info.orientation, info.patient_orientation)
        return self.state.orientation.edge_labels(source)

    def update_overlays(self) -> None:
        """Refresh the corner texts, orientation labels and probe."""
        frame = self.frame
        info = self.info or self.index_info()
        probe_text = self.probe_text()
        lut = (
            frame is not None
            and self.state.window_name == "file"
            and self.rendered is not None
            and self.rendered.window is None
            and not frame.color
        )
        window = None if lut else self.state.window
        zoom = self.zoom_percent()
        voi = "VOI LUT" if lut else ""
        note = self._cine_note is not None
        texts = corners(info, self.state, window, zoom, probe_text, voi, cine_note=note)
        self._overlay_texts = {
            "ov-tl": texts.top_left,
            "ov-tr": texts.top_right,
            "ov-bl": texts.bottom_left,
            "ov-br": texts.bottom_right,
        }
        for name, label in zip(("top", "right", "bottom", "left"), self.edge_labels(), strict=True):
            self._overlay_texts[f"ori-{name}"] = clean(label)
        self.place_overlays()

    def overlay_text(self) -> str:
        """All overlay text, corners first (for tests and screen readers)."""
        parts = []
        for widget in self.query(".overlay").results(Static):
            if widget.display and widget.id != "probe-mark":
                parts.append(str(widget.render()))
        return "\n".join(parts)

    def place_overlays(self) -> None:
        """Put each overlay block in its corner (or edge) of the viewport.

        Lines are cut to the corner's width (in terminal cells, an ellipsis marking the
        cut), so a block never wraps and each keeps one row per line.
        """
        viewport = self.query_one("#viewport").content_size
        width, height = viewport.width, viewport.height
        shown = self.state.overlays
        for widget in self.query(".overlay").results(Static):
            key = widget.id or ""
            if key in ("probe-mark", "viewer-message"):
                continue
            padding = 2 if key[:3] == "ov-" else 0
            limit = corner_width(width, padding) if padding else max(1, width)
            text = clip_block(self._overlay_texts.get(key, ""), limit)
            if widget.content != text:
                widget.update(text)
            w = block_width(text) + padding
            h = len(text.split("\n")) if text else 0
            widget.display = shown and h > 0
            if not widget.display:
                continue
            widget.styles.width, widget.styles.height = w, h
            widget.styles.offset = self._overlay_offset(key, w, h, width, height)
        self._place_probe()
        self._place_message(width, height)

    @staticmethod
    def _overlay_offset(key: str, w: int, h: int, width: int, height: int) -> tuple[int, int]:
        footer_gap = 0
        positions = {
            "ov-tl": (0, 0),
            "ov-tr": (width - w, 0),
            "ov-bl": (0, height - h - footer_gap),
            "ov-br": (width - w, height - h - footer_gap),
            "ori-top": ((width - w) // 2, 0),
            "ori-bottom": ((width - w) // 2, height - h),
            "ori-left": (0, (height - h) // 2),
            "ori-right": (width - w, (height - h) // 2),
        }
        x, y = positions.get(key, (0, 0))
        return max(0, x), max(0, y)

    def show_message(self, text: str) -> None:
        """One line across the middle of the viewport (errors, empty series), cleaned: an
        error may quote a file name or a value."""
        self.message = clean(text)
        widget = self.query_one("#viewer-message", Static)
        widget.update(self.message)
        self._place_message(*self.query_one("#viewport").content_size)

    def clear_message(self) -> None:
        """Remove the viewport message."""
        if self.message:
            self.message = ""
            self.query_one("#viewer-message", Static).display = False

    def _place_message(self, width: int, height: int) -> None:
        widget = self.query_one("#viewer-message", Static)
        widget.display = bool(self.message)
        if self.message:
            text = fmt.clip(self.message, max(10, width - 2))
            widget.update(text)
            widget.styles.width = len(text) + 2
            widget.styles.height = 1
            widget.styles.offset = (max(0, (width - len(text) - 2) // 2), height // 2)

    # -- probe -------------------------------------------------------------------------------

    def _box(self) -> Box | None:
        return self.image.box

    def probe_pixel(self) -> tuple[int, int] | None:
        """(row, col) of the source image under the probe cursor, None when outside."""
        hit = self._probe_hit()
        if hit is None or self.frame is None:
            return None
        rows, cols = self.frame.values.shape[:2]
        row, col = self.state.orientation.to_source(hit[0], hit[1], rows, cols)
        return int(row), int(col)

    def _probe_hit(self) -> tuple[float, float] | None:
        """(row, col) of the oriented picture under the probe cell, None when outside."""
        box, rendered = self._box(), self.rendered
        if self.state.probe is None or box is None or rendered is None:
            return None
        return screen_to_region(
            self.state.probe,
            (box.x, box.y, box.cols, box.rows),
            rendered.region,
            (rendered.array.shape[0], rendered.array.shape[1]),
        )

    def probe_text(self) -> str:
        """``x,y: value unit`` under the probe, or '' when the probe is off."""
        if self.state.probe is None:
            return ""
        pixel = self.probe_pixel()
        if pixel is None or self.frame is None:
            return "Probe: outside the image"
        row, col = pixel
        value = self.frame.value_at(row, col)
        scale = self.frame.scale or 1.0
        x, y = int(col / scale), int(row / scale)
        if value is None:
            return "Probe: outside the image"
        if isinstance(value, tuple):
            shown = "RGB " + ",".join(str(v) for v in value)
        else:
            shown = f"{fmt.number(value)} {self.frame.info.unit}".strip()
        return f"Probe ({x},{y}): {shown}"

    def _place_probe(self) -> None:
        mark = self.query_one("#probe-mark", Static)
        probe = self.state.probe
        mark.display = probe is not None
        if probe is not None:
            region = self.image.region
            viewport = self.query_one("#viewport").content_region
            mark.styles.width, mark.styles.height = 1, 1
            mark.styles.offset = (
                region.x - viewport.x + probe[0],
                region.y - viewport.y + probe[1],
            )

    # -- key actions -------------------------------------------------------------------------

    def _held(self) -> bool:
        now = time.monotonic()
        held = now - self._last_key < REPEAT_GAP
        self._last_key = now
        return held

    def action_step(self, delta: int) -> None:
        """Next/previous image (or ``delta`` images)."""
        self._direction = 1 if delta > 0 else -1
        if self.state.go_to(self.state.index + delta):
            self.request_render(preview=self._held())

    def action_first(self) -> None:
        """First image."""
        if self.state.go_to(0):
            self.request_render()

    def action_last(self) -> None:
        """Last image."""
        if self.state.go_to(self.state.count - 1):
            self.request_render()

    def action_arrow(self, d_width: int, d_level: int, fine: bool = False) -> None:
        """Arrows: window width (left/right) and level (up/down); move the probe when on."""
        if self.state.probe is not None:
            step = 5 if fine else 1
            x, y = self.state.probe
            self.state.probe = (x + d_width * step, y + d_level * step)
            self._probe_changed()
            return
        window = self.state.window
        if window is None or (self.frame is not None and self.frame.color):
            return
        self.state.window = adjust_window(window, -d_level, d_width, fine)
        self.state.window_name = "custom"
        self.request_render(preview=self._held())

    def action_preset(self, number: int) -> None:
        """Window preset ``number`` (1-based) of this modality."""
        if not 0 < number <= len(self.choices) or self.frame is None:
            return
        choice = self.choices[number - 1]
        if choice.window is not None:
            window = choice.window
        elif choice.name == presets.MIN_MAX:
            window = presets.minmax_window(self.frame.values)
        else:
            window = presets.auto_window(self.frame.values)
        self._set_window(window, choice.name)

    def action_auto_window(self) -> None:
        """A window from the current image's histogram."""
        if self.frame is not None and not self.frame.color:
            self._set_window(presets.auto_window(self.frame.values), presets.AUTO)

    def _set_window(self, window: Window, name: str) -> None:
        self.state.window = window
        self.state.window_name = name
        self.request_render()

    def action_invert(self) -> None:
        """Invert the grey levels."""
        self.state.invert = not self.state.invert
        self.request_render()

    def action_zoom(self, direction: int) -> None:
        """Zoom in (1) or out (-1)."""
        self.state.zoom_by(ZOOM_STEP if direction > 0 else 1 / ZOOM_STEP)
        self.request_render(preview=self._held())

    def action_fit(self) -> None:
        """Fit the whole image to the viewport."""
        self.state.zoom, self.state.pan = 1.0, (0.0, 0.0)
        self.request_render()

    def action_one_to_one(self) -> None:
        """One image pixel per screen pixel (per half cell with half-cell blocks)."""
        if self.rendered is None:
            return
        cell = self._cell()
        size = self.image.content_size
        view = (max(1, size.height) * cell.height, max(1, size.width) * cell.width)
        self.state.zoom_one_to_one(
            fit_scale(self.rendered.oriented_shape, self.rendered.aspect, view)
        )
        self.request_render()

    def action_pan(self, d_row: int, d_col: int) -> None:
        """Move the view by a tenth of what is visible."""
        region = self.rendered.region if self.rendered else None
        if region is None:
            return
        row, col = self.state.pan
        self.state.pan = (
            row + d_row * PAN_STEP * region.height,
            col + d_col * PAN_STEP * region.width,
        )
        self.request_render(preview=self._held())

    def action_rotate(self, direction: int) -> None:
        """Rotate 90 degrees (1: clockwise, -1: anticlockwise)."""
        self.state.orientation = self.state.orientation.rotated(direction > 0)
        self.state.pan = (0.0, 0.0)
        self.request_render()

    def action_flip_h(self) -> None:
        """Mirror left-right."""
        self.state.orientation = self.state.orientation.mirrored_h()
        self.state.pan = (self.state.pan[0], -self.state.pan[1])
        self.request_render()

    def action_flip_v(self) -> None:
        """Mirror top-bottom."""
        self.state.orientation = self.state.orientation.mirrored_v()
        self.state.pan = (-self.state.pan[0], self.state.pan[1])
        self.request_render()

    def action_reset(self) -> None:
        """Window from the file, fit, no rotation, flips or inversion."""
        self.state.reset_view()
        self.request_render()

    def action_cine(self) -> None:
        """Play or pause."""
        if self.state.cine:
            self._stop_cine()
        elif self.state.count > 1:
            self.state.cine = True
            self._start_cine()
        self.update_overlays()

    def _start_cine(self) -> None:
        if self._cine_timer is not None:
            self._cine_timer.stop()
        self._cine_timer = self.set_interval(1.0 / self.state.cine_rate, self._cine_tick)

    def _stop_cine(self) -> None:
        self.state.cine = False
        if self._cine_timer is not None:
            self._cine_timer.stop()
            self._cine_timer = None

    def _cine_tick(self) -> None:
        """Next image, wrapping; skipped while the previous one is still rendering."""
        if self.shown_seq < self.requested_seq:
            return
        self._direction = 1
        self.state.go_to(self.state.index + 1, wrap=True)
        self.request_render()

    def action_cine_rate(self, direction: int) -> None:
        """Slower (-1) or faster (1) cine."""
        self.state.cine_faster(direction > 0)
        if self.state.cine:
            self._start_cine()
        # the rate shows in the bottom-right overlay (a toast would cover that corner);
        # while cine is paused, for a moment only
        if self._cine_note is not None:
            self._cine_note.stop()
        self._cine_note = self.set_timer(CINE_NOTE_SECONDS, self._end_cine_note)
        self.update_overlays()

    def _end_cine_note(self) -> None:
        """The changed cine rate leaves the overlay of a paused viewer."""
        self._cine_note = None
        self.update_overlays()

    def action_series(self, direction: int) -> None:
        """Next (1) or previous (-1) series of the study."""
        target = self.state.series_index + direction
        if 0 <= target < len(self.series):
            self.post_message(OpenSeries(target))

    def action_probe(self) -> None:
        """Show or hide the probe cursor (starts in the middle of the picture)."""
        if self.state.probe is not None:
            self.state.probe = None
        else:
            box = self._box()
            if box is None:
                return
            self.state.probe = (box.x + box.cols // 2, box.y + box.rows // 2)
        self._probe_changed()

    def _probe_changed(self) -> None:
        """Update the probe readout (and, on Sixel, the cross drawn into the picture)."""
        self.update_overlays()
        if self.image.backend == "sixel":
            self.display_frame()

    def action_overlays(self) -> None:
        """Hide or show the overlays."""
        self.state.overlays = not self.state.overlays
        self.place_overlays()

    def action_mask(self) -> None:
        """Mask or unmask patient identity in the overlays and the tag browser."""
        self.state.masked = not self.state.masked
        self.update_overlays()

    def action_tags(self) -> None:
        """Open the tag browser for the current image."""
        if self.store is None:
            return
        from tuipacs.app.screens.tags import TagScreen

        ref = self.store.images[self.state.index]
        title = f"Tags · image {self.state.index + 1}/{self.state.count} · {ref.path.name}"
        self.app.push_screen(TagScreen(ref.path, title, mask=self.state.masked))

    def action_help(self) -> None:
        """Show the keys, with this modality's presets."""
        from tuipacs.app.screens.help import HelpScreen

        presets_text = "  ".join(f"{c.key} {c.label}" for c in self.choices)
        extra = f"Presets: {presets_text}" if presets_text else ""
        self.app.push_screen(HelpScreen("viewer", extra))

    def action_back(self) -> None:
        """Back to the browser (or clear the probe first)."""
        if self.state.probe is not None:
            self.state.probe = None
            self._probe_changed()
            return
        self.app.pop_screen()

    # -- mouse -------------------------------------------------------------------------------

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        """Wheel down: next image."""
        event.stop()
        self.action_step(1)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        """Wheel up: previous image."""
        event.stop()
        self.action_step(-1)

    def on_click(self, event: events.Click) -> None:
        """A click on the picture puts the probe there."""
        self._probe_to(event.screen_x, event.screen_y)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        """While the probe is on, it follows the mouse."""
        if self.state.probe is not None:
            self._probe_to(event.screen_x, event.screen_y)

    def _probe_to(self, screen_x: float, screen_y: float) -> None:
        region = self.image.region
        x, y = int(screen_x) - region.x, int(screen_y) - region.y
        if 0 <= x < region.width and 0 <= y < region.height and (x, y) != self.state.probe:
            self.state.probe = (x, y)
            self._probe_changed()
