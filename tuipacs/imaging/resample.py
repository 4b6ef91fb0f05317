"""Resampling of display arrays (uint8 grey or RGB) for a screen: pure functions of arrays.

Conventions: sizes are (height, width) in pixels; ``aspect`` is the physical height / width
of ONE image pixel (row spacing over column spacing, DICOM PixelSpacing[0] / PixelSpacing[1]);
1.0 means square pixels. Pillow does the resampling (bilinear, antialiased when reducing).
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def display_ratio(height: int, width: int, aspect: float) -> float:
    """Physical height / width of a ``height`` x ``width`` image whose pixels have ``aspect``."""
    return height * aspect / width


def fit_pixels(
    image_size: tuple[int, int], aspect: float, target: tuple[int, int]
) -> tuple[int, int]:
    """(height, width) in screen pixels of the picture fitted inside ``target`` (height, width)."""
    height, width = image_size
    ratio = display_ratio(height, width, aspect)
    target_h, target_w = target
    if target_h / target_w > ratio:
        out_w, out_h = target_w, round(target_w * ratio)
    else:
        out_w, out_h = round(target_h / ratio), target_h
    return max(1, min(target_h, out_h)), max(1, min(target_w, out_w))


def square_pixel_size(image_size: tuple[int, int], aspect: float) -> tuple[int, int]:
    """(height, width) of the image resampled to square pixels without losing resolution."""
    height, width = image_size
    if abs(aspect - 1.0) < 1e-3:
        return height, width
    if aspect > 1.0:
        return max(1, round(height * aspect)), width
    return height, max(1, round(width / aspect))


def resize(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resample a uint8 grey or RGB array to (height, width): bilinear, antialiased."""
    height, width = size
    if array.shape[0] == height and array.shape[1] == width:
        return array
    image = Image.fromarray(np.ascontiguousarray(array))
    resized = image.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(resized)


def half_resolution(array: np.ndarray) -> np.ndarray:
    """A quarter-area preview (2x2 box average), at least 1 x 1 pixel."""
    if array.shape[0] < 2 or array.shape[1] < 2:
        return array
    image = Image.fromarray(np.ascontiguousarray(array))
    return np.asarray(image.reduce(2))


def letterbox(array: np.ndarray, size: tuple[int, int], fill: int = 0) -> np.ndarray:
    """Place ``array`` centred on a (height, width) canvas filled with ``fill``."""
    height, width = size
    shape = (height, width) + array.shape[2:]
    canvas = np.full(shape, fill, dtype=np.uint8)
    top = (height - array.shape[0]) // 2
    left = (width - array.shape[1]) // 2
    canvas[top : top + array.shape[0], left : left + array.shape[1]] = array
    return canvas


def fit_into(array: np.ndarray, aspect: float, size: tuple[int, int]) -> np.ndarray:
    """Resample ``array`` to fill (height, width) screen pixels with correct proportions.

    The picture is fitted, centred and padded with black, so the result is exactly ``size``.
    """
    inner = fit_pixels((array.shape[0], array.shape[1]), aspect, size)
    return letterbox(resize(array, inner), size)
