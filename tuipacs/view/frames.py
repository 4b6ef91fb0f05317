"""Frames for the viewer: decoded modality values plus what the overlays show, cached.

A thin adapter over :mod:`tuipacs.imaging`: :class:`~tuipacs.imaging.DisplayPipeline` decodes
and knows the windows, inversion and pixel aspect; :class:`~tuipacs.imaging.FrameCache` keeps
decoded frames within a byte budget and decodes ahead in its own threads. The viewer asks for
image ``i`` of a series and gets a :class:`Frame`; blocking work happens in the caller's thread
(the render thread), never in the UI thread. Thread-safe.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset

from tuipacs.imaging import presets
from tuipacs.imaging.cache import FrameCache, PipelineLoader
from tuipacs.imaging.errors import ImagingError, is_fatal, short_reason
from tuipacs.imaging.limits import decode_limit
from tuipacs.imaging.luts import LookupTable
from tuipacs.imaging.pipeline import DisplayPipeline
from tuipacs.imaging.voi import VoiFunction, Window
from tuipacs.view.info import FrameInfo, frame_info

MAX_DISPLAY = 2048
"""Frames larger than this (either side) are reduced once for display (big X-rays)."""


@dataclass(frozen=True)
class ImageRef:
    """One image of a series: a file and a frame number in it (0-based)."""

    path: Path
    frame: int = 0


@dataclass
class Frame:
    """One decoded image: modality values (grey) or RGB uint8 (colour), plus its facts."""

    values: np.ndarray
    color: bool
    invert: bool
    aspect: float
    windows: list[Window]
    function: VoiFunction
    info: FrameInfo
    scale: float = 1.0
    """Display pixels per source pixel (< 1 when a big image was reduced for display)."""
    voi_lut: LookupTable | None = None
    """The file's VOI LUT, used when the file has no window and the user chose none."""
    cached: dict[str, Any] = field(default_factory=dict)
    draw_overlays: Callable[[np.ndarray], object] | None = None
    """Draws the file's overlay planes into the full-size grey levels, in place (``tuipacs
    render``; the viewer shows none)."""

    def default_window(self) -> Window:
        """The file's first window, else the min-max window (as ``tuipacs render``)."""
        if self.windows:
            return self.windows[0]
        found = self.cached.get("minmax")
        if found is None:
            found = self.cached["minmax"] = presets.minmax_window(self.values)
        return found

    def value_at(self, row: int, col: int) -> float | tuple[int, ...] | None:
        """The displayed value at (row, col) of the *display* array, None if outside."""
        rows, cols = self.values.shape[:2]
        if not (0 <= row < rows and 0 <= col < cols):
            return None
        value = self.values[row, col]
        if self.color:
            return tuple(int(v) for v in value)
        return float(value)


def reduce_for_display(values: np.ndarray) -> np.ndarray:
    """A display-sized copy of a very large frame (area average); others unchanged."""
    rows, cols = values.shape[:2]
    factor = max(rows, cols) / MAX_DISPLAY
    if factor <= 1.0:
        return values
    size = (max(1, round(cols / factor)), max(1, round(rows / factor)))
    if values.ndim == 3:
        return np.asarray(Image.fromarray(values).resize(size, Image.Resampling.BOX))
    image = Image.fromarray(values.astype(np.float32), mode="F")
    return np.asarray(image.resize(size, Image.Resampling.BOX))


class _DisplayLoader(PipelineLoader):
    """The imaging module's loader, with very large frames reduced once for display."""

    def __call__(self, source: Any, frame: int) -> np.ndarray:
        return reduce_for_display(super().__call__(source, frame))


@dataclass(frozen=True)
class _Facts:
    """Per-image facts that do not depend on the pixels (read once from the header)."""

    info: FrameInfo
    color: bool
    invert: bool
    aspect: float
    windows: list[Window]
    function: VoiFunction
    voi_lut: LookupTable | None


def _read_facts(pipe: DisplayPipeline, frame: int) -> _Facts:
    """The facts of frame ``frame`` of ``pipe``'s object (header only)."""
    windows = [] if pipe.is_color else pipe.windows(frame)
    luts = [] if pipe.is_color or windows else pipe.voi_luts(frame)
    return _Facts(
        info=frame_info(pipe.dataset, frame),
        color=pipe.is_color,
        invert=not pipe.is_color and pipe.invert,
        aspect=pipe.pixel_aspect(frame),
        windows=windows,
        function=pipe.voi_function(frame),
        voi_lut=luts[0] if luts else None,
    )


