"""ImageView: shows a windowed uint8 picture with the best terminal graphics available.

Backends (see ``tuipacs.app.graphics``): ``kitty`` (Unicode placeholders, fixed image id,
pixels re-sent only when they change), ``sixel`` (101 greys, one synchronized write) and
``halfcell`` (true-colour half blocks, the universal fallback). The picture keeps its physical
proportions (pixel aspect and the cell size in pixels) and is centred in the widget.

``show()`` is cheap: it records the latest frame and wakes an encoder thread that only ever
encodes the newest request. While calls come faster than ``PREVIEW_DELAY`` apart (a held key)
a half-resolution preview is sent, and the full frame follows ``PREVIEW_DELAY`` after the last.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from rich.color import Color
from rich.console import Console
from rich.segment import ControlType, Segment
from rich.style import Style
from textual.app import ComposeResult
from textual.geometry import Region
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.timer import Timer
from textual.widget import Widget

from tuipacs.app.graphics import halfcell
from tuipacs.imaging import resample
from tuipacs.view.graphics import kitty, sixel
from tuipacs.view.graphics.probe import (
    BACKENDS,
    GraphicsConfig,
    GraphicsError,
    current_config,
    live_cell_size,
)
from tuipacs.view.graphics.worker import LatestOnlyWorker
from tuipacs.view.layout import Box, CellSize, fit_box, shrink_box

SYNC_START = "\x1b[?2026h"
SYNC_END = "\x1b[?2026l"
SAVE_CURSOR = "\x1b7"
RESTORE_CURSOR = "\x1b8"
SIXEL_SPARE_ROWS = 2
SIXEL_REDRAW_DELAY = 0.03
SIXEL_PREVIEW_LEVELS = 26


@dataclass(frozen=True)
class FrameRequest:
    """One frame to encode, with everything the encoder needs (immutable, thread-safe)."""

    seq: int
    array: np.ndarray
    aspect: float
    preview: bool
    backend: str
    box: Box
    cell: CellSize
    image_id: int
    tmux: bool


@dataclass(frozen=True)
class EncodedFrame:
    """The encoder's output: escape sequences (kitty, sixel) or strips (halfcell)."""

    request: FrameRequest
    data: str
    strips: list[Strip]
    encode_ms: float


def validate_frame(array: np.ndarray, aspect: float) -> None:
    """Raise GraphicsError unless ``array`` is uint8 H x W or H x W x 3 and aspect is sane."""
    if not isinstance(array, np.ndarray) or array.dtype != np.uint8:
        raise GraphicsError("ImageView.show needs a uint8 array: apply the window/level first")
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3):
        raise GraphicsError("ImageView.show needs an H x W grey or H x W x 3 RGB array")
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise GraphicsError("ImageView.show got an empty image")
    if not (math.isfinite(aspect) and aspect > 0):
        raise GraphicsError(f"pixel aspect must be a positive number, not {aspect!r}")


def _kitty_pixels(request: FrameRequest) -> np.ndarray:
    """The picture to transmit: square pixels, no larger than the box, halved for previews."""
    array, box, cell = request.array, request.box, request.cell
    size = resample.square_pixel_size(array.shape[:2], request.aspect)
    limit = (box.rows * cell.height, box.cols * cell.width)
    if size[0] > limit[0] or size[1] > limit[1]:
        size = resample.fit_pixels(size, 1.0, limit)
    picture = resample.resize(array, size)
    return resample.half_resolution(picture) if request.preview else picture


