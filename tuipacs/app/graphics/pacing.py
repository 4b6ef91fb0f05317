"""When an ImageView sends which frame, at what quality (the view's half of flow control).

A frame is encoded on the view's encoder thread, then waits for a slot of the app's
:class:`~tuipacs.app.graphics.flow.FrameGate`. While one waits, newer pictures are only
noted; when the slot frees, the newest picture is encoded if the waiting one is out of date,
so the frame that goes out is the newest state at that moment, never a backlog.

The quality of each frame comes from :func:`tuipacs.view.link.choose_level`: a picture at
rest is sent in full; in motion (the caller says at what interval frames are asked for, or
``show`` calls come in a burst) the best level the link carries at that rate, and the full
frame once the motion stops.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from textual.timer import Timer

from tuipacs.app.graphics.backend import EncodedFrame, FrameRequest
from tuipacs.view.link import Level, choose_level

if TYPE_CHECKING:
    from tuipacs.app.widgets.image_view import ImageView

REST_MIN = 0.15
"""Seconds without a new picture after which motion has stopped (at least)."""
REST_MAX = 0.5
"""... and at most, however slowly the pictures came."""
SMOOTHING = 0.3
"""Weight of the newest figure in the running averages of frame sizes and encode times."""


class Pacer:
    """The encode-and-send loop of one ImageView."""

    def __init__(self, view: ImageView, quality: str, auto_motion: bool) -> None:
        self.view = view
        self.quality = quality
        self.auto_motion = auto_motion
        self.motion: float | None = None
        """The interval (s) frames are asked for while in motion; None at rest."""
        self.force_preview = False
        self.ready: EncodedFrame | None = None
        """An encoded frame waiting for a slot of the gate."""
        self.target = 0
        """Encoded frames older than this request number are not sent (a newer one comes)."""
        self.dirty = False
        """A new picture arrived while ``ready`` waited: encode it when the slot frees."""
        self.submitted = 0
        self.submitted_preview = False
        self.preview_level: Level | None = None
        """The level of the last preview asked for (the newest state goes out at it when the
        motion stops while a preview was on its way, the full frame right after)."""
        self.refine = False
        """The motion stopped while a preview was on its way: send the full frame after it."""
        self.consumed: FrameRequest | None = None
        """The newest frame the terminal has read (what the reader sees; over a slow link
        the view's ``last_shown`` may still be on its way)."""
        self._last_show = 0.0
        self._rest: Timer | None = None
        self._sizes: dict[Level, float] = {}
        self._encode: dict[Level, float] = {}

    # -- pictures in -------------------------------------------------------------------------

    def shown(self, motion: float | None, preview: bool) -> None:
        """A new picture: note the motion, then encode it now or when the slot frees."""
        now = time.monotonic()
        gap = now - self._last_show
        self._last_show = now
        if motion is None and self.auto_motion and gap < REST_MIN:
            motion = gap
        self.motion = motion
        self.force_preview = preview
        self.refine = False
        if motion is not None or preview:
            self._arm_rest(motion or REST_MIN)
        self.request()

    def request(self) -> None:
        """Encode the latest picture, unless an encoded one waits for the gate already."""
        if self.ready is not None and not self.view.gate.free:
            self.dirty = True
            return
        self.submit()

    def submit(self, full: bool = False, level: Level | None = None) -> int:
        """Queue the latest picture for encoding at ``level`` (by default the one for the
        link; ``full``: full quality); its number."""
        if level is None:
            level = self.view.graphics.levels[0] if full else self.level()
        self.submitted = self.view.submit_frame(level)
        self.submitted_preview = level.preview
        if level.preview:
            self.preview_level = level
        self.dirty = False
        return self.submitted

    def level(self) -> Level:
        """The quality level of the next frame."""
        levels = self.view.graphics.levels
        if self.force_preview and len(levels) > 1:
            return levels[1]
        sizes = [self.expected_size(level) for level in levels]
        encode = [self._encode.get(level, 0.0) for level in levels]
        gate = self.view.gate
        pipelined = gate.auto
        return levels[
            choose_level(self.quality, self.motion, levels, sizes, gate.meter, encode, pipelined)
        ]

    def expected_size(self, level: Level) -> float:
        """Bytes a frame of ``level`` is expected to take (from the frames sent so far)."""
        if level in self._sizes:
            return self._sizes[level]
        known = [(size, lvl) for lvl, size in self._sizes.items()]
        if not known:
            return 0.0
        size, other = known[0]
        return size * (other.scale / level.scale) ** 2

    # -- frames out --------------------------------------------------------------------------

    def encoded(self, frame: EncodedFrame) -> None:
        """An encoded frame: keep its figures, send it when the gate lets it."""
        level = frame.request.level
        self._sizes[level] = _average(self._sizes.get(level), float(frame.nbytes))
        self._encode[level] = _average(self._encode.get(level), frame.encode_ms / 1000.0)
        if self.ready is None or frame.request.seq > self.ready.request.seq:
            self.ready = frame
        self.try_send()

    def try_send(self) -> None:
        """Send the waiting frame if it is recent enough and the gate has a slot."""
        frame = self.ready
        if frame is None or frame.request.seq < self.target:
            return
        if not self.view.gate.acquire(self.view, self.slot_free):
            return
        self.ready = None
        self.view.present_frame(frame)
        if self.refine and frame.request.seq >= self.submitted:
            self.refine = False  # the newest state is out as a preview: now in full
            self.target = self.submit(full=True)

    def written(self, request: FrameRequest | None) -> None:
        """The frame of ``request`` was written: ask the gate to note when it is read."""
        self.view.gate.written(self.view, lambda: self._consumed(request))

    def _consumed(self, request: FrameRequest | None) -> None:
        """The terminal has read the frame of ``request``."""
        if request is not None and (self.consumed is None or request.seq > self.consumed.seq):
            self.consumed = request

    def slot_free(self) -> None:
        """The gate has a slot: send the waiting frame, or encode the newest picture first
        when the waiting one is out of date (at the preview's level when the motion has just
        stopped: the newest state first, quickly, then in full)."""
        if self.dirty:
            self.ready = None
            self.target = self.submit(level=self.preview_level if self.refine else None)
            return
        self.try_send()

    def clear(self) -> None:
        """Forget what waits (the picture was cleared)."""
        self.ready = None
        self.dirty = False
        self._stop_rest()
        self.view.gate.cancel(self.view)

    # -- motion ------------------------------------------------------------------------------

    def _arm_rest(self, motion: float) -> None:
        """(Re)arm the timer that ends the motion when no picture follows."""
        self._stop_rest()
        delay = min(REST_MAX, max(REST_MIN, 2.5 * motion))
        self._rest = self.view.set_timer(delay, self._rested)

    def _stop_rest(self) -> None:
        if self._rest is not None:
            self._rest.stop()
            self._rest = None

    def _rested(self) -> None:
        """Motion stopped: the full frame follows (after the preview of the newest state when
        one is on its way), unless the last frame asked for is full already."""
        self._rest = None
        self.motion = None
        self.force_preview = False
        if not self.submitted_preview:
            return
        shown = self.view.last_shown
        if self.ready is None and shown is not None and shown.seq >= self.submitted:
            self.target = self.submit(full=True)  # the newest preview is on screen
            return
        self.refine = True


def _average(old: float | None, new: float) -> float:
    """Running average with weight SMOOTHING on ``new``."""
    return new if old is None else old + SMOOTHING * (new - old)
