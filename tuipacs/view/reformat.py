"""Reformats for the viewer and ``tuipacs render --mpr``: a reformat as a :class:`Frame`.

The viewer builds a :class:`~tuipacs.imaging.volume.Volume` once per series and a
:class:`~tuipacs.imaging.mpr.Reformatter` per plane, then for each position asks
:func:`reformat_frame` for a Frame that goes through the same render path as any image
(:func:`tuipacs.view.render.render`: window, orientation, zoom, pan). The frame's aspect is the
reformat's row spacing over its column spacing, and its :class:`FrameInfo` describes the plane
like an image's header would (position of the top-left pixel, row and column directions, pixel
spacing), so probe, measurements and cross-reference lines work unchanged.

:func:`render_reformat` is ``tuipacs render --mpr``: the frame rendered as the viewer renders
it, then resampled to square pixels (without an output size) or placed on the screen of the
view options (with one), as ``tuipacs render`` does for images.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from tuipacs.imaging.errors import ImagingError
from tuipacs.imaging.mpr import Reformat, Reformatter, SlabMode, direction_letters
from tuipacs.imaging.presets import (
    FROM_FILE,
    MIN_MAX,
    auto_window,
    find_preset,
    minmax_window,
    preset_names,
)
from tuipacs.imaging.resample import resize, square_pixel_size
from tuipacs.imaging.voi import Window
from tuipacs.imaging.volume import Volume
from tuipacs.view.export import MAX_SIZE, ViewOptions, view_options
from tuipacs.view.frames import Frame
from tuipacs.view.info import frame_info
from tuipacs.view.layout import screen_picture
from tuipacs.view.render import RenderRequest, render


def _unit(vector: tuple[float, float, float]) -> tuple[float, float, float]:
    """``vector`` scaled to length 1."""
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    x, y, z = (v / norm for v in vector)
    return x, y, z


def square_size(shape: tuple[int, int], aspect: float) -> tuple[int, int]:
    """(height, width) of a picture of ``shape`` resampled to square pixels, without losing
    resolution, at most :data:`MAX_SIZE` a side (proportions kept)."""
    height, width = square_pixel_size(shape, aspect)
    scale = min(1.0, MAX_SIZE / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def reformat_frame(volume: Volume, ref: Reformat) -> Frame:
    """A Frame of the reformat ``ref`` of ``volume``: grey, the volume's windows, inversion
    and VOI function, the reformat's aspect, and overlay facts describing its plane."""
    rows, cols = ref.values.shape
    info = replace(
        frame_info(volume.header, 0),
        rows=rows,
        columns=cols,
        frames=1,
        instance_number="",
        slice_location=ref.position,
        slice_thickness=ref.thickness,
        position=ref.corner,
        orientation=_unit(ref.col_step) + _unit(ref.row_step),
        patient_orientation=(
            direction_letters(np.array(ref.col_step)),
            direction_letters(np.array(ref.row_step)),
        ),
        pixel_spacing=ref.spacing,
    )
    return Frame(
        values=ref.values,
        color=False,
        invert=volume.invert,
        aspect=ref.aspect,
        windows=list(volume.windows),
        function=volume.function,
        info=info,
    )


def reformat_window(
    volume: Volume,
    frame: Frame,
    window: tuple[float, float] | None,
    preset: str | None,
) -> Window | None:
    """The window the arguments choose for a reformat, None for the volume's first stored
    window (else min-max), as ``tuipacs render`` chooses for an image."""
    if window is not None and preset is not None:
        raise ImagingError("give either a window or a preset, not both")
    if window is not None:
        center, width = (float(v) for v in window)
        if not width >= 1 or not math.isfinite(width):
            raise ImagingError(f"invalid window width {width:g}: it must be at least 1")
        if not math.isfinite(center):
            raise ImagingError(f"invalid window center {center:g}")
        return Window(center, width, "USER", frame.function)
    if preset is None:
        return None
    found = find_preset(preset)
    if found is None:
        names = ", ".join(preset_names())
        raise ImagingError(f"unknown preset {preset!r}: choose one of {names}")
    if found.is_fixed:
        return found.window()
    if found.name == FROM_FILE:
        if not volume.windows:
            raise ImagingError("the series stores no window; try the minmax or auto preset")
        return volume.windows[0]
    return minmax_window(frame.values) if found.name == MIN_MAX else auto_window(frame.values)


def render_reformat(
    volume: Volume,
    plane: str,
    *,
    position: float | None = None,
    thickness: float | None = None,
    mode: SlabMode | str = SlabMode.MIP,
    window: tuple[float, float] | None = None,
    preset: str | None = None,
    view: ViewOptions | None = None,
) -> np.ndarray:
    """The 8-bit picture of a reformat of ``volume`` as the viewer shows it (see the module
    doc); ImagingError (one line) for a bad plane, position, slab, window or view option."""
    view = view_options() if view is None else view
    ref = Reformatter(volume, plane).reformat(position, thickness, mode)
    frame = reformat_frame(volume, ref)
    chosen = reformat_window(volume, frame, window, preset)
    rows, cols = ref.values.shape
    screen = view.screen
    view_px = screen.pixels if screen is not None else (float(rows), float(cols))
    request = RenderRequest(
        0, 0, chosen, view.invert, view.orientation, view.zoom, (0.0, 0.0), view_px
    )
    rendered = render(frame, request)
    if screen is None:
        return resize(rendered.array, square_size(rendered.array.shape[:2], rendered.aspect))
    area = (screen.cols, screen.rows)
    return screen_picture(rendered.array, rendered.aspect, area, screen.cell, min(1.0, view.zoom))
