"""One HTTP(S) session to a DICOMweb node: auth, verified TLS, timeouts, bounded answers.

Every failure becomes a :class:`WebError` with one line that says what went wrong and what
to do: the host cannot be resolved, the connection is refused or times out, the server's
certificate is not trusted, the server answers 401/403/404 or another error, its answer is
not JSON or is too large. :mod:`tuipacs.dicomweb.diagnose` tells a DIMSE port given as a
URL from a server that merely closed the connection.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.response import BaseHTTPResponse

from tuipacs.dicom.errors import NodeError
from tuipacs.remote.results import RemoteNetError
from tuipacs.remote.web_node import WebNode

# urllib3 logs a warning with a traceback for a Content-Type it cannot parse (a multipart
# type without a boundary): the answer is judged here, in one line, so keep it quiet.
logging.getLogger("urllib3.connection").setLevel(logging.ERROR)

#: Largest JSON answer read (a search of many thousand rows is a few MB).
MAX_JSON = 64 * 1024 * 1024
#: Bytes of an error answer kept (never shown whole).
_ERROR_BODY = 4096
CHUNK = 1024 * 1024
JSON_TYPE = "application/dicom+json"


class WebError(RemoteNetError):
    """A DICOMweb exchange failed; the message is one line that says what to do."""

    def __init__(self, message: str, status: int = 0) -> None:
        """``status``: the HTTP status when the server answered one, else 0."""
        super().__init__(message)
        self.status = status


class NotHttp(WebError):
    """The peer closed the connection or answered something that is not HTTP."""


def uid_path(uid: str) -> str:
    """A UID as a path segment (quoted: a UID from a peer is untrusted)."""
    return quote(uid, safe="")


class WebSession:
    """Requests to one node's base URL, with its auth and TLS settings, from any thread."""

    def __init__(self, node: WebNode) -> None:
        """Prepare the connection pool (nothing is sent yet); NodeError for a missing
        password variable."""
        self.node = node
        if node.ca and not Path(node.ca).is_file():
            raise WebError(f"node {node.name}: its ca file {node.ca} does not exist")
        self.timeout = urllib3.Timeout(connect=min(node.timeout, 10.0), read=node.timeout)
        self.pool = urllib3.PoolManager(
            num_pools=2,
            maxsize=node.parallel + 1,
            cert_reqs="CERT_REQUIRED",
            ca_certs=node.ca or None,
            retries=False,
            timeout=self.timeout,
        )
        self._auth = _auth_header(node)

    def close(self) -> None:
        """Close the pooled connections."""
        self.pool.clear()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        what: str = "the request",
        accept: tuple[int, ...] = (),
    ) -> BaseHTTPResponse:
        """Send a request to base URL + ``path``; the response (not read yet) when it is a
        2xx answer (or one of ``accept``), else WebError. The caller reads (bounded) and
        closes it."""
        url = self.node.url + path
        if params:
            pairs = list(params.items()) if isinstance(params, Mapping) else list(params)
            url += "?" + urlencode(pairs)
        sent = {"User-Agent": "tuipacs", **self._auth, **(headers or {})}
        try:
            response = self.pool.request(
                method,
                url,
                headers=sent,
                body=body,
                preload_content=False,
                redirect=False,
                timeout=self.timeout,
            )
        except HTTPError as exc:
            raise network_error(self.node, exc) from None
        if not 200 <= response.status < 300 and response.status not in accept:
            status = response.status
            try:
                response.read(_ERROR_BODY)
            except HTTPError:
                pass
            finally:
                response.release_conn()
            raise WebError(status_error(self.node, status, path, what), status)
        return response

    def get_json(
        self, path: str, params: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        *, what: str = "the search",
    ) -> Any:
        """GET ``path`` as DICOM JSON (bounded to :data:`MAX_JSON`); None for 204 No Content."""
        response = self.request("GET", path, params=params, headers={"Accept": JSON_TYPE},
                                what=what)  # fmt: skip
        return read_json(self.node, response, what)

    def timed_get(self, path: str, params: Mapping[str, str]) -> tuple[float, int]:
        """GET ``path`` as JSON; (milliseconds, HTTP status). Raises WebError."""
        start = time.perf_counter()
        response = self.request("GET", path, params=params, headers={"Accept": JSON_TYPE},
                                what="the search")  # fmt: skip
        read_json(self.node, response, "the search")
        return (time.perf_counter() - start) * 1000.0, response.status


def _auth_header(node: WebNode) -> dict[str, str]:
    """The Authorization header of ``node`` (empty without auth)."""
    try:
        secret = node.secret()
    except NodeError as exc:
        raise WebError(str(exc)) from None
    if node.auth == "basic":
        pair = f"{node.user}:{secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
    if node.auth == "bearer":
        return {"Authorization": f"Bearer {secret}"}
    return {}


def read_bounded(node: WebNode, response: BaseHTTPResponse, limit: int, what: str) -> bytes:
    """The whole body of ``response`` if it is at most ``limit`` bytes, else WebError
    (checked on the declared length first, then while reading)."""
    try:
        declared = response.headers.get("Content-Length")
        if declared is not None:
            size = int(declared.strip()) if declared.strip().isdigit() else -1
            if size < 0:
                raise WebError(f"{node.url}: {what} answered a bad Content-Length")
            if size > limit:
                raise WebError(
                    f"{node.url}: {what} answered {size} bytes, more than the "
                    f"{limit // (1024 * 1024)} MiB allowed: narrow the search"
                )
        parts: list[bytes] = []
        got = 0
        while True:
            chunk = response.read(min(CHUNK, limit + 1 - got))
            if not chunk:
                break
            parts.append(chunk)
            got += len(chunk)
            if got > limit:
                raise WebError(
                    f"{node.url}: {what} answered more than the "
                    f"{limit // (1024 * 1024)} MiB allowed: narrow the search"
                )
        return b"".join(parts)
    except HTTPError as exc:
        raise network_error(node, exc) from None
    finally:
        response.release_conn()


