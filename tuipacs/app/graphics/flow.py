"""Flow control toward the terminal: never queue frames on the wire.

Bytes written to the terminal cannot be taken back: over SSH they wait in the channel and
TCP buffers, and a held key that out-runs the link keeps the picture moving long after it is
released. So every picture (a Kitty transmission, a Sixel, half-cell strips) goes through
one :class:`FrameGate` per app: at most ``limit`` frames are in flight, and after each frame,
once Textual has written its screen update too, the gate writes a cursor position query
(``CSI 6 n``). A terminal answers it only after it has parsed every byte before it, so the
answer proves the frame was consumed; the next frame then shows the
newest state, and the answer's timing measures the link (:class:`~tuipacs.view.link.LinkMeter`).
The default limit, ``auto``, is one frame, and a further one only while the frames beyond the
first fit in what the link carries in one round trip (:meth:`LinkMeter.in_flight`): where the
round trip, not the rate, holds the frame rate down (10 Mbit/s, 50 ms), small frames share a
round trip, and what waits on the link still drains within one round trip.

The answer arrives as Textual's ``CursorPosition`` event: :class:`FlowApp` hands it to the
gate. Inside tmux the query is wrapped for passthrough (``allow-passthrough on``), so the
outer terminal answers, not tmux (which answers a plain query itself as soon as it has the
bytes, whatever it still has to send on); without passthrough the wrapped query is dropped,
and after two unanswered ones the gate asks tmux instead, which then only proves tmux holds
the frame. A terminal that answers nothing opens the gate after a timeout each time (no
flow control, as before), and after GIVE_UP such timeouts without any answer frames go out
without waiting. Headless apps (tests) answer at once.
"""

from __future__ import annotations

import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from textual import events
from textual.app import App

from tuipacs.app.graphics import terminal
from tuipacs.view.graphics.kitty import tmux_wrap
from tuipacs.view.link import AUTO_IN_FLIGHT, LinkMeter

QUERY = "\x1b[6n"
"""Cursor position report: every terminal since the VT100 answers it, and Textual parses
the answer (a DA1 answer would reach the app as keystrokes)."""

PROBE_EVERY = 2.0
"""While idle, a bare query measures the round trip at most this often (seconds)."""

MIN_TIMEOUT = 2.0
"""Seconds to wait for an answer before the gate opens anyway (more for big frames)."""

TMUX_FALLBACK = 2
"""Unanswered passthrough queries after which tmux itself is asked."""

GIVE_UP = 3
"""Unanswered queries (and never an answer) after which the terminal is taken not to answer
at all: frames then go out without waiting, as before flow control."""


@dataclass
class _Query:
    """A query on the wire: when it was written, what it covers."""

    sent: float
    start: float
    size: int
    frame: bool
    done: Callable[[], None] | None = None
    """Called once the terminal has consumed the frame (or the wait for it timed out)."""
    expired: bool = False


