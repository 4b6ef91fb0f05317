"""The link to the terminal, measured from the answers to our own queries, and the quality of
the frames it can carry (pure: no Textual).

Each frame is followed by a query the terminal answers only once it has read every byte
before it (:mod:`tuipacs.app.graphics.flow`). The time from a frame's first byte to that
answer is one round trip plus the frame's bytes at the link's rate: :class:`LinkMeter` keeps
both figures from those samples (and from bare queries sent while idle, which measure the
round trip alone). :func:`choose_level` then picks, for a picture in motion, the best quality
level whose frame time fits the rate the reader asks for.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass

QUALITIES = ("auto", "full", "fast")
"""``auto``: full frames whenever the link carries them at the rate asked for, previews when
it cannot; ``full``: never a preview; ``fast``: a half-resolution preview while in motion."""

SMOOTH_FPS = 15.0
"""The frame rate above which motion looks smooth: a reader asking for more (a key repeating
at 30 Hz) is served at least this rate before quality is given up for more."""

SMALL_SAMPLE = 2048
"""Samples of at most this many bytes measure the round trip (their transfer is negligible)."""

REACHABLE = 1.5
"""Where the round trip alone rules out the rate asked for (one frame per round trip), a
level within this factor of the fastest level's frame time is fast enough: smaller
frames would barely be faster, only worse."""

LARGE_SAMPLE = 8192
"""Samples of at least this many bytes measure the rate."""

WINDOW = 9
"""Recent samples kept per figure (their median is the estimate)."""

FASTEST = 1e9
"""A rate beyond any link (bytes/s): a local terminal consumes frames as fast as it parses."""

FAST_RATE = 8e6
"""Bytes/s (64 Mbit/s) from which the link is taken as fast: 25 kB more per frame then cost
about 3 ms on the link, less than a size-minded encoder spends to save them."""

AUTO_IN_FLIGHT = 0
"""``frames_in_flight`` setting ``auto``: one frame in flight, and more only while the frames
beyond the first fit in what the link carries in one round trip (see
:meth:`LinkMeter.in_flight`)."""

MAX_IN_FLIGHT = 3
"""Most frames ``auto`` lets into the link at once."""


@dataclass(frozen=True)
class Level:
    """A quality level of a frame: ``scale`` divides the resolution, ``greys`` caps the grey
    levels (0: every level the protocol can show)."""

    name: str
    scale: int = 1
    greys: int = 0

    @property
    def preview(self) -> bool:
        """True for anything below full quality."""
        return self.scale > 1 or self.greys > 0


FULL = Level("full")


class LinkMeter:
    """Round trip (seconds) and rate (bytes/s) of the link, from (bytes, seconds) samples."""

    def __init__(self) -> None:
        self._rtts: deque[float] = deque(maxlen=WINDOW)
        self._rates: deque[float] = deque(maxlen=WINDOW)
        self._bound: float | None = None  # a large frame's time: the round trip is less
        self.samples = 0
        self.last_bytes = 0
        """Bytes of the last frame sample (for the status line)."""

    @property
    def rtt(self) -> float | None:
        """The round trip in seconds (None before the first answer)."""
        return statistics.median(self._rtts) if self._rtts else self._bound

    @property
    def round_trip(self) -> float:
        """The round trip measured by small samples (0.0 before the first)."""
        return statistics.median(self._rtts) if self._rtts else 0.0

    @property
    def rate(self) -> float | None:
        """Bytes per second the link carries (None before a large frame was answered)."""
        return statistics.median(self._rates) if self._rates else None

    def add(self, size: int, seconds: float) -> None:
        """One answered query: ``size`` bytes went out before it, ``seconds`` from the first
        of them to the answer (the link was empty when they started)."""
        if seconds <= 0 or size < 0:
            return
        self.samples += 1
        rate = self.rate
        if size <= SMALL_SAMPLE:
            wire = size / rate if rate else 0.0
            self._rtts.append(max(0.0, seconds - wire))
        elif not self._rtts:
            self._bound = seconds if self._bound is None else min(self._bound, seconds)
        if size >= LARGE_SAMPLE and self._rtts:
            self.last_bytes = size
            transfer = seconds - statistics.median(self._rtts)
            self._rates.append(min(FASTEST, size / transfer) if transfer > 0 else FASTEST)

    @property
    def fast(self) -> bool:
        """True where the link carries bytes faster than encoders squeeze them (FAST_RATE
        or more, a local terminal): frames are then encoded for speed, not size."""
        rate = self.rate
        return rate is not None and rate >= FAST_RATE

    def in_flight(self, size: float, most: int = MAX_IN_FLIGHT) -> int:
        """Frames of ``size`` bytes that may be in flight at once under ``auto``: the first,
        and each further one only while all beyond the first fit in one round trip's worth of
        bytes (rate x round trip). Bytes queued on the link then drain within one round trip,
        so a released key still settles within two round trips plus one frame time; on a link
        whose round trip dominates (10 Mbit/s, 50 ms) small frames no longer wait a round
        trip each. One until both figures are measured."""
        rate, rtt = self.rate, self.round_trip
        if rate is None or rtt <= 0 or size <= 0 or rate >= FASTEST / 2:
            return 1
        return max(1, min(most, 1 + int(rate * rtt // size)))

    def frame_seconds(self, size: float) -> float:
        """Predicted seconds from sending a frame of ``size`` bytes to its answer."""
        rate = self.rate or FASTEST
        return (self.rtt or 0.0) + size / rate

    def describe(self) -> str:
        """``9.6 Mbit/s · rtt 52 ms``, ``local``, or '' before any answer."""
        rtt, rate = self.rtt, self.rate
        if rtt is None:
            return ""
        if rate is None or rate >= FASTEST / 2:
            speed = "fast" if rate else "rate ?"
        else:
            speed = f"{rate * 8 / 1e6:.1f} Mbit/s"
        return f"{speed} · rtt {rtt * 1000:.0f} ms"


def target_interval(motion: float) -> float:
    """Seconds per frame to aim for when the reader asks for one every ``motion`` s."""
    return max(motion, 1.0 / SMOOTH_FPS)


def choose_level(
    quality: str,
    motion: float | None,
    levels: tuple[Level, ...],
    sizes: list[float],
    meter: LinkMeter,
    encode_seconds: list[float] | None = None,
    pipelined: bool = False,
) -> int:
    """The index in ``levels`` (best first) for the next frame.

    ``motion`` is the interval the reader asks frames at (a held key, cine, a drag), None
    for a picture at rest, which is always sent in full. ``sizes`` are the expected bytes
    per level and ``encode_seconds`` the expected encoding time; ``pipelined``: frames in
    flight are ``auto`` (:meth:`LinkMeter.in_flight`). The best level whose frame
    period fits the rate asked for (at most SMOOTH_FPS) wins; when even the smallest cannot,
    the best within REACHABLE of the smallest's period.
    """
    if motion is None or quality == "full" or len(levels) < 2:
        return 0
    if quality == "fast":
        return 1
    if meter.rtt is None:
        return 0  # nothing measured yet: assume the link carries full frames
    encode = encode_seconds or [0.0] * len(levels)
    periods = [
        frame_period(meter, size, encode[i], pipelined) for i, size in enumerate(sizes)
    ]
    budget = max(target_interval(motion), REACHABLE * min(periods))
    for index, period in enumerate(periods):
        if period <= budget:
            return index
    return len(levels) - 1


def frame_period(
    meter: LinkMeter, size: float, encode: float, pipelined: bool = False
) -> float:
    """Seconds between frames of ``size`` bytes: the encoder works on the next frame while
    the previous one is on the link, so the slower of the two sets the pace. With
    ``pipelined`` (frames in flight ``auto``), several small frames share one round trip,
    but the link's rate still bounds them."""
    one = meter.frame_seconds(size)
    if not pipelined:
        return max(encode, one)
    rate = meter.rate or FASTEST
    return max(encode, size / rate, one / meter.in_flight(size))
