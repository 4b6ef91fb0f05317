"""ImageView: shows a windowed uint8 picture with the best terminal graphics available.

Backends (a :class:`~tuipacs.app.graphics.backend.GraphicsBackend` each): ``kitty`` (Unicode
placeholders, fixed image id, pixels re-sent only when they change), ``sixel`` (101 greys, one
synchronized write) and ``halfcell`` (true-colour half blocks, the universal fallback). The
picture keeps its physical proportions (pixel aspect and the cell size in pixels) and is
centred in the widget.

``show()`` is cheap: it records the latest frame and wakes an encoder thread that only ever
encodes the newest request. Frames go out through the app's frame gate (at most one in
flight, :mod:`tuipacs.app.graphics.flow`), at the quality the link carries at the rate they
are asked for (:mod:`tuipacs.app.graphics.pacing`): in motion (the caller's ``motion``, or
calls closer than ``PREVIEW_DELAY``) possibly a preview, and the full frame once it stops.
"""

from __future__ import annotations

import math

import numpy as np
from textual.app import ComposeResult
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from tuipacs.app.graphics import terminal
from tuipacs.app.graphics.backend import (
    EncodedFrame,
    FrameRequest,
    GraphicsBackend,
    encode_frame,
    make_backend,
    validate_frame,
)
from tuipacs.app.graphics.flow import FrameGate, gate_of
from tuipacs.app.graphics.halfcell import HalfcellRenderer
from tuipacs.app.graphics.halfcell_backend import halfcell_strips
from tuipacs.app.graphics.kitty_backend import KittyBackend
from tuipacs.app.graphics.pacing import REST_MIN, Pacer
from tuipacs.view.graphics import kitty
from tuipacs.view.graphics.probe import (
    BACKENDS,
    GraphicsConfig,
    GraphicsError,
    current_config,
    live_cell_size,
)
from tuipacs.view.graphics.worker import LatestOnlyWorker
from tuipacs.view.layout import Box, CellSize, picture_box
from tuipacs.view.link import Level