class FrameGate:
    """At most ``limit`` frames in flight to the terminal of ``app``; measures the link."""

    def __init__(self, app: App[object], limit: int = AUTO_IN_FLIGHT, tmux: bool = False) -> None:
        self.app = app
        self.auto = limit == AUTO_IN_FLIGHT
        """The limit follows the link (see :meth:`LinkMeter.in_flight`)."""
        self.limit = max(1, limit)
        self.tmux = tmux
        self.meter = LinkMeter()
        self.frames = 0
        """Frames written and not yet answered for."""
        self.answers = 0
        self.timeouts = 0
        self.ask_tmux = False
        """True once passthrough queries went unanswered inside tmux."""
        self._queries: deque[_Query] = deque()
        self._waiting: dict[object, Callable[[], None]] = {}
        self._unsent = 0  # frames written whose query is not written yet
        self._last_frame = 0  # bytes of the last frame (for the auto limit)
        self._bytes = 0
        self._first: float | None = None
        self._last_answer: float | None = None
        self._last_probe = 0.0
        self._idle_timer: object | None = None
        terminal.count_writes(app, self._counted)

    @property
    def headless(self) -> bool:
        """No terminal to answer (or one that never does): frames count as consumed at
        once."""
        if not self.answers and self.timeouts >= GIVE_UP + (TMUX_FALLBACK if self.tmux else 0):
            return True
        if not isinstance(self.app, FlowApp):
            return True  # the answers would never reach the gate (another app's ImageView)
        return self.app.is_headless or terminal.driver(self.app) is None

    @property
    def free(self) -> bool:
        """True when another frame may be written now."""
        return self.frames < self.current_limit

    @property
    def current_limit(self) -> int:
        """Frames that may be in flight now: the fixed limit, or under ``auto`` as many
        frames the size of the last one as the link allows."""
        if not self.auto:
            return self.limit
        return self.meter.in_flight(self._last_frame)

    def acquire(self, owner: object, retry: Callable[[], None]) -> bool:
        """Take a slot for one frame of ``owner``; when none is free, ``retry`` is called
        once one frees (the latest ``retry`` of each owner, in the order owners asked)."""
        if self.free:
            self._waiting.pop(owner, None)
            self.frames += 1
            # the frame's sample starts here: the text written since the last query went out
            # while the link idled (it is small), and would only blur the frame's timing
            self._bytes, self._first = 0, None
            return True
        self._waiting[owner] = retry
        return False

    def cancel(self, owner: object) -> None:
        """``owner`` no longer waits for a slot (it left the screen)."""
        self._waiting.pop(owner, None)

    def release(self) -> None:
        """Give back a slot taken with :meth:`acquire` that wrote nothing."""
        self.frames = max(0, self.frames - 1)
        self._wake()

    def written(self, widget: object, done: Callable[[], None] | None = None) -> None:
        """A frame was written (or Textual will write it with its next update): query the
        terminal once that update is out too; ``done`` is called when the terminal has
        consumed it."""
        self._unsent += 1
        call_after_refresh = getattr(widget, "call_after_refresh", None)
        if callable(call_after_refresh) and call_after_refresh(lambda: self._after_frame(done)):
            return
        self._after_frame(done)

    def _after_frame(self, done: Callable[[], None] | None) -> None:
        """Textual's update for the frame is written: ask the terminal."""
        self._unsent = max(0, self._unsent - 1)
        if self.headless:
            self.frames = max(0, self.frames - 1)
            self._bytes, self._first = 0, None
            if done is not None:
                done()
            self._wake()
            return
        self._query(frame=True, done=done)

    def probe(self) -> None:
        """While idle, measure the round trip with a bare query (at most every few s)."""
        now = time.monotonic()
        if self.headless or self._queries or self._unsent or now - self._last_probe < PROBE_EVERY:
            return
        self._last_probe = now
        self._query(frame=False)

    def _query(self, frame: bool, done: Callable[[], None] | None = None) -> None:
        """Write a query after what was written so far (``frame``: it covers a frame)."""
        now = time.monotonic()
        start = self._first if self._first is not None else now
        query = _Query(now, start, self._bytes, frame, done)
        if frame:
            self._last_frame = self._bytes
        self._bytes, self._first = 0, None
        self._queries.append(query)
        wrapped = tmux_wrap(QUERY) if self.tmux and not self.ask_tmux else QUERY
        terminal.write_raw(self.app, wrapped)
        timeout = MIN_TIMEOUT + 4 * self.meter.frame_seconds(query.size)
        self.app.set_timer(timeout, lambda: self._expire(query))

    def _counted(self, size: int) -> None:
        """Textual's driver wrote ``size`` bytes (on the UI thread)."""
        if self._first is None:
            self._first = time.monotonic()
        self._bytes += size

    def answered(self, when: float) -> None:
        """The terminal answered the oldest query on the wire (at ``when``, monotonic)."""
        if not self._queries:
            return  # an answer to someone else's query (Textual's, a late duplicate)
        query = self._queries.popleft()
        self.answers += 1
        free = self._link_free(query)
        self._last_answer = when
        if query.expired:
            return  # its slot was given back when it timed out
        self.meter.add(query.size, when - free)
        if query.done is not None:
            query.done()
        if query.frame:
            self.frames = max(0, self.frames - 1)
            self._wake()

    def _link_free(self, query: _Query) -> float:
        """When the link began to carry the bytes of ``query``: their first write (the frame's:
        see :meth:`acquire`), or, when they waited behind the previous query's bytes, when
        those had left (one round trip before that query's answer: the link is first in,
        first out); for a bare query, when it was sent."""
        if not query.frame:
            return query.sent  # a bare query: the little text before it has gone out
        start = min(query.start, query.sent)
        if self._last_answer is None:
            return start
        return max(start, self._last_answer - self.meter.round_trip)

    def _expire(self, query: _Query) -> None:
        """No answer in time: open the gate anyway (the terminal may not answer at all)."""
        if query.expired or query not in self._queries:
            return
        query.expired = True
        self.timeouts += 1
        if query.done is not None:
            query.done()
        if self.tmux and not self.ask_tmux and self.timeouts >= TMUX_FALLBACK:
            self.ask_tmux = True
        if query.frame:
            self.frames = max(0, self.frames - 1)
            self._wake()

    def _wake(self) -> None:
        """A slot is free: let the owner that waited longest try again (or probe)."""
        while self._waiting and self.free:
            owner = next(iter(self._waiting))
            retry = self._waiting.pop(owner)
            before = self.frames
            retry()
            if self.frames == before:
                continue  # it had nothing to send: the next owner may
        if not self._waiting and not self.frames:
            self.probe()

    def describe(self) -> str:
        """The link figures for a status line ('' before any answer)."""
        text = self.meter.describe()
        if self.tmux and self.ask_tmux and text:
            text += " (to tmux)"
        elif self.timeouts and not self.answers:
            text = "terminal does not answer: no flow control"
        return text


_GATES: weakref.WeakKeyDictionary[App[object], FrameGate] = weakref.WeakKeyDictionary()


def gate_of(app: App[object], limit: int = AUTO_IN_FLIGHT, tmux: bool = False) -> FrameGate:
    """The frame gate of ``app`` (made on first use with ``limit`` frames in flight, 0 for
    ``auto``)."""
    gate = _GATES.get(app)
    if gate is None:
        gate = _GATES[app] = FrameGate(app, limit, tmux)
    return gate


class FlowApp:
    """Mixin for an App whose ImageViews use flow control: routes the terminal's answers
    (Textual's ``CursorPosition`` events) to the app's frame gate."""

    def on_cursor_position(self, event: events.CursorPosition) -> None:
        """The answer to a frame gate query."""
        gate = _GATES.get(self)  # type: ignore[call-overload]
        if gate is not None:
            gate.answered(event.time)
