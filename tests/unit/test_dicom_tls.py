"""TLS contexts and their one-line errors (handshakes over a local socket pair)."""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path

import pytest
from tlskit import Pki, make_pki

from tuipacs.dicom.errors import NodeError
from tuipacs.dicom.tls import (
    TlsError,
    TlsFiles,
    client_context,
    client_error,
    handshake,
    peer_subject,
    server_context,
)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _pair(
    server: ssl.SSLContext, client: ssl.SSLContext, name: str = "localhost"
) -> tuple[BaseException | None, BaseException | None, str]:
    """Handshake both ends of a socket pair; (server error, client error, client CN seen)."""
    left, right = socket.socketpair()
    errors: dict[str, BaseException | None] = {"server": None}
    seen: list[str] = []

    def serve() -> None:
        sock = server.wrap_socket(left, server_side=True, do_handshake_on_connect=False)
        try:
            handshake(sock, timeout=5)
            seen.append(peer_subject(sock))
        except TlsError as exc:
            errors["server"] = exc
        finally:
            sock.close()

    thread = threading.Thread(target=serve)
    thread.start()
    client_exc: BaseException | None = None
    try:
        with client.wrap_socket(right, server_hostname=name) as sock:
            sock.recv(1)  # TLS 1.3 reports a refused client certificate on the first read
    except (ssl.SSLError, OSError) as exc:
        client_exc = exc
    thread.join(10)
    return errors["server"], client_exc, seen[0] if seen else ""


def test_mutual_tls_handshake(pki: Pki) -> None:
    server = server_context(TlsFiles(pki.server_cert, pki.server_key, pki.ca), "mutual")
    client = client_context(TlsFiles(pki.client_cert, pki.client_key, pki.ca))
    server_exc, _, subject = _pair(server, client)
    assert server_exc is None
    assert subject == "tuipacs test client"


def test_untrusted_server_certificate_is_one_clear_line(pki: Pki) -> None:
    server = server_context(TlsFiles(pki.other_cert, pki.other_key), "on")
    _, client_exc, _ = _pair(server, client_context(TlsFiles(ca=pki.ca)))
    assert isinstance(client_exc, ssl.SSLCertVerificationError)
    message = str(client_error("127.0.0.1", 2762, client_exc))
    assert "\n" not in message
    assert "certificate of 127.0.0.1:2762 is not trusted" in message
    assert "[tls] ca" in message


def test_wrong_host_name_says_tls_server_name(pki: Pki) -> None:
    server = server_context(TlsFiles(pki.server_cert, pki.server_key), "on")
    _, client_exc, _ = _pair(server, client_context(TlsFiles(ca=pki.ca)), "pacs.example.org")
    assert client_exc is not None
    assert "tls_server_name" in str(client_error("pacs.example.org", 2762, client_exc))


def test_missing_client_certificate_is_refused(pki: Pki) -> None:
    server = server_context(TlsFiles(pki.server_cert, pki.server_key, pki.ca), "mutual")
    server_exc, client_exc, _ = _pair(server, client_context(TlsFiles(ca=pki.ca)))
    assert isinstance(server_exc, TlsError)
    assert "certificate" in str(server_exc)
    assert client_exc is not None


def test_plain_bytes_fail_the_handshake_at_once(pki: Pki) -> None:
    server = server_context(TlsFiles(pki.server_cert, pki.server_key), "on")
    left, right = socket.socketpair()
    right.sendall(bytes([1, 0, 0, 0, 0, 0x44]) + b"\x00" * 0x44)  # an A-ASSOCIATE-RQ start
    sock = server.wrap_socket(left, server_side=True, do_handshake_on_connect=False)
    with pytest.raises(TlsError, match="TLS handshake failed"):
        handshake(sock, timeout=5)
    sock.close()
    right.close()


def test_silent_peer_times_out(pki: Pki) -> None:
    server = server_context(TlsFiles(pki.server_cert, pki.server_key), "on")
    left, right = socket.socketpair()
    sock = server.wrap_socket(left, server_side=True, do_handshake_on_connect=False)
    with pytest.raises(TlsError, match="no TLS handshake within"):
        handshake(sock, timeout=0.3)
    sock.close()
    right.close()


def test_server_needs_certificate_and_ca_for_mutual(pki: Pki, tmp_path: Path) -> None:
    with pytest.raises(TlsError, match="needs \\[tls\\] certificate"):
        server_context(TlsFiles(), "on")
    with pytest.raises(TlsError, match="needs \\[tls\\] ca"):
        server_context(TlsFiles(pki.server_cert, pki.server_key), "mutual")
    with pytest.raises(TlsError, match="does not exist"):
        server_context(TlsFiles(tmp_path / "no.pem", pki.server_key), "on")
    with pytest.raises(TlsError, match="belong together"):
        server_context(TlsFiles(pki.server_cert, pki.client_key), "on")
    with pytest.raises(NodeError):
        TlsFiles(certificate=pki.server_cert)
