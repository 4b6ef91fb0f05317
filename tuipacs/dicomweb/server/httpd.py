"""The HTTP layer of ``tuipacs serve --http``: a bounded worker pool on http.server.

Why the standard library and no web framework: the server answers a dozen fixed routes,
streams files and multipart bodies it builds itself, and must bound every read (headers,
bodies, slow clients); http.server does the HTTP/1.1 parsing with limits on the request line
and each header (431 past 64 KiB), and the rest is small enough to own here.

Each connection is served by one of a fixed number of worker threads (their archive index
connections are reused); more connections wait in the listen queue. A connection idle
between requests is closed after a few seconds, a client that stalls mid-request after
``io_timeout``. TLS is the [tls] certificate when [serve] tls is on (the handshake runs on
the worker, with the same timeout). Every error is one status and a one-line plain-text
message; tracebacks go nowhere (an unexpected error is logged on one line as such).
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tuipacs import safe_text
from tuipacs.audit import AuditLog
from tuipacs.dicomweb.server.body import HttpError, request_body
from tuipacs.dicomweb.server.settings import WebSettings

LOG = logging.getLogger("tuipacs.server.http")

#: Seconds a kept-alive connection may stay idle before the next request.
IDLE_TIMEOUT = 5.0
#: Bytes an answer is written in (at least, but for its end).
SEND_CHUNK = 256 * 1024
#: Largest query string taken (a search's keys are short).
MAX_QUERY = 16 * 1024


#: The application: called with the handler, method, path segments, query and caller.
App = Callable[["Handler", str, list[str], list[tuple[str, str]], str], None]


class Handler(BaseHTTPRequestHandler):
    """One connection; see the module doc. ``server`` is a :class:`WebHttpServer`."""

    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.0"  # a malformed request line still gets a status line
    server_version = "tuipacs"
    sys_version = ""
    server: WebHttpServer

    def version_string(self) -> str:
        """The Server header: no version numbers."""
        return "tuipacs"

    def setup(self) -> None:
        """Bound reads from the start."""
        super().setup()
        self.connection.settimeout(self.server.settings.io_timeout)
        self._started = False
        self._status = 0
        self._sent = 0
        self.audit_fields: dict[str, Any] = {}

    def handle_one_request(self) -> None:
        """Wait at most IDLE_TIMEOUT for a next request on a kept-alive connection; the
        request line and headers must then be complete within io_timeout (a client that
        sends them a byte at a time is cut by the server's watchdog)."""
        timeout = self.server.settings.io_timeout
        self.connection.settimeout(IDLE_TIMEOUT if self._status else timeout)
        idle = IDLE_TIMEOUT if self._status else 0.0
        self.server.watch(self.connection, time.monotonic() + idle + timeout)
        try:
            super().handle_one_request()
        except (TimeoutError, ConnectionError, ssl.SSLError, OSError):
            self.close_connection = True
        finally:
            self.server.unwatch(self.connection)

    def parse_request(self) -> bool:
        """The request line arrived: the headers must come within io_timeout."""
        self.connection.settimeout(self.server.settings.io_timeout)
        self._started, self._status, self._sent, self.audit_fields = False, 0, 0, {}
        self.server.watch(self.connection, time.monotonic() + self.server.settings.io_timeout)
        try:
            return super().parse_request()
        finally:
            self.server.unwatch(self.connection)  # a body is bounded per read, not overall

    # -- logging: our own line per request, never http.server's (it echoes the request)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
        """http.server's own lines are not kept (see _log_request)."""

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's parse errors (431, 414, 400...) as a one-line plain-text answer."""
        text = message or self.responses.get(code, ("error",))[0]
        self.close_connection = True
        try:
            self._plain(code, text)  # begin() adds Connection: close
        except OSError:
            pass
        self._log_request(getattr(self, "command", None) or "-", getattr(self, "path", "") or "")

    # -- requests

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        """QIDO-RS and WADO-RS."""
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        """STOW-RS."""
        self._dispatch("POST")

    def do_HEAD(self) -> None:  # noqa: N802
        """Not served."""
        self._dispatch("HEAD")

    def do_PUT(self) -> None:  # noqa: N802
        """Not served."""
        self._dispatch("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        """Not served."""
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        start = time.monotonic()
        raw_path = self.path
        try:
            parts = urlsplit(raw_path)
            if len(parts.query) > MAX_QUERY:
                raise HttpError(414, "the query string is too long")
            segments = self._segments(parts.path)
            user = self.server.settings.caller(self.headers.get("Authorization"))
            if user is None:
                self.close_connection = True  # the body, if any, is not read
                raise HttpError(
                    401,
                    "authentication required: give the user and password or token of "
                    "[serve] http_users / http_tokens",
                    {"WWW-Authenticate": self.server.settings.challenge},
                )
            self.user = user
            query = parse_qsl(parts.query, keep_blank_values=True, max_num_fields=200)
            self.server.app(self, method, segments, query, user)
        except HttpError as exc:
            self.fail(exc.status, exc.message, exc.headers)
        except ValueError as exc:  # parse_qsl's field limit
            self.fail(400, f"bad query string: {exc}")
        except (TimeoutError, ConnectionError, ssl.SSLError):
            self.close_connection = True
            self._status = self._status or 408
        except Exception as exc:  # noqa: BLE001 - one line, never a traceback
            LOG.error(
                "internal error on %s: %s", type(exc).__name__, safe_text.clean(str(exc))[:200]
            )
            self.fail(500, "internal error (see the server log)")
        finally:
            self._log_request(method, raw_path, time.monotonic() - start)

    def _segments(self, path: str) -> list[str]:
        """The path's segments below the base path; 404 outside it, 400 for tricks."""
        base = self.server.base.strip("/")
        segments = path.split("/")[1:]
        if not segments or segments[0] != base:
            raise HttpError(404, f"not found: DICOMweb is under /{base}/")
        rest = [s for s in segments[1:] if s != ""]
        if any(s in (".", "..") or "%" in s or "\\" in s for s in rest):
            raise HttpError(400, "bad path: '.', '..', '%' and '\\' are not allowed in a path")
        return rest

    def _log_request(self, method: str, raw_path: str, seconds: float = 0.0) -> None:
        """One line per request: method, path without the query (values may be names) and
        the query's keys, status, bytes, caller; and the audit line."""
        parts = urlsplit(raw_path)
        path = safe_text.clean(parts.path)[:400]
        keys = sorted({k for k, _ in parse_qsl(parts.query[:MAX_QUERY], max_num_fields=200)}
                      if parts.query else set())  # fmt: skip
        keys = [safe_text.clean(k)[:40] for k in keys[:20]]
        user = getattr(self, "user", None)
        address = self.client_address[0] if self.client_address else ""
        LOG.info(
            "%s %s%s -> %d, %d bytes, %.0f ms, %s from %s",
            safe_text.clean(method)[:10], path, f" ?{','.join(keys)}" if keys else "",
            self._status, self._sent, seconds * 1000, user or ("anonymous" if user == "" else "-"),
            address,
        )  # fmt: skip
        self.server.audit.record(
            "http", method=method[:10], path=path, keys=keys, status=self._status,
            user=user, address=address, **self.audit_fields,
        )  # fmt: skip

    # -- answers

    def begin(self, status: int, headers: dict[str, str]) -> None:
        """Send the status line and headers."""
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self._started = True
        self._status = status

    def _plain(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        body = (safe_text.clean(text)[:500] + "\n").encode("utf-8")
        self.begin(status, {"Content-Type": "text/plain; charset=utf-8",
                            "Content-Length": str(len(body)), **(headers or {})})  # fmt: skip
        if self.command != "HEAD":
            self.wfile.write(body)
            self._sent += len(body)

    def fail(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        """Answer an error (if nothing was sent yet; else cut the connection)."""
        if self._started:
            self.close_connection = True
            return
        try:
            self._plain(status, message, headers)
        except OSError:
            self.close_connection = True

    def send_body(self, status: int, content_type: str, body: bytes,
                  headers: dict[str, str] | None = None) -> None:  # fmt: skip
        """A complete answer."""
        self.begin(status, {"Content-Type": content_type, "Content-Length": str(len(body)),
                            **(headers or {})})  # fmt: skip
        self.wfile.write(body)
        self._sent += len(body)

    def send_json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        """A DICOM JSON answer."""
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        self.send_body(status, "application/dicom+json", body, headers)

    def stream(self, status: int, content_type: str, chunks: Iterable[bytes]) -> None:
        """An answer of unknown length: chunked over HTTP/1.1, else until the close.

        The first chunk is produced before the headers go out, so that an error found
        while preparing it is still an error answer."""
        iterator = iter(chunks)
        first = next(iterator, b"")
        chunked = self.request_version == "HTTP/1.1"
        if not chunked:
            self.close_connection = True
        self.begin(status, {"Content-Type": content_type,
                            **({"Transfer-Encoding": "chunked"} if chunked else {})})  # fmt: skip
        for data in _coalesced(_prepend(first, iterator)):
            if chunked:
                self.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")
            else:
                self.wfile.write(data)
            self._sent += len(data)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    # -- request bodies

    def body(self, limit: int) -> Iterator[bytes]:
        """The request body in chunks (see :func:`~.body.request_body`); any error closes
        the connection (the rest of the body is not read)."""
        try:
            yield from request_body(self.headers, self.rfile, limit)
        except HttpError:
            self.close_connection = True
            raise


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def _coalesced(pieces: Iterator[bytes], size: int = SEND_CHUNK) -> Iterator[bytes]:
    """Small pieces (part headers, CRLFs) joined with the data around them: a few large
    writes instead of many small packets."""
    pending: list[bytes] = []
    held = 0
    for piece in pieces:
        if not piece:
            continue
        pending.append(piece)
        held += len(piece)
        if held >= size:
            yield b"".join(pending)
            pending, held = [], 0
    if pending:
        yield b"".join(pending)


class WebHttpServer(HTTPServer):
    """http.server with a fixed pool of workers, optional TLS, and quiet errors."""

    allow_reuse_address = True
    request_queue_size = 64

    def __init__(
        self,
        address: tuple[str, int],
        app: App,
        settings: WebSettings,
        audit: AuditLog,
        base: str = "/dicom-web",
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """Bind ``address`` (OSError if it cannot); serve_forever() answers."""
        self.app = app
        self.settings = settings
        self.audit = audit
        self.base = base
        self.ssl_context = ssl_context
        self.pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="tuipacs-http")
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        self._deadlines: dict[socket.socket, float] = {}
        self._closing = threading.Event()
        super().__init__(address, Handler)
        self._watchdog = threading.Thread(target=self._watch, name="tuipacs-http-watchdog",
                                          daemon=True)  # fmt: skip
        self._watchdog.start()

    def watch(self, sock: socket.socket, deadline: float) -> None:
        """Cut ``sock`` if it is still watched at ``deadline`` (monotonic seconds)."""
        with self._open_lock:
            self._deadlines[sock] = deadline

    def unwatch(self, sock: socket.socket) -> None:
        """Stop watching ``sock``."""
        with self._open_lock:
            self._deadlines.pop(sock, None)

    def _watch(self) -> None:
        """Shut down connections past their deadline: a blocked read then ends at once."""
        while not self._closing.wait(0.25):
            now = time.monotonic()
            with self._open_lock:
                late = [s for s, when in self._deadlines.items() if when <= now]
                for sock in late:
                    del self._deadlines[sock]
            for sock in late:
                LOG.info("cut a client too slow to send its request")
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def process_request(self, request: Any, client_address: Any) -> None:
        """Hand the connection to a worker."""
        self.pool.submit(self._work, request, client_address)

    def _work(self, request: socket.socket, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        try:
            if self.ssl_context is not None:
                request.settimeout(self.settings.io_timeout)
                plain = request
                self.watch(plain, time.monotonic() + self.settings.io_timeout)  # handshake
                try:
                    request = self.ssl_context.wrap_socket(request, server_side=True)
                finally:
                    self.unwatch(plain)
                with self._open_lock:  # the plain socket is detached now
                    self._open.discard(plain)
                    self._open.add(request)
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.finish_request(request, client_address)
        except (OSError, ssl.SSLError) as exc:
            LOG.info("connection from %s ended: %s", client_address[0], type(exc).__name__)
        except Exception as exc:  # noqa: BLE001 - one line, never a traceback
            LOG.error("connection from %s failed: %s", client_address[0], type(exc).__name__)
        finally:
            with self._open_lock:
                self._open.discard(request)
            self.shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Not used (errors are handled per connection); never print a traceback."""

    def server_close(self) -> None:
        """Stop listening and wait for the workers."""
        super().server_close()
        self._closing.set()
        with self._open_lock:
            for sock in self._open:  # idle or slow clients: do not wait for their timeouts
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self.pool.shutdown(wait=True, cancel_futures=True)
