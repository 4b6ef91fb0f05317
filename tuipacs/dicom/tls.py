"""DICOM over TLS (PS3.15 Annex B): SSL contexts for the server and for every client path.

AE titles are not authentication: anyone who can reach the port can claim any AE title.
TLS encrypts the association and, with certificates, proves who is at each end:

* the server (``[serve] tls = "on"``) shows ``[tls] certificate``/``private_key`` and speaks
  TLS only; with ``tls = "mutual"`` a caller must also present a certificate signed by a CA in
  ``[tls] ca``, so only holders of such certificates get in, whatever AE title they claim;
* a client (a node with ``tls = true``) checks the archive's certificate against ``[tls] ca``
  (the system's CAs when unset) and its host name (``tls_server_name`` when it differs
  from ``host``), and shows our certificate when one is configured (mutual TLS).

TLS 1.2 is the minimum (BCP 195). The handshake of an accepted connection runs on the
connection's own thread with a deadline (see :func:`handshake`), never in the accept loop.
"""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass
from pathlib import Path

from tuipacs.dicom.errors import DicomNetError, NodeError

#: Server TLS modes: plain DICOM, TLS only, TLS with a client certificate required.
SERVER_MODES = ("off", "on", "mutual")
#: Seconds an accepted connection has to complete its TLS handshake.
HANDSHAKE_TIMEOUT = 10.0
#: Most handshakes a server runs at once; a connection beyond is closed at once, so a flood
#: of silent TLS connections costs a bounded number of threads.
MAX_HANDSHAKES = 64


class TlsError(DicomNetError):
    """A TLS set-up or handshake failed; the message says what to fix."""


@dataclass(frozen=True)
class TlsFiles:
    """Where our certificate, its key and the trusted CAs are (PEM files; ca may be a folder)."""

    certificate: Path | None = None
    private_key: Path | None = None
    ca: Path | None = None

    def __post_init__(self) -> None:
        """A certificate needs its key and the other way round."""
        if (self.certificate is None) != (self.private_key is None):
            raise NodeError("[tls] certificate and private_key go together: set both or neither")

    @property
    def has_identity(self) -> bool:
        """True when we have a certificate to show."""
        return self.certificate is not None


def _load_identity(context: ssl.SSLContext, files: TlsFiles, what: str) -> None:
    """Load our certificate chain and key into `context` (TlsError if unreadable)."""
    assert files.certificate is not None and files.private_key is not None
    try:
        context.load_cert_chain(str(files.certificate), str(files.private_key))
    except FileNotFoundError as exc:
        raise TlsError(f"{what}: {exc.filename} does not exist: check [tls] in config") from None
    except (ssl.SSLError, OSError) as exc:
        raise TlsError(
            f"{what}: cannot load the certificate {files.certificate} with the key "
            f"{files.private_key} ({_reason(exc)}): both must be PEM and belong together"
        ) from None


def _load_ca(context: ssl.SSLContext, files: TlsFiles, what: str) -> None:
    """Trust the CAs of files.ca (a PEM file or a folder of hashed certificates)."""
    assert files.ca is not None
    try:
        if files.ca.is_dir():
            context.load_verify_locations(capath=str(files.ca))
        else:
            context.load_verify_locations(cafile=str(files.ca))
    except FileNotFoundError:
        raise TlsError(f"{what}: the CA file {files.ca} does not exist: check [tls] ca") from None
    except (ssl.SSLError, OSError) as exc:
        raise TlsError(f"{what}: cannot load the CA file {files.ca} ({_reason(exc)})") from None


