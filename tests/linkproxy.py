"""A slow link between a program and a terminal, for tests and benchmarks (not a test module).

:class:`LinkedApp` runs a program on a pty behind a proxy thread that models an SSH link:
output (program -> terminal) is serialised at ``rate_bps`` bits/s through a bounded send
buffer (the SSH channel window plus TCP buffers: when it is full the proxy stops reading the
pty, so the program's writes block), then delayed by ``delay`` seconds; input (terminal ->
program) is delayed by ``delay`` only. The round trip is ``2 * delay``.

The test is the terminal: it answers the queries a terminal answers (cursor position, DA1,
the Kitty graphics query, XTVERSION, cell size, DEC mode reports) when their bytes are
delivered, through the delayed input path, so an answer proves the terminal has read every
byte before the query, as a real terminal's does. Every delivered byte is kept with its
delivery time, so tests can ask when a text or an image reached the terminal.

Nothing here sleeps to make a test pass: waits poll for a condition with a hang bound.
"""

from __future__ import annotations

import base64
import bisect
import fcntl
import heapq
import io
import os
import re
import select
import signal
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

CURSOR_QUERY = re.compile(rb"\x1b\[6n")
DA1_QUERY = re.compile(rb"\x1b\[0?c")
KITTY_QUERY = re.compile(rb"\x1b_G([^;\x1b]*a=q[^;\x1b]*);[^\x1b]*\x1b\\")
XTVERSION_QUERY = re.compile(rb"\x1b\[>0?q")
CELL_QUERY = re.compile(rb"\x1b\[16t")
MODE_QUERY = re.compile(rb"\x1b\[\?(\d+)\$p")
QUERIES = re.compile(
    rb"\x1b\[6n|\x1b\[0?c|\x1b_G[^;\x1b]*a=q[^;\x1b]*;[^\x1b]*\x1b\\|\x1b\[>0?q|\x1b\[16t"
    rb"|\x1b\[\?\d+\$p"
)
KITTY_START = re.compile(rb"\x1b_Ga=T,[^;]*")
KITTY_LAST = re.compile(rb"\x1b_G(?:[^;\x1b]*,)?m=0;([^\x1b]*)\x1b\\")
KITTY_CHUNK = re.compile(rb"\x1b_G[^;\x1b]*;([^\x1b]*)\x1b\\")
SIXEL = re.compile(rb"\x1bP[0-9;]*q\"1;1;(\d+);(\d+)(.*?)\x1b\\", re.DOTALL)
SIXEL_REGISTER = re.compile(rb"#(\d+);2;(\d+);(\d+);(\d+)")
IMAGE_INDEX = re.compile(rb"Im: (\d+)/(\d+)")
OVERLAP = 256
"""Bytes at the end of the delivered stream scanned again (a query may be cut in two)."""


@dataclass(frozen=True)
class Link:
    """The modelled link: ``rate_bps`` bits/s (None: unlimited), ``delay`` s each way."""

    rate_bps: float | None = None
    delay: float = 0.0
    buffer: int = 2_000_000

    @property
    def rtt(self) -> float:
        """The round trip in seconds."""
        return 2 * self.delay

    def seconds(self, size: int) -> float:
        """Seconds ``size`` bytes take on the wire."""
        return 0.0 if self.rate_bps is None else size * 8.0 / self.rate_bps

    def label(self) -> str:
        """``2 Mbit/s, 100 ms`` or ``local``."""
        if self.rate_bps is None and not self.delay:
            return "local"
        rate = "unlimited" if self.rate_bps is None else f"{self.rate_bps / 1e6:g} Mbit/s"
        return f"{rate}, {self.rtt * 1000:.0f} ms"


@dataclass(frozen=True)
class Terminal:
    """What the emulated terminal says it is."""

    kitty: bool = True
    sixel: bool = False
    cell: tuple[int, int] = (10, 20)
    name: str = "kitty(0.42.2)"
    answers: bool = True
    """False: a terminal (or a multiplexer) that answers no query at all."""

    def answer(self, query: bytes) -> bytes:
        """The reply to one query."""
        if not self.answers:
            return b""
        if CURSOR_QUERY.fullmatch(query):
            return b"\x1b[1;1R"
        if DA1_QUERY.fullmatch(query):
            return b"\x1b[?62;4;22c" if self.sixel else b"\x1b[?62;22c"
        kitty = KITTY_QUERY.fullmatch(query)
        if kitty:
            if not self.kitty:
                return b""
            ident = re.search(rb"i=(\d+)", kitty.group(1))
            return b"\x1b_Gi=" + (ident.group(1) if ident else b"0") + b";OK\x1b\\"
        if XTVERSION_QUERY.fullmatch(query):
            return b"\x1bP>|" + self.name.encode() + b"\x1b\\"
        if CELL_QUERY.fullmatch(query):
            return b"\x1b[6;%d;%dt" % (self.cell[1], self.cell[0])
        mode = MODE_QUERY.fullmatch(query)
        if mode:
            supported = mode.group(1) == b"2026"
            return b"\x1b[?" + mode.group(1) + (b";2$y" if supported else b";0$y")
        return b""


