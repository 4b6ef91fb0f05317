"""The transport switch (TUIPACS_TRANSPORT): each transport gets its DUL, the safety layer
stays on in both.

Against an in-process Storage SCP on 127.0.0.1 (tuipacs' own, port 0): both ends of an
association are ours, so both the requestor's and the acceptor's tuning can be seen.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom.uid import CTImageStorage
from pynetdicom.presentation import build_context

from tuipacs.dicom import net
from tuipacs.dicom.nodes import LocalAE, Node
from tuipacs.dicom.storage import StorageServer, StoreHandler
from tuipacs.dicom.transport import assoc_reactor, mode, selected
from tuipacs.dicom.transport.fast_dul import FastDUL
from tuipacs.dicom.transport.safe_dul import SafeDUL
from tuipacs.dicom.transport.waits import bounded_get_msg


@pytest.fixture
def server(tmp_path: Path) -> Iterator[StorageServer]:
    """A Storage SCP of ours on a free port (stopped at the end)."""
    local = LocalAE("SCP", port=0, bind_host="127.0.0.1", spool_dir=tmp_path / "spool")
    scp = StorageServer(local, StoreHandler(lambda path, instance: None)).start()
    try:
        yield scp
    finally:
        scp.stop()


def test_switch_reads_the_environment(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("TUIPACS_TRANSPORT", raising=False)
    assert selected() == "fast"
    monkeypatch.setenv("TUIPACS_TRANSPORT", " Stock ")
    assert selected() == "stock"
    monkeypatch.setenv("TUIPACS_TRANSPORT", "fast")
    assert selected() == "fast"
    mode._warned.discard("turbo")
    monkeypatch.setenv("TUIPACS_TRANSPORT", "turbo")
    with caplog.at_level(logging.WARNING, logger="tuipacs.dicom.transport.mode"):
        assert selected() == "fast" and selected() == "fast"
    assert [r.getMessage() for r in caplog.records] == [
        "TUIPACS_TRANSPORT=turbo is not 'fast' or 'stock': using 'fast'"
    ]


@pytest.mark.parametrize("transport", ["fast", "stock"])
def test_each_transport_has_its_dul_and_the_safety_layer(
    transport: str, server: StorageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUIPACS_TRANSPORT", transport)
    node = Node("scp", "SCP", "127.0.0.1", server.port, timeout=10)
    assoc = net.associate(node, LocalAE("SCU"), [build_context(CTImageStorage)])
    try:
        accepted = _accepted(server)
        for end in (assoc, accepted):
            dul = end.dul
            assert isinstance(dul, SafeDUL)  # bounded reading and the guard, both transports
            assert isinstance(dul, FastDUL) is (transport == "fast")
            assert end.dimse.get_msg.func is bounded_get_msg
            assert end._run_reactor.__func__ is assoc_reactor._run_reactor
    finally:
        net.close(assoc)


def _accepted(server: StorageServer) -> object:
    """The server's side of the only association (waits for it to be set up)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        active = list(server._server.active_associations) if server._server else []
        if active:
            return active[0]
        threading.Event().wait(0.01)
    raise AssertionError("the server never accepted the association")