def read_json(node: WebNode, response: BaseHTTPResponse, what: str) -> Any:
    """The JSON body of ``response``; WebError when it is not JSON."""
    if response.status == 204:
        response.release_conn()
        return None
    kind = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    data = read_bounded(node, response, MAX_JSON, what)
    if not data.strip():
        return None
    if kind and "json" not in kind:
        raise WebError(
            f"{node.url}: {what} answered {kind[:60]!r}, not JSON: is the base URL the "
            "DICOMweb root (e.g. .../dicom-web)?"
        )
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        raise WebError(
            f"{node.url}: {what} answered malformed JSON: the server is not a DICOMweb "
            "server, or the base URL is wrong"
        ) from None


def status_error(node: WebNode, status: int, path: str, what: str) -> str:
    """The one line for an HTTP error ``status`` of ``what`` (at ``path``)."""
    if status == 401:
        return (
            f"{node.url}: {what} answered 401 Unauthorized: check the credentials "
            f"(configured: {node.auth_line()})"
        )
    if status == 403:
        return (
            f"{node.url}: {what} answered 403 Forbidden: {node.auth_line()} is not allowed "
            "this; ask the server's administrator"
        )
    if status in (400, 404) and path.split("?")[0] in ("/studies", "/series", "/instances"):
        name = "404 Not Found" if status == 404 else "400 Bad Request"
        return (
            f"{node.url}: {what} answered {name}: the base URL is wrong "
            "(it should be the DICOMweb root, e.g. http://host:8042/dicom-web)"
        )
    if status == 404:
        return f"{node.url}: {what} answered 404 Not Found: the archive does not hold it"
    if status in (301, 302, 303, 307, 308):
        return (
            f"{node.url}: {what} answered a redirect ({status}): give the node the URL it "
            "redirects to (e.g. https:// instead of http://)"
        )
    if status == 413:
        return f"{node.url}: {what} answered 413 (too large): send fewer files at once"
    if status >= 500:
        return f"{node.url}: {what} failed on the server (HTTP {status}): see its log"
    return f"{node.url}: {what} answered HTTP {status}"


def network_error(node: WebNode, exc: Exception) -> WebError:
    """The one-line WebError for a failure of the connection itself."""
    where = f"{node.host}:{node.port}"
    if isinstance(exc, NameResolutionError):
        return WebError(f"{node.url}: cannot resolve host {node.host!r}: check the URL's host")
    if isinstance(exc, NewConnectionError):
        text = str(exc).lower()
        if "refused" in text:
            return WebError(
                f"{node.url}: {where} refused the connection: is the DICOMweb server running "
                "and is the port right?"
            )
        if "timed out" in text:
            return _timeout(node, where)
        return WebError(f"{node.url}: cannot connect to {where}: check the host and port")
    if isinstance(exc, ConnectTimeoutError):
        return _timeout(node, where)
    if isinstance(exc, ReadTimeoutError):
        return WebError(
            f"{node.url}: no answer within {node.timeout:.0f} s: the server is busy or hung "
            "(raise the node's timeout for slow archives)"
        )
    if isinstance(exc, SSLError):
        text = str(exc)
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate" in text.lower():
            why = _cert_reason(text)
            return WebError(
                f"{node.url}: the server's TLS certificate is not trusted ({why}): set "
                f"ca = \"path.pem\" in [nodes.{node.name}] or fix the server's certificate"
            )
        if "WRONG_VERSION_NUMBER" in text or "record layer" in text.lower():
            return WebError(
                f"{node.url}: {where} does not speak TLS: use http:// for this port, or "
                "the server's HTTPS port"
            )
        return NotHttp(f"{node.url}: the TLS handshake with {where} failed")
    if isinstance(exc, ProtocolError):
        text = str(exc)
        if "IncompleteRead" in text or "incomplete" in text.lower():
            return WebError(
                f"{node.url}: the connection closed in the middle of the answer: retry"
            )
        return NotHttp(
            f"{node.url}: {where} closed the connection without an HTTP answer: is this a "
            "DICOMweb URL?"
        )
    return WebError(f"{node.url}: the exchange failed ({type(exc).__name__})")


def _timeout(node: WebNode, where: str) -> WebError:
    """No TCP connection in time."""
    return WebError(
        f"{node.url}: no connection to {where} within {min(node.timeout, 10.0):.0f} s: "
        "check the host, the port and any firewall"
    )


def _cert_reason(text: str) -> str:
    """The short reason of a certificate failure (self-signed, expired, wrong host...)."""
    lower = text.lower()
    for needle, reason in (
        ("self-signed", "self-signed"),
        ("self signed", "self-signed"),
        ("expired", "expired"),
        ("hostname mismatch", "issued for another host name"),
        ("doesn't match", "issued for another host name"),
        ("unable to get local issuer", "issuer unknown"),
    ):
        if needle in lower:
            return reason
    return "verification failed"
