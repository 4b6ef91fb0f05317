"""Render one DICOM frame to a PNG file: the function behind ``tuipacs render``.

Choice of VOI when neither ``window`` nor ``preset`` is given: the first window
stored for the frame (Window Center/Width, or the Frame VOI LUT macro of enhanced
objects), else the first VOI LUT in the file, else the min-max window of the frame
(as ``dcmj2pnm +Wm``: center (min+max+1)/2, width max-min+1). Windows are in
modality units (HU for CT). The arithmetic is DCMTK's, so the output equals
``dcmj2pnm +on +Ww C W`` with the same window: grey levels are truncated, MONOCHROME1
is inverted before truncation, overlays are drawn white (``-O`` = ``overlays=False``).

Colour images (RGB, YBR, palette) are written as RGB PNGs and ignore the window.
With ``size`` the output is exactly that many pixels, the image fitted inside with
its pixel aspect ratio kept and black bars where needed.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

from tuipacs.imaging.errors import ImagingError, is_fatal, short_reason
from tuipacs.imaging.limits import DECODE_LIMIT
from tuipacs.imaging.pipeline import DisplayPipeline, Voi
from tuipacs.imaging.presets import find_preset, preset_names
from tuipacs.imaging.viewport import Viewport, resample
from tuipacs.imaging.voi import Window

MAX_SIZE = 16384
PNG_COMPRESS_LEVEL = 3
"""zlib level for PNG output: ~4x faster than the default 6 for a few % larger files."""


def _check_size(size: tuple[int, int] | None) -> tuple[int, int] | None:
    """Validate an output size (width, height)."""
    if size is None:
        return None
    try:
        width, height = int(size[0]), int(size[1])
    except (TypeError, ValueError, IndexError):
        raise ImagingError(f"invalid size {size!r}: expected WIDTHxHEIGHT") from None
    if not (1 <= width <= MAX_SIZE and 1 <= height <= MAX_SIZE):
        raise ImagingError(f"invalid size {width}x{height}: each side must be 1..{MAX_SIZE}")
    return width, height


def _choose_voi(
    pipe: DisplayPipeline,
    index: int,
    values: np.ndarray,
    window: tuple[float, float] | None,
    preset: str | None,
) -> Voi:
    """The VOI for the frame from the arguments, or the default (see module doc)."""
    if window is not None and preset is not None:
        raise ImagingError("give either a window or a preset, not both")
    if window is not None:
        center, width = (float(v) for v in window)
        if not width >= 1 or not math.isfinite(width):
            raise ImagingError(f"invalid window width {width:g}: it must be at least 1")
        if not math.isfinite(center):
            raise ImagingError(f"invalid window center {center:g}")
        return Window(center, width, "USER", pipe.voi_function(index))
    if preset is not None:
        if find_preset(preset) is None:
            names = ", ".join(preset_names())
            raise ImagingError(f"unknown preset {preset!r}: choose one of {names}")
        return pipe.preset_window(preset, index, values)
    return pipe.default_voi(index, values)


def render_image(
    path: Path,
    *,
    frame: int = 1,
    window: tuple[float, float] | None = None,
    preset: str | None = None,
    size: tuple[int, int] | None = None,
    overlays: bool = True,
    limit: int = DECODE_LIMIT,
) -> np.ndarray:
    """The 8-bit image ``render_to_file`` writes: (rows, cols) grey or (rows, cols, 3) RGB.

    Anything a malformed file makes pydicom or a decoder raise (an attribute whose value
    cannot be read, a decoder's panic) comes out as a one-line :class:`ImagingError`.
    """
    out_size = _check_size(size)
    if isinstance(frame, bool) or not isinstance(frame, int):
        raise ImagingError(f"invalid frame {frame!r}: frames are numbered from 1")
    try:
        return _render(Path(path), frame, window, preset, out_size, overlays, limit)
    except ImagingError:
        raise
    except BaseException as exc:
        if is_fatal(exc):
            raise
        reason = short_reason(exc)
        raise ImagingError(f"cannot render {Path(path).name}: {reason}", reason) from None


def _render(
    path: Path,
    frame: int,
    window: tuple[float, float] | None,
    preset: str | None,
    out_size: tuple[int, int] | None,
    overlays: bool,
    limit: int,
) -> np.ndarray:
    """render_image's work, for checked arguments."""
    pipe = DisplayPipeline.open(path, header_only=False, limit=limit)
    index = frame - 1
    pipe.source.check_index(index)
    if pipe.is_color:
        image = pipe.rgb_frame(index)
    else:
        values = pipe.exact_modality_frame(index)
        voi = _choose_voi(pipe, index, values, window, preset)
        image = pipe.grey_frame(index, voi, overlays=overlays, exact=True)
    if out_size is not None:
        view = Viewport(pipe.info.columns, pipe.info.rows, pipe.pixel_aspect(index))
        image = resample(image, view, out_size)
    return image


def render_to_file(
    path: Path,
    out: Path,
    *,
    frame: int = 1,
    window: tuple[float, float] | None = None,
    preset: str | None = None,
    size: tuple[int, int] | None = None,
    overlays: bool = True,
    limit: int = DECODE_LIMIT,
) -> None:
    """Render frame ``frame`` (1-based) of DICOM file ``path`` to the PNG ``out``.

    Raises :class:`ImagingError` (one-line message) for any bad input: missing
    file, not DICOM, truncated, no pixel data, frame out of range, undecodable
    pixel data, a frame over ``limit`` bytes decoded (see :mod:`tuipacs.imaging.limits`),
    bad window/preset/size, or an output file that cannot be written.
    """
    image = render_image(
        path,
        frame=frame,
        window=window,
        preset=preset,
        size=size,
        overlays=overlays,
        limit=limit,
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
