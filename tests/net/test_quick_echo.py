"""`tuipacs echo` without pydicom: the quick C-ECHO against real archives (Orthanc,
dcmqrscp), the modules the command loads, and hostile answers that send it back to the
full echo (whose one-line errors are checked in test_cli_fix_peers)."""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from peers import RemoteArchive

from tuipacs.dicom.nodes import LocalAE, Node
from tuipacs.remote import quick_echo
from tuipacs.remote.quick_echo import Unsure

#: Modules `tuipacs echo` must not load (none is needed to verify a node).
HEAVY = ("pydicom", "pynetdicom", "numpy", "textual", "PIL")


def test_echo_loads_neither_pydicom_nor_textual(tuipacs_home: Path, archive: RemoteArchive) -> None:
    node = archive.node
    (tuipacs_home / "config.toml").write_text(
        f'ae_title = "TUIPACS"\n[nodes.pacs]\nae_title = "{node.ae_title}"\n'
        f'host = "127.0.0.1"\nport = {node.port}\n',
        encoding="utf-8",
    )
    env = {"TUIPACS_HOME": str(tuipacs_home), "PATH": "/usr/bin:/bin"}  # default transport
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "tuipacs", "echo", "pacs", "--json"],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["ok"] is True and result["status"] == "success (0x0000)"
    loaded = {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert len(loaded) > 20, done.stderr[-500:]  # the listing is there
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY)
    assert heavy == []


def _peer(answer: bytes) -> tuple[socket.socket, threading.Thread]:
    """A one-shot listener that reads the association request and sends ``answer``."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        with conn, contextlib.suppress(OSError):
            conn.recv(65536)
            conn.sendall(answer)
            conn.recv(65536)  # until the client gives up

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener, thread


@pytest.mark.parametrize(
    "answer",
    [
        struct.pack(">BBI", 0x02, 0, 0x7FFFFFF0),  # an AC claiming 2 GB: never allocated
        struct.pack(">BBI", 0x03, 0, 4) + bytes([0, 1, 1, 3]),  # a rejection
        struct.pack(">BBI", 0x02, 0, 70) + bytes(70),  # an AC without our context
        b"HTTP/1.1 400 Bad Request\r\n\r\n",
    ],
    ids=["huge", "rejected", "no-context", "http"],
)
def test_anything_but_the_expected_exchange_is_left_to_the_full_echo(answer: bytes) -> None:
    listener, thread = _peer(answer)
    port = listener.getsockname()[1]
    node = Node("x", "PACS", "127.0.0.1", port, timeout=5)
    try:
        with pytest.raises(Unsure):
            quick_echo.quick_echo(node, LocalAE("TUIPACS"))
    finally:
        listener.close()
        thread.join(10)


def test_the_response_parser_checks_what_it_reads() -> None:
    """Only our C-ECHO-RSP in one whole command fragment gives a status."""

    def pdv(command: bytes, header: int = 0x03) -> bytes:
        return struct.pack(">IBB", len(command) + 2, 1, header) + command

    def element(tag: int, value: bytes) -> bytes:
        return struct.pack("<HHI", 0, tag, len(value)) + value

    good = element(0x0100, b"\x30\x80") + element(0x0120, b"\x01\x00")
    assert quick_echo.echo_status(pdv(good + element(0x0900, b"\x00\x00"))) == 0
    with pytest.raises(Unsure):  # a data set fragment, not a command
        quick_echo.echo_status(pdv(good + element(0x0900, b"\x00\x00"), header=0x02))
    with pytest.raises(Unsure):  # an element running past the end
        quick_echo.echo_status(pdv(good + struct.pack("<HHI", 0, 0x0900, 1000)))
    with pytest.raises(Unsure):  # another message's response
        quick_echo.echo_status(pdv(element(0x0100, b"\x30\x80") + element(0x0120, b"\x02\x00")))
    with pytest.raises(Unsure):
        quick_echo.echo_status(b"\x00\x00")


def test_the_quick_echo_announces_itself_as_the_full_echo_does() -> None:
    """The implementation UID and version are written out to avoid importing pynetdicom: they
    must follow pynetdicom when it is upgraded."""
    import pynetdicom

    assert quick_echo.IMPLEMENTATION_UID.decode() == pynetdicom.PYNETDICOM_IMPLEMENTATION_UID
    assert (
        quick_echo.IMPLEMENTATION_VERSION.decode() == pynetdicom.PYNETDICOM_IMPLEMENTATION_VERSION
    )
