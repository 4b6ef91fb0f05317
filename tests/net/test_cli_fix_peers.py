"""`tuipacs echo`/`send` against peers that are not (proper) DICOM nodes, all on 127.0.0.1.

The peers are in-test: plain sockets that answer garbage, close or abort, and pynetdicom
AEs that reject us or offer no storage. Every failure must be one clear line on stderr.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from peers import make_ct_study
from pynetdicom import AE, AllStoragePresentationContexts
from pynetdicom.sop_class import Verification

pytestmark = pytest.mark.net

LOOPBACK = "127.0.0.1"
#: A-ABORT PDU, source 0 (service user), no reason.
A_ABORT = bytes([7, 0, 0, 0, 0, 4, 0, 0, 0, 0])


def run_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m tuipacs ARGS`` at default verbosity (generous timeout: a hang fails)."""
    env = {**os.environ, "TUIPACS_HOME": str(home)}
    env.pop("TUIPACS_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "tuipacs", *args],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )


class RawPeer:
    """A TCP server on 127.0.0.1 that reads the A-ASSOCIATE-RQ and then does `answer`.

    Connections stay open until the peer stops unless `answer` closes them, so the
    client cannot rely on the peer hanging up.
    """

    def __init__(self, answer: Callable[[socket.socket], None]) -> None:
        """Listen on a free port; serve in a thread."""
        self.answer = answer
        self.listener = socket.create_server((LOOPBACK, 0))
        self.listener.settimeout(0.2)
        self.port = int(self.listener.getsockname()[1])
        self.connections: list[socket.socket] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections.append(conn)
            conn.settimeout(30)
            try:
                conn.recv(65536)
                self.answer(conn)
            except OSError:
                pass

    def stop(self) -> None:
        """Stop accepting and close every connection."""
        self.stopped.set()
        self.thread.join(timeout=10)
        self.listener.close()
        for conn in self.connections:
            conn.close()


@pytest.fixture
def raw_peer() -> Iterator[Callable[[Callable[[socket.socket], None]], RawPeer]]:
    """Start RawPeers; all are stopped at the end of the test."""
    peers: list[RawPeer] = []

    def start(answer: Callable[[socket.socket], None]) -> RawPeer:
        peer = RawPeer(answer)
        peers.append(peer)
        return peer

    yield start
    for peer in peers:
        peer.stop()


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a failed command (no stray log lines)."""
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tuipacs: error: ")
    return lines[0]


def test_echo_to_an_http_answer(
    tuipacs_home: Path, raw_peer: Callable[[Callable[[socket.socket], None]], RawPeer]
) -> None:
    peer = raw_peer(lambda conn: conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n"))
    line = _one_error_line(run_cli(tuipacs_home, "echo", f"PACS@{LOOPBACK}:{peer.port}"))
    assert f"the peer at {LOOPBACK}:{peer.port} did not answer as a DICOM node" in line
    assert "'HTTP/1.1 400 Bad Request'" in line and "DICOM port" in line


def test_echo_to_a_few_garbage_bytes(
    tuipacs_home: Path, raw_peer: Callable[[Callable[[socket.socket], None]], RawPeer]
) -> None:
    # fewer bytes than a PDU header, then silence: recognised from the first byte
    peer = raw_peer(lambda conn: conn.sendall(b"ERR"))
    started = time.monotonic()
    line = _one_error_line(run_cli(tuipacs_home, "echo", f"PACS@{LOOPBACK}:{peer.port}"))
    assert "did not answer as a DICOM node: it sent non-DICOM data ('ERR')" in line
    # not after waiting out the 30 s node timeout (the quick echo once read on for a header)
    assert time.monotonic() - started < 20


def test_echo_to_a_peer_that_hangs_up(
    tuipacs_home: Path, raw_peer: Callable[[Callable[[socket.socket], None]], RawPeer]
) -> None:
    peer = raw_peer(lambda conn: conn.close())
    line = _one_error_line(run_cli(tuipacs_home, "echo", f"PACS@{LOOPBACK}:{peer.port}"))
    assert "closed the connection without answering the association request" in line
    assert "connection failed" not in line


def test_echo_to_a_peer_that_aborts(
    tuipacs_home: Path, raw_peer: Callable[[Callable[[socket.socket], None]], RawPeer]
) -> None:
    peer = raw_peer(lambda conn: conn.sendall(A_ABORT))
    line = _one_error_line(run_cli(tuipacs_home, "echo", f"PACS@{LOOPBACK}:{peer.port}"))
    assert f"PACS@{LOOPBACK}:{peer.port} aborted the association request" in line
    assert "did not answer" not in line


@pytest.fixture
def dicom_file(tmp_path: Path) -> Path:
    """One small CT file to send."""
    return make_ct_study(tmp_path / "send", slices=1, size=16)[1][0]


def _serve(ae: AE) -> Iterator[int]:
    """Run `ae` as an SCP on a free loopback port; yield the port, stop it afterwards."""
    server = ae.start_server((LOOPBACK, 0), block=False)
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()


@pytest.fixture
def rejecting_scp() -> Iterator[int]:
    """A storage SCP that only accepts the calling AE title OTHER."""
    ae = AE("PACS")
    ae.supported_contexts = AllStoragePresentationContexts
    ae.require_calling_aet = ["OTHER"]
    yield from _serve(ae)


@pytest.fixture
def echo_only_scp() -> Iterator[int]:
    """An SCP that offers Verification only (no storage)."""
    ae = AE("PACS")
    ae.add_supported_context(Verification)
    yield from _serve(ae)


def test_send_to_an_archive_that_rejects_us(
    tuipacs_home: Path, rejecting_scp: int, dicom_file: Path
) -> None:
    line = _one_error_line(
        run_cli(tuipacs_home, "send", f"PACS@{LOOPBACK}:{rejecting_scp}", str(dicom_file))
    )
    assert line.endswith("(nothing was sent)")
    address = f"PACS@{LOOPBACK}:{rejecting_scp}"
    assert f"{address} rejected the association" in line
    assert f"({address})" not in line  # the address is not repeated as a name
    assert "our AE title 'TUIPACS' is not allowed" in line


def test_send_to_an_archive_without_storage(
    tuipacs_home: Path, echo_only_scp: int, dicom_file: Path
) -> None:
    line = _one_error_line(
        run_cli(tuipacs_home, "send", f"PACS@{LOOPBACK}:{echo_only_scp}", str(dicom_file))
    )
    assert line.endswith("(nothing was sent)")
    assert "none of the services we proposed" in line and "storage" in line
    assert "query/retrieve archive" not in line


def test_send_to_an_unknown_node(tuipacs_home: Path, dicom_file: Path) -> None:
    line = _one_error_line(run_cli(tuipacs_home, "send", "nowhere", str(dicom_file)))
    assert "unknown node 'nowhere'" in line and "tuipacs node add" in line


@pytest.fixture
def keeping_scp() -> Iterator[tuple[int, list[tuple[str, str]]]]:
    """A storage SCP that keeps (SOP Instance UID, transfer syntax) of what it receives."""
    from pynetdicom import evt

    received: list[tuple[str, str]] = []

    def on_store(event: evt.Event) -> int:
        received.append(
            (str(event.request.AffectedSOPInstanceUID), str(event.context.transfer_syntax))
        )
        return 0x0000

    ae = AE("PACS")
    ae.supported_contexts = AllStoragePresentationContexts
    server = ae.start_server((LOOPBACK, 0), block=False, evt_handlers=[(evt.EVT_C_STORE, on_store)])
    try:
        yield int(server.server_address[1]), received
    finally:
        server.shutdown()


def test_send_files_in_explicit_and_implicit_vr_together(
    tuipacs_home: Path, keeping_scp: tuple[int, list[tuple[str, str]]], tmp_path: Path
) -> None:
    """Each file goes in its own syntax, even to a peer that prefers Implicit VR."""
    from pydicom import dcmread
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

    port, received = keeping_scp
    explicit, implicit = make_ct_study(tmp_path / "mixed", slices=2, size=16)[1]
    ds = dcmread(implicit)
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    ds.save_as(implicit, implicit_vr=True, little_endian=True)
    assert dcmread(explicit).file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    result = run_cli(tuipacs_home, "send", f"PACS@{LOOPBACK}:{port}", str(explicit), str(implicit))
    assert result.returncode == 0, result.stderr
    want = {
        (str(dcmread(explicit).SOPInstanceUID), ExplicitVRLittleEndian),
        (str(dcmread(implicit).SOPInstanceUID), ImplicitVRLittleEndian),
    }
    assert set(received) == want


def test_a_refused_file_says_what_the_status_means(tuipacs_home: Path, dicom_file: Path) -> None:
    from pynetdicom import evt

    ae = AE("PACS")
    ae.supported_contexts = AllStoragePresentationContexts
    handlers = [(evt.EVT_C_STORE, lambda event: 0xA700)]
    server = ae.start_server((LOOPBACK, 0), block=False, evt_handlers=handlers)
    try:
        port = int(server.server_address[1])
        result = run_cli(tuipacs_home, "send", f"PACS@{LOOPBACK}:{port}", str(dicom_file))
    finally:
        server.shutdown()
    assert result.returncode == 1
    assert "refused, out of resources (0xA700): the archive is out of resources" in result.stderr