def _sixel_pixels(request: FrameRequest) -> np.ndarray:
    """The picture at screen size; previews at half resolution, each pixel doubled."""
    box, cell = request.box, request.cell
    size = (box.rows * cell.height, box.cols * cell.width)
    if not request.preview:
        return resample.fit_into(request.array, request.aspect, size)
    half = resample.fit_into(request.array, request.aspect, (size[0] // 2, size[1] // 2))
    doubled = np.repeat(np.repeat(half, 2, axis=0), 2, axis=1)
    return resample.letterbox(doubled, size)


def _sixel_levels(request: FrameRequest) -> int:
    """Grey levels: all 101 for full frames, fewer (smaller, faster) for previews."""
    return SIXEL_PREVIEW_LEVELS if request.preview else sixel.GREY_LEVELS


def encode_frame(request: FrameRequest, renderer: halfcell.HalfcellRenderer) -> EncodedFrame:
    """Encode one frame for its backend (runs on the encoder thread)."""
    start = time.perf_counter()
    box, cell = request.box, request.cell
    data, strips = "", []
    if request.backend == "kitty":
        png = kitty.encode_png(_kitty_pixels(request))
        data = kitty.transmit(png, request.image_id, box.cols, box.rows, tmux=request.tmux)
    elif request.backend == "sixel":
        data = sixel.encode(_sixel_pixels(request), grey_levels=_sixel_levels(request))
    else:
        unit_aspect = request.aspect * 2.0 * cell.width / cell.height
        pixels = resample.fit_into(request.array, unit_aspect, (box.rows * 2, box.cols))
        strips = renderer.strips(pixels)
    return EncodedFrame(request, data, strips, (time.perf_counter() - start) * 1000.0)


_BLACK = Style(bgcolor=Color.from_rgb(0, 0, 0))


def _on_active_screen(widget: Widget) -> bool:
    """True when ``widget`` is on the top screen (not rendered under a modal)."""
    try:
        return widget.screen.is_active
    except Exception:  # not mounted / no screen yet
        return False


class _Canvas(Widget, can_focus=False):
    """The child widget that holds the picture."""

    DEFAULT_CSS = """
    _Canvas { width: 100%; height: 100%; background: black; }
    """

    def set_box(self, box: Box) -> bool:
        """Move the picture to ``box``; True if that changed anything visible."""
        raise NotImplementedError


class _StripCanvas(_Canvas):
    """Fills the ImageView: black margins around prepared strips placed at the box.

    Changing the box repaints this one widget once (no layout change, which would make
    Textual repaint it several times). Lines around half-cell strips keep the rendering the
    encoder thread prepared (``halfcell.pad``), so painting a frame renders no segment.
    """

    def __init__(self) -> None:
        super().__init__()
        self.box = Box(0, 0, 0, 0)
        self.strips: list[Strip] = []
        self._lines: dict[int, Strip] = {}
        self._lines_key: tuple[int, Box] = (-1, self.box)

    def set_box(self, box: Box) -> bool:
        """Place the picture at ``box`` (cells inside this widget)."""
        if box == self.box:
            return False
        self.box = box
        self.refresh()
        return True

    def set_strips(self, strips: list[Strip]) -> None:
        """Replace the picture's strips (one per box row) and repaint."""
        self.strips = strips
        self._lines.clear()
        self.refresh()

    def _line(self, y: int, width: int) -> Strip:
        """Line ``y`` of the widget: margin, picture row, margin (cached per frame)."""
        key = (width, self.box)
        if key != self._lines_key:
            self._lines.clear()
            self._lines_key = key
        line = self._lines.get(y)
        if line is None:
            line = self._compose_line(y, width)
            self._lines[y] = line
        return line

    def _compose_line(self, y: int, width: int, strips: list[Strip] | None = None) -> Strip:
        """Build line ``y`` from the margins and the picture's strip."""
        box = self.box
        strips = self.strips if strips is None else strips
        row = y - box.y
        if not 0 <= row < len(strips) or row >= box.rows:
            return Strip.blank(width, _BLACK)
        picture = strips[row]
        left = min(box.x, width)
        right = max(0, width - left - picture.cell_length)
        if left + picture.cell_length <= width:
            return halfcell.pad(picture, left, right, _BLACK)  # keeps a prepared rendering
        parts = [Strip.blank(left, _BLACK), picture, Strip.blank(right, _BLACK)]
        return Strip.join(parts).crop(0, width)

    def render_lines(self, crop: Region) -> list[Strip]:
        """Lines of the crop region."""
        width = self.size.width
        lines = []
        for y in range(crop.y, crop.bottom):
            line = self._line(y, width)
            if crop.x or crop.width != width:
                line = line.crop(crop.x, crop.right)
            lines.append(line)
        return lines


class _KittyCanvas(_StripCanvas):
    """Placeholder cells for one image id; rebuilt only when the box size changes.

    Under a modal screen Textual tints this screen, and a tinted placeholder colour would
    name another image id: the picture is drawn in half-cells there instead.
    """

    def __init__(self, image_id: int, truecolor: bool, fallback: Callable[[], list[Strip]]) -> None:
        super().__init__()
        self.fallback = fallback
        self.image_id = image_id
        self.truecolor = truecolor
        self.grid = (0, 0)

    def set_grid(self, cols: int, rows: int) -> bool:
        """Draw a cols x rows placeholder box; False (nothing sent) if it is unchanged."""
        if (cols, rows) == self.grid:
            return False
        self.grid = (cols, rows)
        style = Style(color=Color.from_rgb(*kitty.id_colour(self.image_id, self.truecolor)))
        texts = kitty.placeholder_rows(self.image_id, cols, rows)
        self.set_strips([Strip([Segment(text, style)], cols) for text in texts])
        return True

    def render_lines(self, crop: Region) -> list[Strip]:
        """Placeholders on the active screen, half-cells under a modal."""
        if _on_active_screen(self):
            return super().render_lines(crop)
        strips, width = self.fallback(), self.size.width
        lines = [self._compose_line(y, width, strips) for y in range(crop.y, crop.bottom)]
        return [line.crop(crop.x, crop.right) for line in lines]


class _SkipStrip(Strip):
    """A run of cells Textual must not paint: renders as a cursor-forward move.

    Cropping and dividing give skip strips of the right widths, so Textual's cursor
    arithmetic stays exact; rendering tells the owner that the cells were "repainted",
    i.e. the Sixel picture has to be written again.
    """

    __slots__ = ["_on_render"]

    def __init__(self, width: int, on_render: Callable[[], None]) -> None:
        text = f"\x1b[{width}C" if width > 0 else ""
        control = [(ControlType.CURSOR_FORWARD, width)]
        super().__init__([Segment(text, None, control)] if text else [], width)
        self._on_render = on_render

    def render(self, console: Console) -> str:
        """The cursor move; notes that this part of the screen was written."""
        self._on_render()
        return super().render(console)

    def crop(self, start: int, end: int | None = None) -> Strip:
        """A skip strip of the cropped width."""
        stop = self.cell_length if end is None else min(end, self.cell_length)
        start = max(0, start)
        if start == 0 and stop == self.cell_length:
            return self
        return _SkipStrip(max(0, stop - start), self._on_render)

    def divide(self, cuts: Iterable[int]) -> Sequence[Strip]:
        """Skip strips between the cuts."""
        result: list[Strip] = []
        pos = 0
        for cut in cuts:
            if cut > self.cell_length:
                break
            result.append(_SkipStrip(cut - pos, self._on_render))
            pos = cut
        return result


class _SixelCanvas(_Canvas):
    """Exactly the picture's box; Textual never paints it, the Sixel is written over it."""

    DEFAULT_CSS = """
    _SixelCanvas { width: 1; height: 1; }
    """

    def __init__(self, on_repaint: Callable[[], None], fallback: Callable[[], list[Strip]]) -> None:
        super().__init__()
        self.on_repaint = on_repaint
        self.fallback = fallback
        self.box: Box | None = None

    def set_box(self, box: Box) -> bool:
        """Size and position the canvas on ``box`` (a layout change)."""
        if box == self.box:
            return False
        self.box = box
        self.styles.width = box.cols
        self.styles.height = box.rows
        self.styles.offset = (box.x, box.y)
        return True

    def render_lines(self, crop: Region) -> list[Strip]:
        """Cursor moves only (writing a character would erase the picture).

        Under a modal screen Textual re-renders this screen as a tinted background, where
        a cursor move would shift the dialog: the picture is drawn in half-cells there.
        """
        if not _on_active_screen(self):
            strips = self.fallback()
            blank = Strip.blank(self.size.width, _BLACK)
            rows = [strips[y] if y < len(strips) else blank for y in range(crop.y, crop.bottom)]
            return [row.crop(crop.x, crop.right) for row in rows]
        return [_SkipStrip(crop.width, self.on_repaint) for _ in range(crop.height)]


class ImageView(Widget):
    """Displays a uint8 picture (grey or RGB) with correct proportions, centred.

    ``show(array, aspect)`` with ``aspect`` = physical height / width of one pixel; with
    ``scale`` < 1 the picture takes only that fraction of its fitted size (zoomed out).
    """

    DEFAULT_CSS = """
    ImageView { background: black; width: 1fr; height: 1fr; }
    """

    PREVIEW_DELAY = 0.15

    backend: reactive[str] = reactive("halfcell", init=False)
    """The graphics backend in use: ``kitty``, ``sixel`` or ``halfcell``."""

    class FrameEncoded(Message, bubble=False):
        """Internal: the encoder thread finished a frame."""

        def __init__(self, frame: EncodedFrame) -> None:
            super().__init__()
            self.frame = frame

    class Shown(Message):
        """A frame reached the terminal (posted after each displayed frame)."""

        def __init__(self, view: ImageView, seq: int, preview: bool, encode_ms: float) -> None:
            super().__init__()
            self.view = view
            self.seq = seq
            self.preview = preview
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
        self._renderer = halfcell.HalfcellRenderer()
        self._worker: LatestOnlyWorker[FrameRequest, EncodedFrame] = LatestOnlyWorker(
            lambda request: encode_frame(request, self._renderer), self._encoded
        )
        self._frame: tuple[np.ndarray, float] | None = None
        self._scale = 1.0
        self._seq = 0
        self._last_show = 0.0
        self._full_timer: Timer | None = None
        self._canvas: _Canvas = self._make_canvas(chosen)
        self._box: Box | None = None
        self._kitty_data = ""
        self._sixel_data = ""
        self._sixel_timer: Timer | None = None
        self._fallback: tuple[object, list[Strip]] | None = None
        self._frame_version = 0
        self.frames_shown = 0
        self.last_shown: FrameRequest | None = None

    # ----------------------------------------------------------------- public API

    def show(
        self,
        array: np.ndarray,
        aspect: float = 1.0,
        *,
        preview: bool = False,
        scale: float = 1.0,
    ) -> None:
        """Display ``array`` (uint8 H x W grey or H x W x 3 RGB, already windowed).

        Cheap enough for key-repeat rate: encoding happens on a background thread and
        only the most recent frame is encoded. A writeable array is copied, so the caller
        may reuse its buffer for the next frame. ``scale`` < 1 shows the picture at that
        fraction of the size that fits the widget, centred (zoomed out below fit).
        """
        validate_frame(array, aspect)
        if not (math.isfinite(scale) and scale > 0):
            raise GraphicsError(f"picture scale must be a positive number, not {scale!r}")
        self._scale = float(scale)
        if array.flags.writeable:
            array = array.copy()
        now = time.monotonic()
        rapid = self.auto_preview and now - self._last_show < self.PREVIEW_DELAY
        self._last_show = now
        self._frame = (array, float(aspect))
        self._frame_version += 1
        use_preview = (preview or rapid) and self.backend != "halfcell"
        if use_preview:
            self._schedule_full()
        self._submit(preview=use_preview)

    def clear(self) -> None:
        """Forget the picture and show an empty (black) area."""
        self._frame = None
        self._seq += 1
        self._stop_full_timer()
        canvas = self._canvas
        if isinstance(canvas, _KittyCanvas) and self._image_id:
            self._write(kitty.delete(self._image_id, tmux=self._config.in_tmux))
            canvas.grid = (0, 0)
        if isinstance(canvas, _StripCanvas):
            canvas.set_strips([])
        if isinstance(canvas, _SixelCanvas):
            canvas.set_box(Box(0, 0, 0, 0))  # the ImageView's background repaints the area
        self._box = None
        self._sixel_data = ""
        self._kitty_data = ""
        self.refresh()

    @property
    def image_id(self) -> int:
        """The Kitty image id of this view (0 until mounted with the kitty backend)."""
        return self._image_id

    @property
    def box(self) -> Box | None:
        """The cell box of the current picture inside the widget, if any."""
        return self._box

    @property
    def area(self) -> tuple[int, int]:
        """Cells (cols, rows) available for the picture (its box is fitted into them)."""
        return self._available()

    @property
    def cell_size(self) -> CellSize:
        """Terminal cell size in pixels used for proportions."""
        return self._cell

    # ------------------------------------------------------------------ lifecycle

    def compose(self) -> ComposeResult:
        """The canvas child that holds the picture."""
        yield self._canvas

    def on_mount(self) -> None:
        """Allocate the Kitty image id (its colour depends on the colour system)."""
        self._ensure_image_id()
        self.app.app_resume_signal.subscribe(self, self._on_app_resume)

    def on_unmount(self) -> None:
        """Stop encoding and free the image in the terminal."""
        self._stop_full_timer()
        self._worker.stop(timeout=1.0)
        if self.backend == "kitty" and self._image_id and self._kitty_data:
            self._write(kitty.delete(self._image_id, tmux=self._config.in_tmux))

    def on_resize(self) -> None:
        """Re-fit the picture to the new size (and possibly a new cell size)."""
        cell = live_cell_size(self._config)
        unchanged = cell == self._cell and self._target_box() == self._box
        self._cell = cell
        shown = self.last_shown
        if self._frame is not None and not (unchanged and shown and not shown.preview):
            self._submit(preview=False)

    def watch_backend(self, old: str, new: str) -> None:
        """Switch the canvas to another backend and redraw."""
        if new not in BACKENDS:
            raise GraphicsError(f"unknown graphics backend {new!r}: use {', '.join(BACKENDS)}")
        if old == "kitty" and self._image_id and self._kitty_data:
            self._write(kitty.delete(self._image_id, tmux=self._config.in_tmux))
        self._kitty_data = self._sixel_data = ""
        self._canvas.remove()
        self._canvas = self._make_canvas(new)
        self._ensure_image_id()
        self.mount(self._canvas)
        self._box = None
        if self._frame is not None:
            self._submit(preview=False)

    # ------------------------------------------------------------------ internals

    def _make_canvas(self, backend: str) -> _Canvas:
        """A new canvas widget for ``backend``."""
        if backend == "sixel":
            return _SixelCanvas(self._sixel_repainted, self._fallback_strips)
        if backend == "kitty":
            return _KittyCanvas(self._image_id, True, self._fallback_strips)
        return _StripCanvas()

    def _ensure_image_id(self) -> None:
        """Pick the Kitty image id once the app's colour system is known."""
        if not isinstance(self._canvas, _KittyCanvas) or not self.is_attached:
            return
        app = self.app
        truecolor = app.is_headless or app.console.color_system in (None, "truecolor")
        if not self._image_id:
            self._image_id = self._pinned_id or kitty.allocate_image_id(truecolor)
        if self._image_id > 255:
            truecolor = True  # a pinned 24-bit id can only be written in true colour
        self._canvas.image_id = self._image_id
        self._canvas.truecolor = truecolor

    def _available(self) -> tuple[int, int]:
        """Cells available for the picture (Sixel keeps 2 spare rows above the screen end)."""
        cols, rows = self.content_size
        if self.backend == "sixel" and self.is_attached:
            screen_rows = self.screen.size.height
            rows = min(rows, screen_rows - SIXEL_SPARE_ROWS - self.content_region.y)
        return cols, rows

    def _target_box(self) -> Box | None:
        """Where the current picture goes now (None: nothing to show or no room)."""
        if self._frame is None or not self.is_attached:
            return None
        array, aspect = self._frame
        cols, rows = self._available()
        box = fit_box(array.shape[:2], aspect, cols, rows, self._cell)
        box = shrink_box(box, self._scale, cols, rows)
        if box.cols < 1 or box.rows < 1:
            return None
        if self.backend == "kitty":
            box = Box(box.x, box.y, min(box.cols, kitty.MAX_CELLS), min(box.rows, kitty.MAX_CELLS))
        return box

    def _submit(self, preview: bool) -> None:
        """Queue the latest frame for encoding with the current resample."""
        box = self._target_box()
        if self._frame is None or box is None:
            return
        array, aspect = self._frame
        if self.backend == "kitty":
            self._ensure_image_id()
        self._seq += 1
        request = FrameRequest(
            seq=self._seq,
            array=array,
            aspect=aspect,
            preview=preview,
            backend=self.backend,
            box=box,
            cell=self._cell,
            image_id=self._image_id,
            tmux=self._config.in_tmux,
        )
        self._worker.submit(request)

    def _schedule_full(self) -> None:
        """(Re)arm the timer that sends the full frame after the last preview."""
        self._stop_full_timer()
        self._full_timer = self.set_timer(self.PREVIEW_DELAY, self._send_full)

    def _stop_full_timer(self) -> None:
        """Cancel a pending full-frame timer."""
        if self._full_timer is not None:
            self._full_timer.stop()
            self._full_timer = None

    def _send_full(self) -> None:
        """Timer callback: encode the latest frame at full resolution."""
        self._full_timer = None
        self._submit(preview=False)

    def _encoded(self, request: FrameRequest, frame: EncodedFrame) -> None:
        """Encoder thread callback: hand the frame to the UI thread."""
        if self.is_attached:
            self.post_message(self.FrameEncoded(frame))

    def on_image_view_frame_encoded(self, message: FrameEncoded) -> None:
        """Put an encoded frame on screen (UI thread)."""
        message.stop()
        frame = message.frame
        request = frame.request
        if request.seq < self._seq_floor() or request.backend != self.backend:
            return
        if self._frame is None:
            return
        self._box = request.box
        canvas = self._canvas
        if isinstance(canvas, _KittyCanvas):
            self._kitty_data = frame.data
            self._write(frame.data)
            canvas.set_grid(request.box.cols, request.box.rows)
            canvas.set_box(request.box)
        elif isinstance(canvas, _SixelCanvas):
            self._sixel_data = frame.data
            if canvas.set_box(request.box):
                self._sixel_repainted()  # after the layout change is on screen
            else:
                self._emit_sixel()  # same cells: write now
        elif isinstance(canvas, _StripCanvas):
            canvas.set_box(request.box)
            canvas.set_strips(frame.strips)
        self.frames_shown += 1
        self.last_shown = request
        self.post_message(self.Shown(self, request.seq, request.preview, frame.encode_ms))

    def _seq_floor(self) -> int:
        """Frames older than the last displayed one are stale."""
        return self.last_shown.seq + 1 if self.last_shown is not None else 0

    def _fallback_strips(self) -> list[Strip]:
        """Half-cell strips of the current picture in its box (drawn under modal screens)."""
        if self._frame is None or self._box is None:
            return []
        key = (self._frame_version, self._box, self._cell)
        if self._fallback is None or self._fallback[0] != key:
            array, aspect = self._frame
            request = FrameRequest(
                0, array, aspect, False, "halfcell", self._box, self._cell, 0, False
            )
            self._fallback = (key, encode_frame(request, self._renderer).strips)
        return self._fallback[1]

    def _sixel_repainted(self) -> None:
        """Textual wrote over the Sixel canvas: write the picture again shortly after.

        Coalesced over ``SIXEL_REDRAW_DELAY`` so the few frames of a layout change cost
        one picture, not one each.
        """
        if self._sixel_timer is None and self._sixel_data:
            self._sixel_timer = self.set_timer(SIXEL_REDRAW_DELAY, self._emit_sixel)

    def _emit_sixel(self) -> None:
        """Write the Sixel picture at the canvas position in one synchronized update."""
        if self._sixel_timer is not None:
            self._sixel_timer.stop()
            self._sixel_timer = None
        if not self._sixel_data or not self.is_attached or not self.screen.is_active:
            return
        region = self._canvas.region
        if region.width < 1 or region.height < 1:
            return
        move = f"\x1b[{region.y + 1};{region.x + 1}H"
        self._write(f"{SYNC_START}{SAVE_CURSOR}{move}{self._sixel_data}{RESTORE_CURSOR}{SYNC_END}")

    def _on_app_resume(self, _app: object) -> None:
        """After suspend (Ctrl+Z, fg) the terminal may have dropped images: send again."""
        if self.backend == "kitty" and self._kitty_data:
            self._write(self._kitty_data)
        elif self.backend == "sixel":
            self._sixel_repainted()

    def _write(self, data: str) -> None:
        """Write raw escape sequences to the terminal through Textual's output thread."""
        app = self.app
        driver = app._driver
        if driver is None or app.is_headless or not data:
            return
        driver.write(data)