def _make_frame(facts: _Facts, values: np.ndarray, cached: dict[str, Any]) -> Frame:
    """A Frame of ``values`` (possibly reduced for display) with its facts."""
    columns = facts.info.columns or values.shape[1]
    return Frame(
        values=values,
        color=facts.color,
        invert=facts.invert,
        aspect=facts.aspect,
        windows=facts.windows,
        function=facts.function,
        info=facts.info,
        scale=values.shape[1] / columns,
        voi_lut=facts.voi_lut,
        cached=cached,
    )


def exact_values(pipe: DisplayPipeline, index: int) -> np.ndarray:
    """Modality values as DCMTK keeps them (integers, truncated), as int32 where they fit;
    RGB uint8 for colour. What ``tuipacs render`` windows, to write DCMTK's grey levels."""
    if pipe.is_color:
        return pipe.rgb_frame(index)
    values = pipe.exact_modality_frame(index)
    if values.size and np.isfinite(values).all():
        low, high = float(values.min()), float(values.max())
        if -(2**31) <= low and high < 2**31:
            return values.astype(np.int32)
    return values


def file_frame(
    pipe: DisplayPipeline, index: int, *, reduce: bool = False, overlays: bool = False
) -> Frame:
    """Frame ``index`` of an opened object with DCMTK's modality values (``tuipacs render``).

    ``reduce`` makes very large frames display-sized as the viewer does (when the output is
    fitted to a screen size); ``overlays`` draws the file's overlay planes into the grey levels.
    """
    values = exact_values(pipe, index)
    if reduce:
        values = reduce_for_display(values)
    frame = _make_frame(_read_facts(pipe, index), values, {})
    if overlays and not frame.color and frame.scale == 1.0:
        frame.draw_overlays = lambda grey: pipe.draw_overlays(grey, index)
    return frame


class FrameStore:
    """The images of one series: decoded through a FrameCache, facts read once per image."""

    def __init__(
        self,
        images: list[ImageRef],
        max_bytes: int = 256 * 1024 * 1024,
        limit: int | None = None,
    ) -> None:
        limit = decode_limit() if limit is None else limit
        self.images = images
        self._loader = _DisplayLoader(limit=limit)
        self.cache = FrameCache(self._loader, budget_bytes=max_bytes, workers=2)
        self._facts: dict[int, _Facts] = {}
        self._extras: dict[int, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.images)

    def replace_images(self, images: list[ImageRef]) -> None:
        """A longer list of the same series (images arrived); decoded frames stay cached."""
        with self._lock:
            self.images = images
            self._facts.clear()
            self._extras.clear()

    def close(self) -> None:
        """Stop decoding ahead."""
        self.cache.close()

    def _key(self, index: int) -> tuple[str, int]:
        ref = self.images[index]
        return str(ref.path), ref.frame

    def pipeline(self, index: int) -> DisplayPipeline:
        """The imaging pipeline of image ``index``'s file."""
        return self._loader.pipeline(str(self.images[index].path))

    def header(self, index: int) -> Dataset:
        """The header of image ``index`` (pixel data may be absent)."""
        return self.pipeline(index).dataset

    def _facts_of(self, index: int) -> _Facts:
        with self._lock:
            facts = self._facts.get(index)
        if facts is not None:
            return facts
        facts = _read_facts(self.pipeline(index), self.images[index].frame)
        with self._lock:
            self._facts[index] = facts
        return facts

    def _frame(self, index: int, values: np.ndarray) -> Frame:
        return _make_frame(self._facts_of(index), values, self._extras.setdefault(index, {}))

    def cached(self, index: int) -> Frame | None:
        """The frame if it is decoded already (never blocks on decoding)."""
        if not 0 <= index < len(self.images):
            return None
        values = self.cache.peek(*self._key(index))
        return None if values is None else self._frame(index, values)

    def get(self, index: int) -> Frame:
        """Frame ``index``, decoding it if needed. Raises ImagingError with one line (what is
        wrong, without the file name), also for a decoder's panic (a BaseException); only
        Ctrl-C and exit pass through."""
        if not 0 <= index < len(self.images):
            raise ImagingError(f"image {index + 1} is out of range (1..{len(self.images)})")
        try:
            return self._frame(index, self.cache.get(*self._key(index)))
        except ImagingError as exc:  # the viewer shows which image: the reason is enough
            raise type(exc)(exc.reason) from None
        except BaseException as exc:
            if is_fatal(exc):
                raise
            name = self.images[index].path.name
            raise ImagingError(f"cannot show {name}: {short_reason(exc)}") from None

    def prefetch(self, index: int, direction: int, radius: int = 8) -> None:
        """Decode the neighbours of ``index`` in the background (nearest first)."""
        if not 0 <= index < len(self.images):
            return
        keys = [self._key(i) for i in range(len(self.images))]
        self.cache.prefetch_around(keys, index, radius=radius, ahead=1 if direction >= 0 else -1)
