"""The server's timers fire whatever a peer sends: half a PDU never blocks the reactor.

In-process servers (tuipacs.server.ArchiveServer, as the TUI runs it) with short
timeouts set through their ScpSettings, so that the tests take seconds. Before, the
reactor waited in a blocking read for the rest of any PDU it had started: the network
timeout never fired, and stop() waited 5 s per silent connection.
"""

from __future__ import annotations

import select
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian
from pynetdicom import AE
from servekit import AET, LOOPBACK

from tuipacs.config import Config
from tuipacs.server import ArchiveServer
from tuipacs.store.archive import Archive

pytestmark = pytest.mark.net

NETWORK_TIMEOUT = 2.0
REQUEST_TIMEOUT = 1.0
#: Slack for a loaded machine on top of each timeout.
SLACK = 8.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ArchiveServer]:
    """A started in-process server with short timeouts (stopped at the end)."""
    archive = Archive.open(tmp_path / "archive")
    server = ArchiveServer(archive, Config(), port=0, bind=LOOPBACK, grace=1.0)
    server.settings.network_timeout = NETWORK_TIMEOUT
    server.settings.request_timeout = REQUEST_TIMEOUT
    server.start()
    try:
        yield server
    finally:
        server.stop()
        archive.close()


def closed_within(sock: socket.socket, timeout: float) -> float | None:
    """Seconds until the server closed `sock` (A-ABORT bytes first are fine), or None."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        ready, _, _ = select.select([sock], [], [], 0.2)
        if ready:
            try:
                if not sock.recv(4096):
                    return time.monotonic() - start
            except OSError:
                return time.monotonic() - start
    return None


def test_half_a_pdata_pdu_then_silence_hits_the_network_timeout(server: ArchiveServer) -> None:
    ae = AE("SILENT")
    ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    assoc = ae.associate(LOOPBACK, server.port, ae_title=AET)
    assert assoc.is_established
    raw = assoc.dul.socket.socket
    assert raw is not None
    raw.sendall(struct.pack(">BBL", 0x04, 0x00, 1000) + bytes(10))
    deadline = time.monotonic() + NETWORK_TIMEOUT + SLACK
    while assoc.is_established and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not assoc.is_established, "the server never gave up on the silent peer"


def test_stop_is_prompt_with_silent_connections(server: ArchiveServer) -> None:
    """Connections that sent half a request do not hold up stop()."""
    silent = []
    for size in (1, 5, 6, 30, 50):
        sock = socket.create_connection((LOOPBACK, server.port), timeout=5)
        sock.sendall(bytes([0x01, 0x00, 0x00, 0x00, 0x00, 0xCC]).ljust(size, b"\x00")[:size])
        silent.append(sock)
    try:
        time.sleep(0.2)
        start = time.monotonic()
        server.stop()
        assert time.monotonic() - start < SLACK
        for sock in silent:
            assert closed_within(sock, SLACK) is not None
    finally:
        for sock in silent:
            sock.close()


def test_silent_connection_closed_by_the_request_timeout(server: ArchiveServer) -> None:
    sock = socket.create_connection((LOOPBACK, server.port), timeout=5)
    try:
        sock.sendall(bytes([0x01, 0x00]))
        seconds = closed_within(sock, REQUEST_TIMEOUT + SLACK)
        assert seconds is not None and seconds >= REQUEST_TIMEOUT * 0.5
    finally:
        sock.close()
