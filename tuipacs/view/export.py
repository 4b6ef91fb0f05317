"""``tuipacs render``: one frame through the viewer's render path, written to a PNG.

The frame is windowed, oriented and cut to its visible region by :func:`tuipacs.view.render.
render`, the function the viewer uses, then placed on a screen of ``size`` pixels as the
viewer's Sixel backend places it (:func:`tuipacs.view.layout.screen_picture`). So the PNG is
an oracle for the viewer: same frame, window, inversion, rotation, flips, zoom and screen, same
pixels (a test checks it).

Choice of VOI when neither ``window`` nor ``preset`` is given: the first window stored for the
frame (Window Center/Width, or the Frame VOI LUT macro of enhanced objects), else the first
VOI LUT in the file, else the min-max window of the frame (as ``dcmj2pnm +Wm``: center
(min+max+1)/2, width max-min+1). Windows are in modality units (HU for CT) and use the file's
VOI LUT Function. The arithmetic is DCMTK's, so without ``size`` the output equals ``dcmj2pnm
+on +Ww C W`` with the same window: modality values truncated to integers, grey levels
truncated, MONOCHROME1 inverted before truncation, overlays drawn white (``-O`` =
``overlays=False``).

Colour images (RGB, YBR, palette) are written as RGB PNGs and ignore the window. Without
``size`` the output is the whole frame at its own resolution (rotated and flipped); with
``size`` it is exactly that many pixels: the picture fitted inside with its pixel aspect ratio
kept (``zoom`` times that, cut to the screen or shrunk), black around it. ``cell`` places the
picture on whole cells of that many pixels, as in a terminal (default: 1 x 1 pixel).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from tuipacs.imaging.errors import ImagingError, is_fatal, short_reason
from tuipacs.imaging.limits import decode_limit
from tuipacs.imaging.pipeline import DisplayPipeline
from tuipacs.imaging.presets import find_preset, preset_names
from tuipacs.imaging.voi import Window
from tuipacs.view.frames import Frame, file_frame
from tuipacs.view.layout import CellSize, screen_picture
from tuipacs.view.render import RenderRequest, render
from tuipacs.view.viewport import MAX_ZOOM, Orientation

MAX_SIZE = 16384
PNG_COMPRESS_LEVEL = 3
"""zlib level for PNG output: ~4x faster than the default 6 for a few % larger files."""


@dataclass(frozen=True)
class Screen:
    """Where the picture goes: an area of ``cols`` x ``rows`` cells of ``cell`` pixels."""

    cols: int
    rows: int
    cell: CellSize

    @property
    def pixels(self) -> tuple[float, float]:
        """(height, width) of the area in pixels."""
        return float(self.rows * self.cell.height), float(self.cols * self.cell.width)


@dataclass(frozen=True)
class ViewOptions:
    """What the viewer would show: inversion, orientation, zoom and the screen."""

    invert: bool = False
    orientation: Orientation = Orientation()
    zoom: float = 1.0
    screen: Screen | None = None


def _pair(value: tuple[int, int] | None, what: str) -> tuple[int, int] | None:
    """A checked (width, height) of positive integers up to MAX_SIZE."""
    if value is None:
        return None
    try:
        width, height = int(value[0]), int(value[1])
    except (TypeError, ValueError, IndexError):
        raise ImagingError(f"invalid {what} {value!r}: expected WIDTHxHEIGHT") from None
    if not (1 <= width <= MAX_SIZE and 1 <= height <= MAX_SIZE):
        raise ImagingError(f"invalid {what} {width}x{height}: each side must be 1..{MAX_SIZE}")
    return width, height


def view_options(
    *,
    size: tuple[int, int] | None = None,
    cell: tuple[int, int] | None = None,
    invert: bool = False,
    rotate: int = 0,
    flip_h: bool = False,
    flip_v: bool = False,
    zoom: float = 1.0,
) -> ViewOptions:
    """Checked view options; ImagingError (one line) for anything out of range.

    ``size`` and ``cell`` are (width, height) in pixels; ``rotate`` is 0, 90, 180 or 270
    degrees clockwise, applied before the flips; ``zoom`` is relative to fit (needs ``size``).
    """
    out_size, out_cell = _pair(size, "size"), _pair(cell, "cell size") or (1, 1)
    if isinstance(rotate, bool) or not isinstance(rotate, int) or rotate % 90:
        raise ImagingError(f"invalid rotation {rotate!r}: use 0, 90, 180 or 270 degrees")
    if not (isinstance(zoom, int | float) and math.isfinite(zoom)):
        raise ImagingError(f"invalid zoom {zoom!r}: use a number")
    if not 1.0 / MAX_ZOOM <= zoom <= MAX_ZOOM:
        raise ImagingError(f"invalid zoom {zoom:g}: it must be 1/{MAX_ZOOM:g} .. {MAX_ZOOM:g}")
    orientation = Orientation((rotate // 90) % 4, bool(flip_h), bool(flip_v))
    if out_size is None:
        if zoom != 1.0:
            raise ImagingError("a zoom needs an output size (zoom is relative to fit)")
        return ViewOptions(bool(invert), orientation, 1.0, None)
    (width, height), (cell_w, cell_h) = out_size, out_cell
    if width % cell_w or height % cell_h:
        raise ImagingError(f"size {width}x{height} is not whole cells of {cell_w}x{cell_h}")
    screen = Screen(width // cell_w, height // cell_h, CellSize(cell_w, cell_h))
    return ViewOptions(bool(invert), orientation, float(zoom), screen)


def render_image(
    path: Path,
    *,
    frame: int = 1,
    window: tuple[float, float] | None = None,
    preset: str | None = None,
    size: tuple[int, int] | None = None,
    overlays: bool = True,
    limit: int | None = None,
    view: ViewOptions | None = None,
) -> np.ndarray:
    """The 8-bit image ``render_to_file`` writes: (rows, cols) grey or (rows, cols, 3) RGB.

    ``size`` (width, height) is a shorthand for ``view_options(size=size)``; ``view`` gives
    every view option. Anything a malformed file makes pydicom or a decoder raise (an
    attribute whose value cannot be read, a decoder's panic) comes out as a one-line
    :class:`ImagingError`.
    """
    limit = decode_limit() if limit is None else limit
    if view is None:
        view = view_options(size=size)
    elif size is not None:
        raise ImagingError("give the size in the view options only")
    if isinstance(frame, bool) or not isinstance(frame, int):
        raise ImagingError(f"invalid frame {frame!r}: frames are numbered from 1")
    try:
        return _render(Path(path), frame, window, preset, view, overlays, limit)
    except ImagingError:
        raise
    except BaseException as exc:
        if is_fatal(exc):
            raise
        reason = short_reason(exc)
        raise ImagingError(f"cannot render {Path(path).name}: {reason}", reason) from None


def _render(
    path: Path,
    number: int,
    window: tuple[float, float] | None,
    preset: str | None,
    view: ViewOptions,
    overlays: bool,
    limit: int,
) -> np.ndarray:
    """render_image's work, for checked arguments."""
    pipe = DisplayPipeline.open(path, header_only=False, limit=limit)
    index = number - 1
    pipe.source.check_index(index)
    screen = view.screen
    frame = file_frame(pipe, index, reduce=screen is not None, overlays=overlays)
    chosen = None if frame.color else choose_window(pipe, frame, index, window, preset)
    rows, cols = frame.values.shape[:2]
    view_px = screen.pixels if screen is not None else (float(rows), float(cols))
    request = RenderRequest(
        0, index, chosen, view.invert, view.orientation, view.zoom, (0.0, 0.0), view_px
    )
    rendered = render(frame, request)
    if screen is None:
        return rendered.array
    area = (screen.cols, screen.rows)
    return screen_picture(rendered.array, rendered.aspect, area, screen.cell, min(1.0, view.zoom))


def choose_window(
    pipe: DisplayPipeline,
    frame: Frame,
    index: int,
    window: tuple[float, float] | None,
    preset: str | None,
) -> Window | None:
    """The window the arguments choose, None for the file's default (see module doc)."""
    if window is not None and preset is not None:
        raise ImagingError("give either a window or a preset, not both")
    if window is not None:
        center, width = (float(v) for v in window)
        if not width >= 1 or not math.isfinite(width):
            raise ImagingError(f"invalid window width {width:g}: it must be at least 1")
        if not math.isfinite(center):
            raise ImagingError(f"invalid window center {center:g}")
        return Window(center, width, "USER", frame.function)
    if preset is not None:
        if find_preset(preset) is None:
            names = ", ".join(preset_names())
            raise ImagingError(f"unknown preset {preset!r}: choose one of {names}")
        return pipe.preset_window(preset, index, frame.values)
    return None


def render_to_file(
    path: Path,
    out: Path,
    *,
    frame: int = 1,
    window: tuple[float, float] | None = None,
    preset: str | None = None,
    size: tuple[int, int] | None = None,
    overlays: bool = True,
    limit: int | None = None,
    view: ViewOptions | None = None,
) -> None:
    """Render frame ``frame`` (1-based) of DICOM file ``path`` to the PNG ``out``.

    Raises :class:`ImagingError` (one-line message) for any bad input: missing
    file, not DICOM, truncated, no pixel data, frame out of range, undecodable
    pixel data, a frame over ``limit`` bytes decoded (see :mod:`tuipacs.imaging.limits`),
    bad window/preset/size/view option, or an output file that cannot be written.
    """
    limit = decode_limit() if limit is None else limit
    image = render_image(
        path,
        frame=frame,
        window=window,
        preset=preset,
        size=size,
        overlays=overlays,
        limit=limit,
        view=view,
    )
    save_png(image, Path(out))


def save_png(image: np.ndarray, out: Path) -> None:
    """Write an 8-bit grey or RGB array as PNG; ImagingError when it cannot be written."""
    mode = "RGB" if image.ndim == 3 else "L"
    try:
        Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8), mode).save(
            out, format="PNG", compress_level=PNG_COMPRESS_LEVEL
        )
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ImagingError(f"cannot write {out}: {reason}") from None
