"""Hostile peers on the wire against a real ``tuipacs serve``: sizes checked before any
allocation, silent connections closed by timers, association limits per address.

Each test starts its own server subprocess (stopped by PID) with the default settings of
``ScpSettings``: a 4 MiB maximum PDU, a request timeout of ``REQUEST_TIMEOUT`` (10 s),
16 connections without association request per address at most.
"""

from __future__ import annotations

import random
import select
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian
from pynetdicom import AE
from servekit import AET, LOOPBACK, ServerProcess, dcmtk, run

from tuipacs.dicom.transport.wire import DEFAULT_MAX_PDU, REQUEST_TIMEOUT

#: Most seconds after the request timeout for a silent connection to be closed (the
#: reactor checks its timers every few ms; a loaded machine needs the slack).
CLOSE_SLACK = 10.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A fresh server (subprocess) on an empty archive."""
    proc = ServerProcess.start(tmp_path / "home")
    try:
        yield proc
    finally:
        proc.stop()


def echoscu(port: int) -> tuple[bool, float]:
    """DCMTK echoscu against the server: (succeeded, seconds taken)."""
    start = time.monotonic()
    result = run([dcmtk("echoscu"), "-aet", "ECHOSCU", "-aec", AET, LOOPBACK, str(port)], 30)
    return result.returncode == 0, time.monotonic() - start


def wait_closed(sockets: list[socket.socket], timeout: float) -> list[float]:
    """Seconds until each socket saw EOF (or a reset), waiting at most `timeout`."""
    start = time.monotonic()
    pending = {s: i for i, s in enumerate(sockets)}
    closed_at: list[float] = []
    while pending and time.monotonic() - start < timeout:
        ready, _, _ = select.select(list(pending), [], [], 0.5)
        for sock in ready:
            try:
                data = sock.recv(4096)
            except OSError:
                data = b""
            if data and data[0] == 0x07:  # an A-ABORT first: EOF follows
                continue
            if not data:
                pending.pop(sock)
                closed_at.append(time.monotonic() - start)
    return closed_at


def test_six_byte_header_allocates_nothing(server: ServerProcess) -> None:
    """Finding 1: an A-ASSOCIATE-RQ declaring 4 GB took 4 GB per connection."""
    hostile = []
    for _ in range(2):
        sock = socket.create_connection((LOOPBACK, server.port), timeout=10)
        sock.sendall(bytes([0x01, 0x00, 0xFF, 0xFF, 0xFF, 0xFF]))
        hostile.append(sock)
    try:
        # the server answers A-ABORT and closes: no waiting for 4 GB that never come
        assert len(wait_closed(hostile, 10)) == 2
        assert server.rss_mb() < 300
        ok, _ = echoscu(server.port)
        assert ok, server.log[-2000:]
        assert server.rss_mb() < 300
    finally:
        for sock in hostile:
            sock.close()
    assert server.log.count("A-ASSOCIATE-RQ PDU of 4294967295 bytes") == 2


def test_half_open_connections_never_lock_callers_out(server: ServerProcess) -> None:
    """Finding 2: 33 connections with 1-50 bytes of a request filled the server for good.

    40 connections each send part of an A-ASSOCIATE-RQ and fall silent. A real echoscu
    right after them is answered within 5 s, and every silent connection is closed by the
    server: the oldest at once when over the per-address bound of waiting connections,
    the others when their request timeout (REQUEST_TIMEOUT) expires.
    """
    request = bytes([0x01, 0x00, 0x00, 0x00, 0x00, 0xCC, 0x00, 0x01, 0x00, 0x00])
    request += AET.ljust(16).encode() + b"ECHOSCU".ljust(16) + bytes(32)
    rng = random.Random(12)
    silent = []
    try:
        for _ in range(40):
            sock = socket.create_connection((LOOPBACK, server.port), timeout=10)
            sock.sendall(request[: rng.randint(1, 50)])
            silent.append(sock)
        ok, seconds = echoscu(server.port)
        assert ok, server.log[-2000:]
        assert seconds < 5
        closed = wait_closed(silent, REQUEST_TIMEOUT + CLOSE_SLACK)
        assert len(closed) == 40, f"{40 - len(closed)} silent connections still open"
    finally:
        for sock in silent:
            sock.close()
    assert server.wait_log(
        f"sent no complete association request within {REQUEST_TIMEOUT:.0f} s"
    ), server.log[-2000:]
    ok, _ = echoscu(server.port)
    assert ok


def test_pdata_over_the_advertised_maximum_is_aborted(server: ServerProcess) -> None:
    """A P-DATA-TF longer than the Maximum Length we advertised gets A-ABORT, not memory."""
    ae = AE("BIGPDU")
    ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    assoc = ae.associate(LOOPBACK, server.port, ae_title=AET)
    assert assoc.is_established
    assert assoc.acceptor.maximum_length == DEFAULT_MAX_PDU
    raw = assoc.dul.socket.socket
    assert raw is not None
    raw.sendall(struct.pack(">BBL", 0x04, 0x00, 0xFFFFFFF0) + bytes(64))
    deadline = time.monotonic() + 10
    while assoc.is_established and time.monotonic() < deadline:
        time.sleep(0.05)
    assert assoc.is_aborted and not assoc.is_established
    assert server.rss_mb() < 300
    assert server.wait_log("P-DATA-TF PDU of 4294967280 bytes (our limit: 4194304 bytes)"), (
        server.log[-2000:]
    )
    ok, _ = echoscu(server.port)
    assert ok


def test_association_limit_per_calling_address(server: ServerProcess) -> None:
    """16 associations from one address at most; the 17th is told to retry later."""
    ae = AE("MANY")
    ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    held = []
    try:
        for _ in range(16):
            assoc = ae.associate(LOOPBACK, server.port, ae_title=AET)
            assert assoc.is_established
            held.append(assoc)
        extra = ae.associate(LOOPBACK, server.port, ae_title=AET)
        assert extra.is_rejected
        rsp = extra.acceptor.primitive
        assert (rsp.result, rsp.result_source, rsp.diagnostic) == (0x02, 0x03, 0x02)
        held.pop().release()
        again = ae.associate(LOOPBACK, server.port, ae_title=AET)
        assert again.is_established
        held.append(again)
    finally:
        for assoc in held:
            assoc.release()
    assert server.wait_log("local limit exceeded"), server.log[-2000:]
