"""Series thumbnails: one small display image of a file, in its default window.

The picture is the file's middle frame (multi-frame objects) through the same pipeline as
the viewer and ``tuipacs render`` (first stored window, else min-max; colour as stored;
overlays drawn), reduced with an area filter so that its longer side is ``max_side``
pixels and its pixels are square (the pixel aspect ratio is applied here).
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

#: Longer side of a thumbnail in pixels (a tile of ~20 x 10 cells on a 10 x 20 px cell).
THUMBNAIL_SIDE = 160


@dataclass(frozen=True)
class Thumbnail:
    """A uint8 grey (H x W) or RGB (H x W x 3) picture with square pixels."""

    array: np.ndarray
    frame: int
    frames: int


def thumbnail_size(rows: int, columns: int, aspect: float, max_side: int) -> tuple[int, int]:
    """(width, height) in square pixels of a rows x columns image whose pixels are
    ``aspect`` (height / width) tall, fitted so that the longer side is at most ``max_side``
    (never enlarged)."""
    height, width = rows * aspect, float(columns)
    scale = min(1.0, max_side / max(height, width))
    return max(1, round(width * scale)), max(1, round(height * scale))


def make_thumbnail(
    path: Path, max_side: int = THUMBNAIL_SIDE, limit: int | None = None
) -> Thumbnail:
    """The thumbnail of ``path``; ImagingError (one line) for anything without an image,
    including a frame over ``limit`` bytes decoded (see :mod:`tuipacs.imaging.limits`).

    The error's message is its ``reason``: what is wrong, without the file's name.
    """
    limit = decode_limit() if limit is None else limit
    if max_side < 1:
        raise ImagingError(f"thumbnail size must be at least 1 pixel, not {max_side}")
    try:
        pipe = DisplayPipeline.open(Path(path), limit=limit)
        frames = pipe.frame_count
        frame = frames // 2
        picture = pipe.display_frame(frame)
        aspect = pipe.pixel_aspect(frame)
    except ImagingError as exc:  # the tile names its series: the reason is enough
        raise type(exc)(exc.reason) from None
    except BaseException as exc:  # a broken file must give one line, not a traceback
        if is_fatal(exc):
            raise
        raise ImagingError(f"cannot show {Path(path).name}: {short_reason(exc)}") from None
    if not (math.isfinite(aspect) and aspect > 0):
        aspect = 1.0
    rows, columns = picture.shape[:2]
    size = thumbnail_size(rows, columns, aspect, max_side)
    if size != (columns, rows):
        image = Image.fromarray(np.ascontiguousarray(picture))
        picture = np.asarray(image.resize(size, Image.Resampling.BOX, reducing_gap=2.0))
    return Thumbnail(picture, frame, frames)