@dataclass(frozen=True)
class Delivered:
    """Something found in the delivered stream: where it ends and when that byte arrived."""

    time: float
    start: int
    end: int
    value: object = None


@dataclass
class _Queues:
    """The proxy's pending deliveries (both directions), ordered by due time."""

    out: list[tuple[float, int, bytes]] = field(default_factory=list)
    into: list[tuple[float, int, bytes]] = field(default_factory=list)
    seq: int = 0


class LinkedApp:
    """``argv`` on a pty of ``size`` (cols, rows, x px, y px) behind a modelled ``link``."""

    def __init__(
        self,
        argv: Sequence[str],
        link: Link,
        *,
        env: dict[str, str] | None = None,
        terminal: Terminal | None = None,
        size: tuple[int, int, int, int] = (160, 50, 1600, 1000),
    ) -> None:
        self.link = link
        self.terminal = terminal or Terminal()
        self.master, slave = os.openpty()
        cols, rows, xpx, ypx = size
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, xpx, ypx))
        self.proc = subprocess.Popen(
            list(argv),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        os.set_blocking(self.master, False)
        self.stream = bytearray()
        """Every byte delivered to the terminal, in order."""
        self.arrivals: list[tuple[int, float]] = []
        """(end offset, delivery time) per delivered piece, in order."""
        self.keys: list[tuple[float, bytes]] = []
        """(time the terminal sent it, bytes) per key press."""
        self.answers: list[tuple[float, bytes]] = []
        self._queues = _Queues()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._wake_r, self._wake_w = os.pipe()
        self._queued = 0
        self._link_free = 0.0
        self._scanned = 0
        self._stop = False
        self._done = False
        self._thread = threading.Thread(target=self._run, name="linkproxy", daemon=True)
        self._thread.start()

    # -- the terminal's side ------------------------------------------------------------------

    def press(self, data: bytes) -> float:
        """Send ``data`` as typed now; returns the time it left the terminal."""
        now = time.monotonic()
        with self._lock:
            self.keys.append((now, data))
            self._send_input(now, data)
        return now

    def hold(self, key: bytes, seconds: float, rate: float = 30.0) -> tuple[float, float, int]:
        """Repeat ``key`` at ``rate`` Hz for ``seconds`` (a held key); (first, last, count)."""
        first = last = time.monotonic()
        count = 0
        end = first + seconds
        while True:
            last = self.press(key)
            count += 1
            due = first + count / rate
            if due >= end:
                return first, last, count
            time.sleep(max(0.0, due - time.monotonic()))  # the key repeat's own clock

    def wait_for(
        self, found: Callable[[bytes], object], timeout: float, what: str = "output"
    ) -> object:
        """Wait until ``found(stream)`` is truthy (checked after each delivery, outside the
        proxy's lock so a slow check never stalls the link); returns its value."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                data = bytes(self.stream)
                seen = len(self.arrivals)
            value = found(data)
            if value:
                return value
            remaining = deadline - time.monotonic()
            with self._changed:
                if remaining <= 0 or self._done:
                    tail = bytes(self.stream[-400:])
                    raise AssertionError(f"gave up waiting for {what}; output ends {tail!r}")
                if len(self.arrivals) == seen:
                    self._changed.wait(min(remaining, 0.5))

    def wait_quiet(self, quiet: float, timeout: float) -> float:
        """Wait until nothing was delivered for ``quiet`` s and nothing is queued on the link;
        returns the time of the last delivery."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                last = self.arrivals[-1][1] if self.arrivals else 0.0
                busy = self._queued > 0
            now = time.monotonic()
            if not busy and now - last >= quiet:
                return last
            if now > deadline:
                raise AssertionError(f"the link never went quiet for {quiet} s")
            time.sleep(0.02)  # polling the proxy's counters, not waiting for the app

    def time_of(self, offset: int) -> float:
        """When the byte at ``offset`` (exclusive end) reached the terminal."""
        with self._lock:
            ends = [end for end, _ in self.arrivals]
            index = bisect.bisect_left(ends, offset)
            return self.arrivals[min(index, len(self.arrivals) - 1)][1]

    def close(self) -> None:
        """Stop the program (SIGTERM to its PID, then SIGKILL) and the proxy."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._stop = True
        os.write(self._wake_w, b"x")
        self._thread.join(5)
        for fd in (self.master, self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    # -- what arrived -------------------------------------------------------------------------

    def image_indexes(self, start: int = 0) -> list[Delivered]:
        """Each ``Im: n/N`` overlay text delivered after ``start``, with n."""
        data = bytes(self.stream)
        return [
            Delivered(self.time_of(m.end()), m.start(), m.end(), int(m.group(1)))
            for m in IMAGE_INDEX.finditer(data, start)
        ]

    def kitty_count(self, start: int = 0) -> int:
        """Kitty transmissions completed after ``start`` (cheap: nothing decoded)."""
        with self._lock:
            data = bytes(self.stream[start:])
        return len(KITTY_LAST.findall(data))

    def kitty_images(self, start: int = 0) -> list[Delivered]:
        """Each Kitty transmission delivered after ``start``, with its PNG's (width, height)."""
        data = bytes(self.stream)
        found = []
        for head in KITTY_START.finditer(data, start):
            last = KITTY_LAST.search(data, head.start())
            if last is None:
                break
            chunks = KITTY_CHUNK.findall(data, head.start(), last.end())
            png = base64.b64decode(b"".join(chunks))
            width, height = struct.unpack(">II", png[16:24]) if png[:4] == b"\x89PNG" else (0, 0)
            found.append(
                Delivered(self.time_of(last.end()), head.start(), last.end(), (width, height))
            )
        return found

    def sixel_images(self, start: int = 0) -> list[Delivered]:
        """Each Sixel picture delivered after ``start``, with (width, height, registers)."""
        data = bytes(self.stream)
        found = []
        for m in SIXEL.finditer(data, start):
            registers = len(SIXEL_REGISTER.findall(m.group(3)))
            value = (int(m.group(1)), int(m.group(2)), registers)
            found.append(Delivered(self.time_of(m.end()), m.start(), m.end(), value))
        return found

    # -- the proxy thread ---------------------------------------------------------------------

    def _send_input(self, now: float, data: bytes) -> None:
        """Queue ``data`` toward the program (lock held)."""
        self._queues.seq += 1
        heapq.heappush(self._queues.into, (now + self.link.delay, self._queues.seq, data))
        os.write(self._wake_w, b"x")

    def _answer_queries(self, now: float) -> None:
        """Answer the queries delivered since the last scan (lock held)."""
        data = bytes(self.stream[self._scanned :])
        end = 0
        for m in QUERIES.finditer(data):
            reply = self.terminal.answer(m.group(0))
            if reply:
                self.answers.append((now, reply))
                self._send_input(now, reply)
            end = m.end()
        self._scanned += max(end, len(data) - OVERLAP, 0)

    def _deliver(self, now: float) -> None:
        """Hand over everything due (both directions)."""
        queues = self._queues
        with self._lock:
            delivered = False
            while queues.out and queues.out[0][0] <= now:
                _, _, data = heapq.heappop(queues.out)
                self.stream += data
                self._queued -= len(data)
                self.arrivals.append((len(self.stream), now))
                delivered = True
            if delivered:
                self._answer_queries(now)
                self._changed.notify_all()
            while queues.into and queues.into[0][0] <= now:
                _, _, data = heapq.heappop(queues.into)
                try:
                    os.write(self.master, data)
                except OSError:
                    pass

    def _read_program(self, now: float) -> bool:
        """Read what the program wrote and put it on the link; False at its end."""
        room = self.link.buffer - self._queued
        try:
            data = os.read(self.master, max(1, min(16384, room)))
        except BlockingIOError:
            return True
        except OSError:
            return False
        if not data:
            return False
        with self._lock:
            for at in range(0, len(data), 4096):
                piece = data[at : at + 4096]
                start = max(now, self._link_free)
                self._link_free = start + self.link.seconds(len(piece))
                self._queues.seq += 1
                due = self._link_free + self.link.delay
                heapq.heappush(self._queues.out, (due, self._queues.seq, piece))
                self._queued += len(piece)
        return True

    def _run(self) -> None:
        reading = True
        while not self._stop:
            now = time.monotonic()
            self._deliver(now)
            with self._lock:
                due = [q[0][0] for q in (self._queues.out, self._queues.into) if q]
                room = self._queued < self.link.buffer
            watch = [self._wake_r] + ([self.master] if reading and room else [])
            timeout = max(0.0, min(due) - now) if due else 0.2
            try:
                ready, _, _ = select.select(watch, [], [], min(timeout, 0.2))
            except (OSError, ValueError):
                break
            if self._wake_r in ready:
                os.read(self._wake_r, 4096)
            if self.master in ready:
                reading = self._read_program(time.monotonic())
            if not reading and not due:
                with self._lock:
                    self._done = True
                    self._changed.notify_all()
        with self._lock:
            self._done = True
            self._changed.notify_all()


def png_size(payload: bytes) -> tuple[int, int]:
    """(width, height) of a PNG."""
    from PIL import Image

    with Image.open(io.BytesIO(payload)) as image:
        return image.size
