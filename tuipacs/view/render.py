"""From a decoded frame and the view settings to the uint8 array the ImageView shows (pure)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tuipacs.imaging.voi import Window, lut_to_uint8, to_uint8
from tuipacs.view.frames import Frame
from tuipacs.view.viewport import Orientation, Region, crop, visible_region


@dataclass(frozen=True)
class RenderRequest:
    """One frame to render, with every setting captured (immutable, thread-safe)."""

    seq: int
    index: int
    window: Window | None
    invert: bool
    orientation: Orientation
    zoom: float
    pan: tuple[float, float]
    view_px: tuple[float, float]
    """The ImageView's area in screen pixels (height, width)."""
    preview: bool = False


@dataclass(frozen=True)
class Rendered:
    """The result: the array to show, its pixel aspect, where it came from."""

    array: np.ndarray
    aspect: float
    window: Window | None
    region: Region
    pan: tuple[float, float]
    oriented_shape: tuple[int, int]


def uses_voi_lut(frame: Frame, window: Window | None) -> bool:
    """True when the file's VOI LUT applies (no window chosen and none in the file)."""
    return window is None and not frame.color and frame.voi_lut is not None


def grey_levels(frame: Frame, window: Window | None, invert: bool) -> np.ndarray:
    """uint8 grey levels (or RGB) of the frame through ``window`` (None: the file's VOI)."""
    if frame.color:
        rgb = frame.values
        return (255 - rgb) if invert else rgb
    flip = frame.invert != invert
    if uses_voi_lut(frame, window) and frame.voi_lut is not None:
        return lut_to_uint8(frame.values, frame.voi_lut, flip)
    win = window or frame.default_window()
    return to_uint8(frame.values, win, frame.function, invert=flip)


def render(frame: Frame, request: RenderRequest) -> Rendered:
    """Window, orient, and cut out the visible region of ``frame``."""
    levels = grey_levels(frame, request.window, request.invert)
    oriented = request.orientation.apply(levels)
    aspect = request.orientation.oriented_aspect(frame.aspect)
    shape = (oriented.shape[0], oriented.shape[1])
    region, pan = visible_region(shape, aspect, request.view_px, request.zoom, request.pan)
    window = None
    if not frame.color and not uses_voi_lut(frame, request.window):
        window = request.window or frame.default_window()
    array = crop(oriented, region)
    array.flags.writeable = False  # never changed again: the ImageView need not copy it
    return Rendered(array, aspect, window, region, pan, shape)
