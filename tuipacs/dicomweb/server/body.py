"""Request bodies of the DICOMweb server: Content-Length or chunked, always bounded.

A body that says it is larger than the limit is refused (413) before a byte of it is read;
a chunked body is counted as it comes. A body that ends early or whose chunk framing is
wrong is 400. The caller closes the connection after any of these (the rest is unread).
"""

from __future__ import annotations

from collections.abc import Iterator
from email.message import Message
from io import BufferedIOBase

READ_CHUNK = 1 << 20
_CHUNK_LINE = 1024
_MAX_TRAILERS = 64


class HttpError(Exception):
    """An answer other than success: status and one line saying what to do."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        """``headers``: extra response headers (WWW-Authenticate...)."""
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def _too_large(limit: int, size: int | None = None) -> HttpError:
    what = f"of {size} bytes " if size is not None else ""
    return HttpError(
        413, f"the request body {what}is larger than [serve] http_max_body ({limit} bytes)"
    )


def request_body(headers: Message, rfile: BufferedIOBase, limit: int) -> Iterator[bytes]:
    """The body in chunks of at most READ_CHUNK bytes (see the module doc)."""
    coding = (headers.get("Transfer-Encoding") or "").strip().lower()
    if coding and coding != "chunked":
        raise HttpError(501, f"transfer encoding {coding[:20]!r} is not supported")
    if coding == "chunked":
        yield from _chunked(rfile, limit)
        return
    length = (headers.get("Content-Length") or "").strip()
    if not length:
        raise HttpError(411, "a request body needs a Content-Length (or chunked encoding)")
    if not length.isdigit() or len(length) > 18:
        raise HttpError(400, "bad Content-Length")
    size = int(length)
    if size > limit:
        raise _too_large(limit, size)
    yield from _exactly(rfile, size, "the request body ended before its Content-Length")


def _exactly(rfile: BufferedIOBase, size: int, short: str) -> Iterator[bytes]:
    left = size
    while left > 0:
        data = rfile.read(min(READ_CHUNK, left))
        if not data:
            raise HttpError(400, short)
        left -= len(data)
        yield data


def _chunked(rfile: BufferedIOBase, limit: int) -> Iterator[bytes]:
    total = 0
    while True:
        size_text = rfile.readline(_CHUNK_LINE).split(b";")[0].strip()
        if (
            not size_text
            or len(size_text) > 16
            or any(c not in b"0123456789abcdefABCDEF" for c in size_text)
        ):
            raise HttpError(400, "bad chunked encoding of the request body")
        size = int(size_text, 16)
        if size == 0:
            for _ in range(_MAX_TRAILERS):
                if not rfile.readline(_CHUNK_LINE).strip():
                    return
            raise HttpError(400, "too many trailer lines after the request body")
        total += size
        if total > limit:
            raise _too_large(limit)
        yield from _exactly(rfile, size, "the request body ended in the middle of a chunk")
        if rfile.read(2) != b"\r\n":
            raise HttpError(400, "bad chunked encoding of the request body")