class ImageView(Widget):
    """Displays a uint8 picture (grey or RGB) with correct proportions, centred.

    ``show(array, aspect)`` with ``aspect`` = physical height / width of one pixel; with
    ``scale`` < 1 the picture takes only that fraction of its fitted size (zoomed out).
    """

    DEFAULT_CSS = """
    ImageView { background: black; width: 1fr; height: 1fr; }
    """

    PREVIEW_DELAY = REST_MIN
    """show() calls closer than this (s) are motion (with ``auto_preview``)."""

    backend: reactive[str] = reactive("halfcell", init=False)
    """The graphics backend in use: ``kitty``, ``sixel`` or ``halfcell``."""

    class FrameEncoded(Message, bubble=False):
        """Internal: the encoder thread finished a frame."""

        def __init__(self, frame: EncodedFrame) -> None:
            super().__init__()
            self.frame = frame

    class Shown(Message):
        """A frame went to the terminal (posted after each frame written)."""

        def __init__(self, view: ImageView, request: FrameRequest, encode_ms: float) -> None:
            super().__init__()
            self.view = view
            self.request = request
            self.seq = request.seq
            self.preview = request.preview
            self.level = request.level
            self.tag = request.tag
            self.encode_ms = encode_ms

    def __init__(
        self,
        *,
        backend: str | None = None,
        config: GraphicsConfig | None = None,
        image_id: int | None = None,
        auto_preview: bool = True,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """``backend``/``config`` default to ``graphics.current_config()``; ``image_id`` pins
        the Kitty image id (tests); ``auto_preview`` sends previews during bursts of show()."""
        super().__init__(name=name, id=id, classes=classes)
        self._config = config or current_config()
        chosen = backend or self._config.backend
        if chosen not in BACKENDS:
            raise GraphicsError(f"unknown graphics backend {chosen!r}: use {', '.join(BACKENDS)}")
        self.set_reactive(ImageView.backend, chosen)
        self._pinned_id = image_id
        self._image_id = image_id or 0
        self.auto_preview = auto_preview
        self._cell = self._config.cell_size
        self.renderer = HalfcellRenderer()
        """Half-cell strips (the halfcell backend, and Kitty/Sixel under modal screens)."""
        self._backends: dict[str, GraphicsBackend] = {chosen: make_backend(chosen, self)}
        self._worker: LatestOnlyWorker[FrameRequest, EncodedFrame] = LatestOnlyWorker(
            lambda request: encode_frame(self._backends[request.backend], request), self._encoded
        )
        self._frame: tuple[np.ndarray, float] | None = None
        self._tag: object = None
        self._scale = 1.0
        self._seq = 0
        self.pacer = Pacer(self, self._config.quality, auto_preview)
        self._box: Box | None = None
        self._fallback: tuple[object, list[Strip]] | None = None
        self._frame_version = 0
        self.frames_shown = 0
        self.last_shown: FrameRequest | None = None
        self.labels_follow = False
        """Each frame waits for its text labels before it goes out (Sixel: :func:`~tuipacs.
        app.widgets.overlay_labels.send_labels`)."""

    # ----------------------------------------------------------------- public API

    def show(
        self,
        array: np.ndarray,
        aspect: float = 1.0,
        *,
        motion: float | None = None,
        preview: bool = False,
        scale: float = 1.0,
        tag: object = None,
    ) -> None:
        """Display ``array`` (uint8 H x W grey or H x W x 3 RGB, already windowed).

        Cheap enough for key-repeat rate: encoding happens on a background thread and
        only the most recent frame is encoded. A writeable array is copied, so the caller
        may reuse its buffer for the next frame. ``scale`` < 1 shows the picture at that
        fraction of the size that fits the widget, centred (zoomed out below fit).
        ``motion`` is the interval (s) at which the caller asks for frames while the
        picture moves (a held key, cine), None at rest; ``preview`` forces a preview until
        the motion stops; ``tag`` comes back in the Shown message of this picture.
        """
        validate_frame(array, aspect)
        if not (math.isfinite(scale) and scale > 0):
            raise GraphicsError(f"picture scale must be a positive number, not {scale!r}")
        self._scale = float(scale)
        if array.flags.writeable:
            array = array.copy()
        self._frame = (array, float(aspect))
        self._tag = tag
        self._frame_version += 1
        self.pacer.shown(motion, preview)

    def clear(self) -> None:
        """Forget the picture and show an empty (black) area."""
        self._frame = None
        self._seq += 1
        self.pacer.clear()
        self.graphics.clear()
        self._box = None
        self.refresh()

    @property
    def gate(self) -> FrameGate:
        """The app's frame gate (at most N frames in flight to the terminal)."""
        config = self._config
        return gate_of(self.app, config.frames_in_flight, config.in_tmux)

    @property
    def graphics(self) -> GraphicsBackend:
        """The backend in use."""
        return self._backends[self.backend]

    @property
    def image_id(self) -> int:
        """The Kitty image id of this view (0 until mounted with the kitty backend)."""
        return self._image_id

    @property
    def in_tmux(self) -> bool:
        """Inside tmux: Kitty sequences are wrapped for passthrough."""
        return self._config.in_tmux

    @property
    def box(self) -> Box | None:
        """The cell box of the current picture inside the widget, if any."""
        return self._box

    @property
    def area(self) -> tuple[int, int]:
        """Cells (cols, rows) available for the picture (its box is fitted into them)."""
        cols, rows = self.content_size
        return self.graphics.area(cols, rows)

    @property
    def cell_size(self) -> CellSize:
        """Terminal cell size in pixels used for proportions."""
        return self._cell

    def write_terminal(self, data: str) -> None:
        """Write escape sequences to the terminal (Kitty and Sixel pictures)."""
        terminal.write_raw(self.app, data)

    def fallback_strips(self) -> list[Strip]:
        """Half-cell strips of the current picture in its box (drawn under modal screens)."""
        if self._frame is None or self._box is None:
            return []
        key = (self._frame_version, self._box, self._cell)
        if self._fallback is None or self._fallback[0] != key:
            array, aspect = self._frame
            strips = halfcell_strips(self.renderer, array, aspect, self._box, self._cell)
            self._fallback = (key, strips)
        return self._fallback[1]

    # ------------------------------------------------------------------ lifecycle

    def compose(self) -> ComposeResult:
        """The canvas child that holds the picture."""
        yield self.graphics.canvas

    def on_mount(self) -> None:
        """Allocate the Kitty image id (its colour depends on the colour system)."""
        self._ensure_image_id()
        self.app.app_resume_signal.subscribe(self, self._on_app_resume)

    def on_unmount(self) -> None:
        """Stop encoding and free the image in the terminal."""
        self.pacer.clear()
        self._worker.stop(timeout=1.0)
        self.graphics.release()

    def on_resize(self) -> None:
        """Re-fit the picture to the new size (and possibly a new cell size)."""
        cell = live_cell_size(self._config)
        unchanged = cell == self._cell and self._target_box() == self._box
        self._cell = cell
        shown = self.last_shown
        if self._frame is not None and not (unchanged and shown and not shown.preview):
            self.pacer.submit(full=True)

    def watch_backend(self, old: str, new: str) -> None:
        """Switch the canvas to another backend and redraw."""
        if new not in BACKENDS:
            raise GraphicsError(f"unknown graphics backend {new!r}: use {', '.join(BACKENDS)}")
        previous = self._backends[old]
        previous.release()
        previous.canvas.remove()
        backend = self._backends[new] = make_backend(new, self)
        self._ensure_image_id()
        self.mount(backend.canvas)
        self._box = None
        if self._frame is not None:
            self.pacer.submit(full=True)

    # ------------------------------------------------------------------ internals

    def _ensure_image_id(self) -> None:
        """Pick the Kitty image id once the app's colour system is known."""
        backend = self.graphics
        if not isinstance(backend, KittyBackend) or not self.is_attached:
            return
        app = self.app
        truecolor = app.is_headless or app.console.color_system in (None, "truecolor")
        if not self._image_id:
            self._image_id = self._pinned_id or kitty.allocate_image_id(truecolor)
        if self._image_id > 255:
            truecolor = True  # a pinned 24-bit id can only be written in true colour
        backend.set_image_id(self._image_id, truecolor)

    def _target_box(self) -> Box | None:
        """Where the current picture goes now (None: nothing to show or no room)."""
        if self._frame is None or not self.is_attached:
            return None
        array, aspect = self._frame
        box = picture_box(array.shape[:2], aspect, self.area, self._cell, self._scale)
        if box.cols < 1 or box.rows < 1:
            return None
        return self.graphics.fit(box)

    def submit_frame(self, level: Level) -> int:
        """Queue the latest picture for encoding at ``level``; its request number (0 when
        there is nothing to show or no room)."""
        box = self._target_box()
        if self._frame is None or box is None:
            return 0
        array, aspect = self._frame
        self._ensure_image_id()
        self._seq += 1
        request = FrameRequest(
            seq=self._seq,
            array=array,
            aspect=aspect,
            level=level,
            backend=self.backend,
            box=box,
            cell=self._cell,
            image_id=self._image_id,
            tmux=self._config.in_tmux,
            tag=self._tag,
            fast_link=self.gate.meter.fast,
        )
        self._worker.submit(request)
        return self._seq

    def _encoded(self, request: FrameRequest, frame: EncodedFrame) -> None:
        """Encoder thread callback: hand the frame to the UI thread."""
        if self.is_attached:
            self.post_message(self.FrameEncoded(frame))

    def on_image_view_frame_encoded(self, message: FrameEncoded) -> None:
        """An encoded frame (UI thread): send it when the frame gate lets it."""
        message.stop()
        request = message.frame.request
        if request.seq < self._seq_floor() or request.backend != self.backend:
            return
        if self._frame is None:
            return
        self.pacer.encoded(message.frame)

    def present_frame(self, frame: EncodedFrame) -> None:
        """Put an encoded frame on screen (UI thread; the gate's slot is taken)."""
        request = frame.request
        self._box = request.box
        self.frames_shown += 1
        self.last_shown = request
        if self.graphics.present(frame):
            self.frame_written()
        self.post_message(self.Shown(self, request, frame.encode_ms))

    def frame_written(self) -> None:
        """The backend wrote the picture (or Textual writes it with its next update)."""
        self.pacer.written(self.last_shown)

    def _seq_floor(self) -> int:
        """Frames older than the last displayed one are stale."""
        return self.last_shown.seq + 1 if self.last_shown is not None else 0

    def _on_app_resume(self, _app: object) -> None:
        """After suspend (Ctrl+Z, fg) the terminal may have dropped images: send again."""
        self.graphics.resume()
