"""The bounded PDU reader (tuipacs.dicom.transport.wire) on real sockets: lengths are checked
before anything is allocated, memory grows only as bytes arrive, and a read never waits
(a plain socket, and a TLS socket holding half a record).
"""

from __future__ import annotations

import socket
import ssl
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import require_binary

from tuipacs.dicom.transport.codec import CommandCollector, failure_response, parse_command_prefix
from tuipacs.dicom.transport.wire import (
    BODY_WAIT,
    MAX_COMMAND,
    MAX_CONTROL_PDU,
    PduReader,
    ReadResult,
)

LIMIT = 64 * 1024


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A connected pair: (peer side we write to, our side the reader reads)."""
    ours, peer = socket.socketpair()
    try:
        yield peer, ours
    finally:
        ours.close()
        peer.close()


def header(pdu_type: int, length: int) -> bytes:
    """A PDU header."""
    return struct.pack(">BBL", pdu_type, 0, length)


def read(reader: PduReader, sock: socket.socket, max_pdu: int = LIMIT) -> ReadResult:
    """One read; the body is copied so that the view can be released."""
    result = reader.read(sock, max_pdu)
    if result.body is not None:
        body = bytes(result.body)
        result.body.release()
        result.body = memoryview(body)
    return result


def test_pdata_up_to_the_advertised_length_and_not_one_byte_more(pair: tuple) -> None:
    peer, ours = pair
    reader = PduReader()
    peer.sendall(header(0x04, LIMIT) + bytes(LIMIT))
    results = [read(reader, ours)]
    while results[-1].outcome == "wait":
        results.append(read(reader, ours))
    assert results[-1].outcome == "pdu" and results[-1].length == LIMIT
    peer.sendall(header(0x04, LIMIT + 1))
    over = read(reader, ours)
    assert (over.outcome, over.pdu_type, over.length, over.limit) == (
        "too_long",
        4,
        LIMIT + 1,
        LIMIT,
    )


def test_a_declared_length_allocates_nothing(pair: tuple) -> None:
    peer, ours = pair
    reader = PduReader()
    peer.sendall(header(0x01, 0xFFFFFFFF))
    result = read(reader, ours)
    assert result.outcome == "too_long" and result.limit == MAX_CONTROL_PDU
    assert len(reader._buffer) == 0


def test_memory_grows_only_as_bytes_arrive(pair: tuple) -> None:
    """A P-DATA-TF declaring 16 MiB (allowed: we advertised 0, no limit), 600 KiB sent."""
    peer, ours = pair
    reader = PduReader()
    peer.sendall(header(0x04, 16 << 20) + bytes(100))
    assert read(reader, ours, max_pdu=0).outcome == "wait"
    assert reader.partial and len(reader._buffer) <= 256 * 1024
    sent = 100
    for _ in range(600 // 32):
        peer.sendall(bytes(32 * 1024))  # fits in the socket buffer: read before sending more
        sent += 32 * 1024
        assert read(reader, ours, max_pdu=0).outcome == "wait"
        assert len(reader._buffer) <= max(256 * 1024, 2 * sent)


def test_partial_pdu_never_blocks_and_completes_later(pair: tuple) -> None:
    peer, ours = pair
    reader = PduReader()
    release = header(0x05, 4) + bytes(4)
    for cut in (1, 3, 6, 9):
        peer.sendall(release[:cut])
        assert read(reader, ours).outcome == "wait"  # returns at once, nothing complete
        peer.sendall(release[cut:])
        done = read(reader, ours)
        assert done.outcome == "pdu" and done.header == release[:6]
    assert read(reader, ours).outcome == "wait"  # nothing more: still no waiting


def test_half_a_body_returns_after_one_short_wait(pair: tuple) -> None:
    """A body that stops coming holds a read for BODY_WAIT at most, not until it is whole."""
    peer, ours = pair
    reader = PduReader()
    peer.sendall(header(0x04, 1000) + bytes(10))
    start = time.monotonic()
    assert read(reader, ours).outcome == "wait"
    assert read(reader, ours).outcome == "wait"
    assert time.monotonic() - start < 1.0  # two reads, each waiting BODY_WAIT (5 ms) at most
    assert BODY_WAIT <= 0.05


def test_not_dicom_and_closed_midway(pair: tuple) -> None:
    peer, ours = pair
    reader = PduReader()
    peer.sendall(b"GET / HTTP/1.1\r\n")
    result = read(reader, ours)
    assert result.outcome == "not_dicom" and result.header.startswith(b"G")
    other, mine = socket.socketpair()
    with other, mine:
        other.sendall(header(0x04, 100) + bytes(10))
        other.close()
        fresh = PduReader()
        outcomes = [read(fresh, mine).outcome for _ in range(2)]
        assert outcomes[-1] == "closed" and fresh.partial is False


def test_command_collector_bounds() -> None:
    """A request's command set: MAX_COMMAND; a response's: what the collector keeps."""
    request = struct.pack("<HHL", 0, 0x0100, 2) + struct.pack("<H", 0x0001)
    collector = CommandCollector(1, keep=2 * MAX_COMMAND)
    collector.add(request)
    collector.add(b"x" * (3 * MAX_COMMAND))
    assert len(collector.data) == 2 * MAX_COMMAND
    cmd, _ = parse_command_prefix(collector.data)
    assert cmd[0x0100] == b"\x01\x00" and collector.too_long(cmd) == MAX_COMMAND
    assert failure_response(cmd, 0xC000) is None  # no message ID: cannot be answered
    response = struct.pack("<HHL", 0, 0x0100, 2) + struct.pack("<H", 0x8010)
    pending = CommandCollector(1, keep=2 * MAX_COMMAND)
    pending.add(response + b"x" * (MAX_COMMAND + 10))
    assert pending.too_long(parse_command_prefix(pending.data)[0]) is None
    pending.add(b"x" * MAX_COMMAND)
    assert pending.too_long(parse_command_prefix(pending.data)[0]) == 2 * MAX_COMMAND


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throw-away self-signed certificate and key."""
    openssl = require_binary("openssl")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=wire"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def test_tls_half_a_record_does_not_block(certificate: tuple[Path, Path]) -> None:
    """select() says readable, but only half a TLS record is there: no waiting."""
    cert, key = certificate
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.check_hostname = False
    client_ctx.verify_mode = ssl.CERT_NONE
    raw_ours, raw_peer = socket.socketpair()
    ours = server_ctx.wrap_socket(raw_ours, server_side=True, do_handshake_on_connect=False)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_ctx.wrap_bio(incoming, outgoing)
    handshake = threading.Thread(target=ours.do_handshake, daemon=True)
    handshake.start()
    raw_peer.settimeout(10)
    while True:
        try:
            client.do_handshake()
            break
        except ssl.SSLWantReadError:
            raw_peer.sendall(outgoing.read())
            incoming.write(raw_peer.recv(65536))
    raw_peer.sendall(outgoing.read())
    handshake.join(10)
    try:
        client.write(header(0x05, 4) + bytes(4))
        record = outgoing.read()
        reader = PduReader()
        raw_peer.sendall(record[: len(record) // 2])
        assert reader.read(ours, LIMIT).outcome == "wait"
        raw_peer.sendall(record[len(record) // 2 :])
        result = reader.read(ours, LIMIT)
        assert result.outcome == "pdu" and result.header[0] == 0x05
        assert result.body is not None
        result.body.release()
        assert ours.gettimeout() is None  # the socket's mode is left as it was
    finally:
        ours.close()
        raw_peer.close()
