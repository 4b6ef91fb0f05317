"""Bad C-STORE requests and a full disk get a failure status, and the association goes on.

Before, a non-ASCII SOP Instance UID, a command set over 65,535 bytes and a write error
on a full disk ended in A-ABORT: a sender such as dcmsend then never tried its remaining
images. The requests are built by hand (servekit.RawStore) and sent to a real
``tuipacs serve``; after each refused one, a normal C-STORE on the same association must
succeed.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from peers import tmpfs_prefix
from pydicom.uid import generate_uid
from servekit import (
    LOOPBACK,
    RawStore,
    ServerProcess,
    command_element,
    ct_dataset,
    store_command,
    wait_indexed,
)

from tuipacs.config import Config
from tuipacs.dicom.transport import chunked, spool
from tuipacs.server import ArchiveServer
from tuipacs.store.archive import Archive

CANNOT_UNDERSTAND = 0xC000
OUT_OF_RESOURCES = 0xA700


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A fresh server (subprocess) on an empty archive."""
    proc = ServerProcess.start(tmp_path / "home")
    try:
        yield proc
    finally:
        proc.stop()


def store_ok(raw: RawStore, message_id: int) -> str:
    """A normal C-STORE on `raw`'s association must succeed; returns its SOP Instance UID."""
    uid = generate_uid()
    status = raw.store(store_command(uid.encode(), message_id), ct_dataset(uid))
    assert status == 0x0000
    return uid


def test_non_ascii_sop_instance_uid_gets_a_failure_status(server: ServerProcess) -> None:
    raw = RawStore(server.port)
    try:
        bad = "1.2.3.4.\u00e9".encode("latin-1")
        assert raw.store(store_command(bad, 1), ct_dataset("1.2.3.4.5")) == CANNOT_UNDERSTAND
        assert raw.established
        uid = store_ok(raw, 2)
    finally:
        raw.close()
    assert uid in wait_indexed(server.archive_root, 1)
    assert server.wait_log("invalid SOP Instance UID '1.2.3.4.\\xe9'"), server.log[-2000:]
    assert "aborting" not in server.log


@pytest.mark.parametrize("where", ["uid", "extra element"])
def test_command_set_over_65535_bytes_gets_a_failure_status(
    server: ServerProcess, where: str
) -> None:
    """Too long by a UID of 70,000 characters, or by an element we do not know."""
    raw = RawStore(server.port)
    try:
        if where == "uid":
            command = store_command(b"1." + b"1" * 70000, 1)
        else:
            command = store_command(b"1.2.3.4.6", 1)
            body = command[12:] + command_element(0x5010, b"A" * 70000)
            command = command_element(0x0000, len(body).to_bytes(4, "little")) + body
        assert len(command) > 65535
        assert raw.store(command, ct_dataset("1.2.3.4.6")) == CANNOT_UNDERSTAND
        assert raw.established
        uid = store_ok(raw, 2)
    finally:
        raw.close()
    assert uid in wait_indexed(server.archive_root, 1)
    assert server.wait_log("sent a command set of"), server.log[-2000:]


def test_full_disk_while_receiving_gets_out_of_resources(tmp_path: Path) -> None:
    """The archive on a 72 MB tmpfs: an 80 MB dataset cannot be written (ENOSPC)."""
    home = tmp_path / "home"
    server = ServerProcess.start(home, wrap=tmpfs_prefix(home / "archive", 72))
    try:
        raw = RawStore(server.port)
        try:
            big = generate_uid()
            status = raw.store(store_command(big.encode(), 1), ct_dataset(big, 80_000_000))
            assert status == OUT_OF_RESOURCES
            assert raw.established
            store_ok(raw, 2)  # the space of the failed one is free again
        finally:
            raw.close()
        assert server.wait_log("the disk is full"), server.log[-2000:]
        assert "aborting" not in server.log and "Traceback" not in server.log
    finally:
        server.stop()


def test_spool_file_that_cannot_be_created_gets_out_of_resources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Creating the file a C-STORE is received into fails (an injected ENOSPC, on either
    transport's receive): 0xA700, and the association goes on.

    Before, on pynetdicom's own receive (the stock transport) the error escaped into its
    state machine, which stopped the association without an answer; on the fast path the
    error kept (with its traceback) views of the receive buffer, which then could not grow
    for the rest of the dataset (BufferError): the association was aborted."""
    failing = [True]
    real_temporary = chunked._real_named_temporary_file

    def no_space(*args: Any, **kwargs: Any) -> Any:
        if failing[0]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_temporary(*args, **kwargs)

    def no_space_open(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if failing[0] and "x" in mode:
            raise OSError(errno.ENOSPC, "No space left on device")
        return open(path, mode, *args, **kwargs)

    monkeypatch.setattr(chunked, "_real_named_temporary_file", no_space)
    monkeypatch.setattr(spool, "open", no_space_open, raising=False)
    archive = Archive.open(tmp_path / "archive")
    try:
        with ArchiveServer(archive, Config(), port=0, bind=LOOPBACK) as server:
            raw = RawStore(server.port)
            try:
                big = generate_uid()
                status = raw.store(store_command(big.encode(), 1), ct_dataset(big, 300_000))
                assert status == OUT_OF_RESOURCES
                assert raw.established
                failing[0] = False
                store_ok(raw, 2)
            finally:
                raw.close()
            server.inbox.flush()
        assert archive.usage().instances == 1
    finally:
        archive.close()
