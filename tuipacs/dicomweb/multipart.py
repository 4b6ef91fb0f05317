"""A streaming reader of ``multipart/related`` answers (WADO-RS): each part to a file.

The answer is fed a chunk at a time; each part's body goes straight to a file opened by
the caller, so a study is never held in memory (at most one chunk and a boundary's length
are). Everything is bounded: the preamble, each part's headers, each part's size. A part is
handed over only once its closing boundary has arrived and its size matches its
Content-Length (when it gives one); an answer that ends in the middle of a part, or with
no closing boundary, is :class:`MultipartError` and the unfinished part is thrown away.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import BinaryIO, Protocol

#: Largest preamble before the first boundary, and largest header block of a part.
MAX_PREAMBLE = 64 * 1024
MAX_HEADERS = 16 * 1024
#: A boundary: 1-70 characters of RFC 2046's set (a bare token, or quoted).
_BOUNDARY_RE = re.compile(r"^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$")
_PARAM_RE = re.compile(r';\s*([A-Za-z-]+)\s*=\s*("[^"]*"|[^;\s]*)')


class MultipartError(Exception):
    """The answer is not a well-formed multipart/related message; one line."""


class PartSink(Protocol):
    """Where parts go: ``open`` a file for a part's headers, ``done`` or ``drop`` it."""

    def open(self, headers: dict[str, str]) -> BinaryIO:
        """A file (open for writing) for the part with ``headers`` (names lower case)."""
        ...

    def done(self, handle: BinaryIO, size: int) -> None:
        """The part written to ``handle`` is complete (``size`` bytes); close it."""
        ...

    def drop(self, handle: BinaryIO) -> None:
        """The part written to ``handle`` is incomplete: close and remove it."""
        ...


def boundary_of(content_type: str) -> str:
    """The boundary of a ``multipart/related`` Content-Type, else MultipartError."""
    kind = content_type.split(";")[0].strip().lower()
    if kind != "multipart/related":
        raise MultipartError(f"the answer is {kind[:60]!r}, not multipart/related")
    params = {k.lower(): v.strip('"') for k, v in _PARAM_RE.findall(content_type)}
    boundary = params.get("boundary", "")
    if not _BOUNDARY_RE.match(boundary):
        raise MultipartError("the answer's multipart boundary is missing or invalid")
    return boundary


class MultipartReader:
    """Feed the answer's bytes with :meth:`feed`, then call :meth:`finish`."""

    def __init__(self, boundary: str, sink: PartSink, max_part: int,
                 check: Callable[[dict[str, str]], None] | None = None) -> None:  # fmt: skip
        """Parts go to ``sink``; a part over ``max_part`` bytes is MultipartError; ``check``
        may refuse a part by its headers (raising MultipartError)."""
        self.first = b"--" + boundary.encode("ascii")
        self.marker = b"\r\n" + self.first
        self.sink = sink
        self.max_part = max_part
        self.check = check
        self.state = "preamble"
        self.buffer = b""
        self.handle: BinaryIO | None = None
        self.size = 0
        self.expected: int | None = None
        self.parts = 0

    def feed(self, data: bytes) -> None:
        """Take the next bytes of the answer."""
        self.buffer += data
        while self._step():
            pass

    def finish(self) -> int:
        """The answer ended: the number of parts, or MultipartError if it was cut short."""
        if self.state != "done":
            self.abort()
            if self.parts == 0 and self.state == "preamble":
                raise MultipartError("the answer holds no multipart boundary")
            raise MultipartError("the answer ended in the middle of an instance (cut short)")
        return self.parts

    def abort(self) -> None:
        """Throw away the part being written, if any."""
        if self.handle is not None:
            handle, self.handle = self.handle, None
            self.sink.drop(handle)

    def _step(self) -> bool:
        """Advance through the buffer; False when more bytes are needed."""
        if self.state == "preamble":
            return self._preamble()
        if self.state == "after":
            return self._after_boundary()
        if self.state == "headers":
            return self._headers()
        if self.state == "body":
            return self._body()
        return False  # done: an epilogue is ignored

    def _preamble(self) -> bool:
        at = self.buffer.find(self.first)
        if at < 0:
            if len(self.buffer) > MAX_PREAMBLE:
                raise MultipartError("no multipart boundary in the answer's first 64 KiB")
            return False
        if at > 0 and self.buffer[at - 2 : at] != b"\r\n":
            raise MultipartError("the multipart boundary is not at the start of a line")
        self.buffer = self.buffer[at + len(self.first) :]
        self.state = "after"
        return True

    def _after_boundary(self) -> bool:
        if len(self.buffer) < 2:
            return False
        if self.buffer.startswith(b"--"):
            self.state, self.buffer = "done", b""
            return False
        end = self.buffer.find(b"\r\n")
        if end < 0:
            if len(self.buffer) > 1024:
                raise MultipartError("a multipart boundary line is too long")
            return False
        if self.buffer[:end].strip(b" \t"):
            raise MultipartError("a multipart boundary is followed by other text")
        self.buffer = self.buffer[end + 2 :]
        self.state = "headers"
        return True

    def _headers(self) -> bool:
        if self.buffer.startswith(b"\r\n"):
            block, rest = b"", self.buffer[2:]
        else:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEADERS:
                    raise MultipartError("a part's headers are larger than 16 KiB")
                return False
            block, rest = self.buffer[:end], self.buffer[end + 4 :]
        if len(block) > MAX_HEADERS:
            raise MultipartError("a part's headers are larger than 16 KiB")
        headers: dict[str, str] = {}
        for line in block.decode("latin-1").split("\r\n"):
            name, sep, value = line.partition(":")
            if not sep or not name.strip():
                raise MultipartError("a part has a malformed header line")
            headers[name.strip().lower()] = value.strip()
        self.expected = _length(headers.get("content-length"))
        if self.expected is not None and self.expected > self.max_part:
            raise MultipartError(f"a part of {self.expected} bytes is larger than allowed")
        if self.check is not None:
            self.check(headers)
        self.buffer = rest
        self.handle = self.sink.open(headers)
        self.size = 0
        self.state = "body"
        return True

    def _body(self) -> bool:
        assert self.handle is not None
        at = self.buffer.find(self.marker)
        if at < 0:
            keep = len(self.marker) - 1
            if len(self.buffer) > keep:
                self._write(self.buffer[: len(self.buffer) - keep])
                self.buffer = self.buffer[len(self.buffer) - keep :]
            return False
        self._write(self.buffer[:at])
        self.buffer = self.buffer[at + len(self.marker) :]
        if self.expected is not None and self.size != self.expected:
            raise MultipartError(
                f"a part holds {self.size} bytes where its Content-Length says {self.expected}"
            )
        handle, self.handle = self.handle, None
        self.sink.done(handle, self.size)
        self.parts += 1
        self.state = "after"
        return True

    def _write(self, data: bytes) -> None:
        if not data:
            return
        self.size += len(data)
        if self.size > self.max_part:
            raise MultipartError("a part is larger than allowed")
        assert self.handle is not None
        self.handle.write(data)


def _length(value: str | None) -> int | None:
    """A part's Content-Length (None when absent), MultipartError when not a number."""
    if value is None:
        return None
    if not value.isdigit() or len(value) > 15:
        raise MultipartError("a part has a bad Content-Length")
    return int(value)