def server_context(files: TlsFiles, mode: str) -> ssl.SSLContext:
    """The SSL context of a TLS server (`mode` "on" or "mutual")."""
    if mode not in SERVER_MODES[1:]:
        raise NodeError(f"[serve] tls must be one of {', '.join(SERVER_MODES)}, got {mode!r}")
    what = "TLS server"
    if not files.has_identity:
        raise TlsError(
            f"{what}: [serve] tls = {mode!r} needs [tls] certificate and private_key "
            "(a PEM certificate for this host and its key)"
        )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    _load_identity(context, files, what)
    if mode == "mutual":
        if files.ca is None:
            raise TlsError(
                f"{what}: [serve] tls = 'mutual' needs [tls] ca, the CA that signs the "
                "certificates callers must present"
            )
        _load_ca(context, files, what)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def client_context(files: TlsFiles | None) -> ssl.SSLContext:
    """The SSL context of a TLS client: verify the server, show ours if we have one."""
    files = files or TlsFiles()
    what = "TLS client"
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies certificate and host name
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if files.ca is not None:
        _load_ca(context, files, what)  # a private CA replaces the system's, not adds to it
    else:
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    if files.has_identity:
        _load_identity(context, files, what)
    return context


def handshake(sock: ssl.SSLSocket, timeout: float = HANDSHAKE_TIMEOUT) -> None:
    """Complete the server side handshake of an accepted socket within `timeout` seconds.

    Raises TlsError with a line for the log (peer not speaking TLS, bad certificate, silent).
    """
    previous = sock.gettimeout()
    sock.settimeout(timeout)
    try:
        sock.do_handshake()
    except TimeoutError:
        raise TlsError(f"no TLS handshake within {timeout:.0f} s") from None
    except ssl.SSLError as exc:
        raise TlsError(f"TLS handshake failed: {_reason(exc)}") from None
    except OSError as exc:
        raise TlsError(f"TLS handshake failed: {exc.strerror or exc}") from None
    finally:
        sock.settimeout(previous)


class HandshakeGate:
    """Counts the handshakes in progress on one server (thread-safe)."""

    def __init__(self, limit: int = MAX_HANDSHAKES) -> None:
        """Allow `limit` handshakes at once."""
        self._slots = threading.BoundedSemaphore(limit)

    def run(self, sock: ssl.SSLSocket, timeout: float = HANDSHAKE_TIMEOUT) -> None:
        """Handshake within `timeout` s, or TlsError (also when too many are in progress)."""
        if not self._slots.acquire(blocking=False):
            raise TlsError("too many TLS handshakes in progress: connection closed")
        try:
            handshake(sock, timeout)
        finally:
            self._slots.release()


def receiver_context(files: TlsFiles | None) -> ssl.SSLContext:
    """The context of our C-MOVE receiver for a TLS node: TLS, and mutual when we have a CA
    (the archive then shows its certificate when it connects back)."""
    files = files or TlsFiles()
    return server_context(files, "mutual" if files.ca is not None else "on")


def peer_subject(sock: object) -> str:
    """The common name of a verified peer certificate ('' without TLS or certificate)."""
    if not isinstance(sock, ssl.SSLSocket):
        return ""
    try:
        cert = sock.getpeercert()
    except (ValueError, OSError):
        return ""
    for rdn in (cert or {}).get("subject", ()):
        for pair in rdn:
            if len(pair) == 2 and pair[0] == "commonName":
                return str(pair[1])
    return ""


def _reason(exc: BaseException) -> str:
    """The short reason of an SSL error (OpenSSL's reason code, or the message)."""
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return str(exc.verify_message)
    reason = getattr(exc, "reason", None)
    if reason:
        return str(reason).replace("_", " ").lower()
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def client_error(host: str, port: int, exc: BaseException) -> TlsError:
    """One line for a failed TLS connection to host:port, with what to check."""
    where = f"{host}:{port}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        why = _reason(exc)
        if "hostname" in why.lower() or "ip address mismatch" in why.lower():
            advice = "set the node's tls_server_name to a name in its certificate"
        else:
            advice = "set [tls] ca to the CA that signed the archive's certificate"
        return TlsError(f"TLS: the certificate of {where} is not trusted ({why}): {advice}")
    if isinstance(exc, ssl.SSLError):
        why = _reason(exc)
        if "certificate" in why or "alert" in why:
            return TlsError(
                f"TLS: {where} refused our certificate ({why}): the archive may require a "
                "client certificate it trusts; set [tls] certificate and private_key"
            )
        return TlsError(
            f"TLS handshake with {where} failed ({why}): check that the port speaks DICOM "
            "over TLS, or set the node's tls = false for plain DICOM"
        )
    return TlsError(f"TLS connection to {where} failed: {exc}")
