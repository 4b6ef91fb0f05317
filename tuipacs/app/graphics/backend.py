"""The graphics backend protocol of the ImageView: prepare, encode, present.

One implementation per terminal graphics protocol (:mod:`~tuipacs.app.graphics.kitty_backend`,
:mod:`~tuipacs.app.graphics.sixel_backend`, :mod:`~tuipacs.app.graphics.halfcell_backend`).
``prepare`` and ``encode`` run on the ImageView's encoder thread and only read the request;
``present`` and the rest run on the UI thread and own the backend's canvas and what the
terminal holds (a Kitty image, a Sixel picture).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

import numpy as np
from textual.strip import Strip

from tuipacs.view.graphics.probe import BACKENDS, GraphicsError
from tuipacs.view.layout import Box, CellSize
from tuipacs.view.link import Level

if TYPE_CHECKING:
    from tuipacs.app.graphics.canvas import Canvas
    from tuipacs.app.widgets.image_view import ImageView


@dataclass(frozen=True)
class FrameRequest:
    """One frame to encode, with everything the encoder needs (immutable, thread-safe)."""

    seq: int
    array: np.ndarray
    aspect: float
    level: Level
    backend: str
    box: Box
    cell: CellSize
    image_id: int
    tmux: bool
    tag: object = None
    """The caller's label of the picture (the viewer's render request), given back when shown."""
    fast_link: bool = False
    """The link carries bytes faster than an encoder can squeeze them (a local terminal):
    encode for speed rather than size."""

    @property
    def preview(self) -> bool:
        """True when the frame is below full quality."""
        return self.level.preview


@dataclass(frozen=True)
class EncodedFrame:
    """The encoder's output: escape sequences (kitty, sixel) or strips (halfcell)."""

    request: FrameRequest
    data: str
    strips: list[Strip]
    encode_ms: float = 0.0
    nbytes: int = 0
    """Bytes this frame puts on the wire (escape sequences, or the strips' text)."""


class GraphicsBackend(Protocol):
    """How an ImageView shows its picture with one terminal graphics protocol."""

    name: str
    levels: tuple[Level, ...]
    """The quality levels this protocol offers, full quality first."""

    @property
    def canvas(self) -> Canvas:
        """The widget the ImageView mounts; the picture is drawn there."""
        ...

    def area(self, cols: int, rows: int) -> tuple[int, int]:
        """The cells of a ``cols`` x ``rows`` widget the picture may use."""
        ...

    def fit(self, box: Box) -> Box:
        """``box`` limited to what the protocol can show."""
        ...

    def prepare(self, request: FrameRequest) -> np.ndarray:
        """The pixels to encode for ``request`` (encoder thread)."""
        ...

    def encode(self, request: FrameRequest, pixels: np.ndarray) -> EncodedFrame:
        """Escape sequences or strips for ``pixels`` (encoder thread)."""
        ...

    def present(self, frame: EncodedFrame) -> bool:
        """Put an encoded frame on the canvas and the terminal (UI thread); False when the
        picture is written later (the backend then calls the view's ``frame_written``)."""
        ...

    def clear(self) -> None:
        """Show nothing (and free the picture in the terminal)."""
        ...

    def release(self) -> None:
        """The ImageView leaves this backend or the screen: free what the terminal holds."""
        ...

    def resume(self) -> None:
        """After a suspend (Ctrl+Z, fg) the terminal may have dropped pictures: send again."""
        ...


def encode_frame(backend: GraphicsBackend, request: FrameRequest) -> EncodedFrame:
    """Prepare and encode one frame, timed (runs on the encoder thread)."""
    start = time.perf_counter()
    frame = backend.encode(request, backend.prepare(request))
    size = len(frame.data) if frame.data else sum(strip_bytes(s) for s in frame.strips)
    return replace(frame, encode_ms=(time.perf_counter() - start) * 1000.0, nbytes=size)


def strip_bytes(strip: Strip) -> int:
    """UTF-8 bytes of a strip as Textual writes it in true colour (about, for plain strips)."""
    text = getattr(strip, "truecolor", None)
    if isinstance(text, str):
        return len(text.encode("utf-8"))
    return strip.cell_length * 3


def make_backend(name: str, view: ImageView) -> GraphicsBackend:
    """The backend called ``name`` for ``view``; GraphicsError for an unknown name."""
    from tuipacs.app.graphics.halfcell_backend import HalfcellBackend
    from tuipacs.app.graphics.kitty_backend import KittyBackend
    from tuipacs.app.graphics.sixel_backend import SixelBackend

    if name == "kitty":
        return KittyBackend(view)
    if name == "sixel":
        return SixelBackend(view)
    if name == "halfcell":
        return HalfcellBackend(view)
    raise GraphicsError(f"unknown graphics backend {name!r}: use {', '.join(BACKENDS)}")


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
